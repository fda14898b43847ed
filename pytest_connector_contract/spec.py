"""The contract as data: statuses, transition tables per profile, and the catalogue of checks.

Everything here is read from ``spec.json`` (shipped in the package). Both the conformance suite and the
reference target read it, so an expectation is written down exactly once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "Check",
    "KnownDeviation",
    "Profile",
    "Spec",
    "ValidationCase",
    "load_spec",
    "parse_version",
]


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"8.15.0"`` -> ``(8, 15, 0)``; ``"9.1.0-SNAPSHOT"`` -> ``(9, 1, 0)``; anything else -> None."""
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True)
class VersionRange:
    """Half-open range ``[min, below)``; either bound may be absent."""

    min: tuple[int, int, int] | None = None
    below: tuple[int, int, int] | None = None

    @classmethod
    def from_data(cls, data: dict[str, str]) -> VersionRange:
        return cls(
            min=parse_version(data["min"]) if "min" in data else None,
            below=parse_version(data["below"]) if "below" in data else None,
        )

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, tuple):
            return False
        if self.min is not None and version < self.min:
            return False
        return not (self.below is not None and version >= self.below)


@dataclass(frozen=True)
class Profile:
    """One Elasticsearch behaviour family: which status may follow which."""

    name: str
    description: str
    source: str
    applies_to: VersionRange
    transitions: dict[str, frozenset[str]]

    def allows(self, current: str, requested: str) -> bool:
        return requested in self.transitions.get(current, frozenset())


@dataclass(frozen=True)
class KnownDeviation:
    """A place where a stock Elasticsearch release itself departs from the documented contract."""

    check: str
    applies_to: VersionRange
    observed_http: int
    reason: str


@dataclass(frozen=True)
class ValidationCase:
    id: str
    statement: str
    request: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One entry of the catalogue: a stable id, what it requires and where the requirement comes from."""

    id: str
    kind: str  # transition | validation | not_found | response | explore | race | privileges
    category: str
    statement: str
    source: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Spec:
    raw: dict[str, Any] = field(repr=False, hash=False, compare=False)
    statuses: tuple[str, ...]
    profiles: dict[str, Profile]
    newest_profile: str
    minimum_version: tuple[int, int, int]
    setup_paths: dict[str, tuple[str, ...]]
    validation_cases: tuple[ValidationCase, ...]
    known_deviations: tuple[KnownDeviation, ...]
    checks: tuple[Check, ...]
    #: sha256 of spec.json, for provenance in reports
    digest: str = ""
    #: checks beyond the default suite, collected only under the option that enables them (``race``,
    #: ``privileges``); the exploration walks are numbered per run, see :meth:`explore_checks`
    optional_checks: tuple[Check, ...] = ()

    def profile_for_version(self, version: tuple[int, int, int]) -> Profile | None:
        """The profile whose range holds ``version``; None when it is older than every profile."""
        for profile in self.profiles.values():
            if version in profile.applies_to:
                return profile
        return None

    def check(self, check_id: str) -> Check:
        for check in (*self.checks, *self.optional_checks):
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def explore_checks(self, walks: int, seed: int) -> tuple[Check, ...]:
        """``explore[1]`` .. ``explore[walks]``: one random walk each, all derived from the run's ``seed``."""
        section = self.raw["explore"]
        return tuple(
            Check(
                id=f"explore[{walk}]",
                kind="explore",
                category=section["category"],
                statement=section["statement"],
                source=section["source"],
                params={"walk": walk, "seed": seed},
            )
            for walk in range(1, walks + 1)
        )

    def deviation_for(self, check_id: str, version: tuple[int, int, int] | None) -> KnownDeviation | None:
        for deviation in self.known_deviations:
            if deviation.check == check_id and version in deviation.applies_to:
                return deviation
        return None


def transition_id(current: str, requested: str) -> str:
    return f"transition[{current}->{requested}]"


def _build_checks(raw: dict[str, Any], statuses: tuple[str, ...]) -> tuple[Check, ...]:
    checks: list[Check] = []
    transition = raw["transition"]
    for current in statuses:
        for requested in statuses:
            checks.append(
                Check(
                    id=transition_id(current, requested),
                    kind="transition",
                    category=transition["category"],
                    statement=(
                        f"PUT _status with {requested!r} on a connector in {current!r} is accepted or "
                        "refused as the profile's state machine says, and a refusal changes nothing."
                    ),
                    source=transition["source"],
                    params={"from": current, "to": requested},
                )
            )
    validation = raw["validation"]
    for case in raw["validation_cases"]:
        checks.append(
            Check(
                id=f"validation[{case['id']}]",
                kind="validation",
                category=validation["category"],
                statement=case["statement"],
                source=validation["source"],
                params={"case": case["id"]},
            )
        )
    for kind in ("not_found", "response"):
        section = raw[kind]
        for case in section["cases"]:
            checks.append(
                Check(
                    id=f"{kind}[{case['id']}]",
                    kind=kind,
                    category=section["category"],
                    statement=case["statement"],
                    source=section["source"],
                    params={"case": case["id"]},
                )
            )
    return tuple(checks)


def _build_optional_checks(raw: dict[str, Any]) -> tuple[Check, ...]:
    checks: list[Check] = []
    race = raw["race"]
    for case in race["cases"]:
        checks.append(
            Check(
                id=f"race[{case['id']}]",
                kind="race",
                category=race["category"],
                statement=race["statement_template"].format(
                    **{"from": repr(case["from"]), "to": " and ".join(repr(s) for s in case["to"])}
                ),
                source=race["source"],
                params={"case": case["id"], "from": case["from"], "to": list(case["to"])},
            )
        )
    privileges = raw["privileges"]
    for case in privileges["cases"]:
        checks.append(
            Check(
                id=f"privileges[{case['id']}]",
                kind="privileges",
                category=privileges["category"],
                statement=case["statement"],
                source=privileges["source"],
                params={"case": case["id"], "from": case["from"], "to": case["to"]},
            )
        )
    return tuple(checks)


@cache
def load_spec() -> Spec:
    """Load and index the packaged ``spec.json`` (once per process)."""
    text = resources.files(__package__).joinpath("spec.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    statuses = tuple(raw["statuses"])
    profiles = {
        name: Profile(
            name=name,
            description=data["description"],
            source=data["source"],
            applies_to=VersionRange.from_data(data["applies_to"]),
            transitions={k: frozenset(v) for k, v in data["transitions"].items()},
        )
        for name, data in raw["profiles"].items()
    }
    minimum = parse_version(raw["minimum_version"])
    assert minimum is not None
    return Spec(
        raw=raw,
        statuses=statuses,
        profiles=profiles,
        newest_profile=raw["newest_profile"],
        minimum_version=minimum,
        setup_paths={k: tuple(v) for k, v in raw["setup_paths"].items()},
        validation_cases=tuple(
            ValidationCase(c["id"], c["statement"], c["request"], c["expect"]) for c in raw["validation_cases"]
        ),
        known_deviations=tuple(
            KnownDeviation(
                check=d["check"],
                applies_to=VersionRange.from_data(d["applies_to"]),
                observed_http=d["observed_http"],
                reason=d["reason"],
            )
            for d in raw["known_deviations"]
        ),
        checks=_build_checks(raw, statuses),
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        optional_checks=_build_optional_checks(raw),
    )
