"""The contract as data: statuses, transition tables per profile, and the catalogue of checks.

Everything here is read from ``spec.json`` (shipped in the package). Both the conformance suite and the
reference target read it, so an expectation is written down exactly once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pytest_connector_contract.contract.captures import Capture, CapturedRequest, load_captures

__all__ = [
    "NEWEST",
    "SUITE_NODE",
    "CaseRequest",
    "Check",
    "KnownDeviation",
    "Profile",
    "Spec",
    "TransitionExpectation",
    "ValidationCase",
    "VersionRange",
    "case_request",
    "check_case",
    "check_id",
    "deletes_softly",
    "expect_transition",
    "load_spec",
    "parse_version",
    "provenance_text",
    "selects",
    "source_label",
    "source_url",
    "transition_id",
]

#: the node id of the bundled suite: its items are ``connector-contract::<check id>`` in pytest and the reports
SUITE_NODE = "connector-contract"

#: The release a target counts as when it runs the newest code whatever number it reports (Serverless).
NEWEST: tuple[int, int, int] = (1_000_000, 0, 0)

#: One provenance entry, resolved: ``kind`` (source | test | derived), ``what``, and for source and test
#: entries ``repo``, ``path`` and ``commit``; ``releases`` where it backs a release-specific expectation.
Provenance = tuple[dict[str, str], ...]


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"8.15.0"`` -> ``(8, 15, 0)``; ``"9.1.0-SNAPSHOT"`` -> ``(9, 1, 0)``; anything else -> None."""
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def version_text(version: tuple[int, int, int]) -> str:
    """``(8, 15, 0)`` -> ``"8.15.0"``: the inverse of :func:`parse_version` for a release."""
    return ".".join(map(str, version))


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

    def text(self) -> str:
        """``8.13.0 to before 8.15.0``; ``8.15.2 and later``; ``before 8.15.0``."""
        low = version_text(self.min) if self.min else None
        high = version_text(self.below) if self.below else None
        if low and high:
            return f"{low} to before {high}"
        return f"{low} and later" if low else f"before {high}"

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
    applies_to: VersionRange
    transitions: dict[str, frozenset[str]]
    #: Cells whose answer the sources do not pin for this profile: a check accepts the acceptance and the
    #: refusal alike there (``transitions`` still says what the reference target does).
    unsure: dict[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, current: str, requested: str) -> bool:
        return requested in self.transitions.get(current, frozenset())

    def is_unsure(self, current: str, requested: str) -> bool:
        """Whether both answers pass for this transition (the source of the release is not pinned)."""
        return requested in self.unsure.get(current, frozenset())


@dataclass(frozen=True)
class KnownDeviation:
    """A place where a stock Elasticsearch release itself departs from the documented contract."""

    check: str
    applies_to: VersionRange
    observed_http: int
    reason: str
    provenance: Provenance = ()


@dataclass(frozen=True)
class ReleaseExpectation:
    """What a range of releases answers instead of the case's newest expectation."""

    applies_to: VersionRange
    expect: dict[str, Any]


@dataclass(frozen=True)
class CaseRequest:
    """A request to ``_connector/<id>/_status`` as it goes on the wire: see :func:`case_request`."""

    method: str
    query: dict[str, str] | None
    #: the body exactly as sent (JSON without spaces), None for none
    body: str | None
    #: None: no Content-Type header
    content_type: str | None
    #: None: no Accept header
    accept: str | None


def case_request(request: Mapping[str, Any]) -> CaseRequest:
    """The one reading of a request written as spec.json writes them (``json`` or ``raw`` body,
    ``content_type``, ``accept``, ``method``, ``query``): what goes on the wire, whoever sends it."""
    body = json.dumps(request["json"], separators=(",", ":")) if "json" in request else request.get("raw")
    return CaseRequest(
        method=request.get("method", "PUT"),
        query=request.get("query"),
        body=body,
        content_type=request.get("content_type", "application/json" if body is not None else None),
        accept=request.get("accept"),
    )


@dataclass(frozen=True)
class ValidationCase:
    id: str
    statement: str
    request: dict[str, Any]
    #: what the newest releases answer
    expect: dict[str, Any]
    #: the releases the case applies to at all (None: every release the suite supports)
    applies_to: VersionRange | None = None
    #: older releases that answer differently, oldest first
    by_release: tuple[ReleaseExpectation, ...] = ()

    def expect_for(self, release: tuple[int, int, int]) -> dict[str, Any]:
        """The expectation for ``release`` (see :meth:`TargetInfo.release`)."""
        for entry in self.by_release:
            if release in entry.applies_to:
                return entry.expect
        return self.expect

    def applies(self, release: tuple[int, int, int]) -> bool:
        return self.applies_to is None or release in self.applies_to


@dataclass(frozen=True)
class Check:
    """One entry of the catalogue: a stable id, what it requires and where the requirement comes from."""

    id: str
    #: transition, validation, not_found, response, unchanged, client, explore, race, privileges or official_client
    kind: str
    category: str
    statement: str
    #: where each expectation of the check comes from (an Elasticsearch file at a commit, an Elastic test,
    #: or "derived" with the reasoning); never empty
    provenance: Provenance = field(default=(), hash=False, compare=False)
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def source(self) -> str:
        """The provenance as one line of text, for the terminal and JUnit."""
        return provenance_text(self.provenance)

    def identity(self) -> dict[str, Any]:
        """What every report says of the check, whatever became of it: id, category, statement, provenance."""
        return {
            "id": self.id,
            "category": self.category,
            "statement": self.statement,
            "source": self.source,
            "provenance": [dict(entry) for entry in self.provenance],
        }


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
    #: how a connector that ``_error`` left in ``error`` reaches each status (``setup_paths`` start at created)
    setup_paths_from_error: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def profile_for_version(self, version: tuple[int, int, int]) -> Profile | None:
        """The profile whose range holds ``version``; None when it is older than every profile."""
        for profile in self.profiles.values():
            if version in profile.applies_to:
                return profile
        return None

    def explore_checks(self, walks: int, seed: int) -> tuple[Check, ...]:
        """``explore[1]`` .. ``explore[walks]``: one random walk each, all derived from the run's ``seed``."""
        section = self.raw["explore"]
        return tuple(
            Check(
                id=check_id("explore", str(walk)),
                kind="explore",
                category=section["category"],
                statement=section["statement"],
                provenance=_resolve(self.raw, section["provenance"]),
                params={"walk": walk, "seed": seed},
            )
            for walk in range(1, walks + 1)
        )

    def official_client_checks(self, majors: Sequence[int] = ()) -> tuple[Check, ...]:
        """``official_client[python/<option>/<case>]``: the checks that drive the installed official Python
        client, one per option and case. ``majors``: the majors of the clients installed side by side when
        there are two or more (``official_client[python-9/...]`` each); one client, or none, is ``python``.
        Ids name majors at most, never a client's version, so that a baseline survives a client upgrade."""
        section = self.raw["official_client"]
        clients: list[tuple[str, int | None]] = (
            [(f"python-{major}", major) for major in majors] if len(majors) > 1 else [("python", None)]
        )
        tolerated: Provenance = ()
        for warning in section["tolerated_warnings"]:
            tolerated += _resolve(self.raw, warning["provenance"])
        checks = []
        for label, major in clients:
            for option in section["options"]:
                for case in section["cases"]:
                    checks.append(
                        Check(
                            id=check_id("official_client", f"{label}/{option['id']}/{case['id']}"),
                            kind="official_client",
                            category=section["category"],
                            statement=section["statement_template"].format(
                                client="" if major is None else f" {major}.x",
                                option=option["what"],
                                case=case["what"],
                            ),
                            provenance=_resolve(self.raw, option.get("provenance", []))
                            + _resolve(self.raw, section["provenance"])
                            + tolerated,
                            params={
                                "client": label,
                                "major": major,
                                "option": option["id"],
                                "case": case["id"],
                                "from": case.get("from"),
                                "to": case["to"],
                            },
                        )
                    )
        return tuple(checks)

    def has_check(self, check_id: str) -> bool:
        """Whether some run can have a check of this id: the default suite, an optional check, or a walk.

        The baseline names checks of any kind, so it accepts every id a run can report, whichever options
        that run enables (``explore[N]`` for any number of walks) and whichever official clients are installed
        (``official_client[python/...]`` or ``official_client[python-<major>/...]``).
        """
        if _EXPLORE_ID.fullmatch(check_id):
            return True
        official = _OFFICIAL_CLIENT_ID.fullmatch(check_id)
        if official is not None:
            return any(
                check.id == f"official_client[python/{official['case']}]" for check in self.official_client_checks()
            )
        return any(check.id == check_id for check in (*self.checks, *self.optional_checks))

    def deviation_for(self, check_id: str, version: tuple[int, int, int] | None) -> KnownDeviation | None:
        for deviation in self.known_deviations:
            if deviation.check == check_id and version in deviation.applies_to:
                return deviation
        return None


#: from this release on a plain DELETE _connector/<id> only marks the connector deleted (``?hard=true`` removes it)
SOFT_DELETE_SINCE = (9, 0, 0)


def deletes_softly(version: tuple[int, int, int] | None, build_flavor: str | None) -> bool | None:
    """Whether a target of ``version`` keeps deleted connectors (Serverless runs the newest code); None when
    the version is unknown. The one place the suite, the sweep and the reference target decide it."""
    if build_flavor == "serverless":
        return True
    return None if version is None else version >= SOFT_DELETE_SINCE


def selects(selector: str, check_id: str) -> bool:
    """Whether a selector from the command line (``transition[created->``, or a whole id) names ``check_id``:
    the one rule for choosing checks by id or id prefix. An empty selector names nothing."""
    return bool(selector) and check_id.startswith(selector)


#: the id of an exploration walk: ``explore[1]``, ``explore[2]``, ...
_EXPLORE_ID = re.compile(r"explore\[[1-9][0-9]*\]")
#: the id of an official client check, with or without the client's major: ``official_client[python-9/plain/refused]``
_OFFICIAL_CLIENT_ID = re.compile(r"official_client\[python(?:-[1-9][0-9]*)?/(?P<case>[^\]]+)\]")


def check_id(kind: str, case: str) -> str:
    """``validation[unknown-value]``: the one rule for writing a check id (see :func:`check_case`)."""
    return f"{kind}[{case}]"


def check_case(check_id: str) -> str:
    """What a check id names within its kind: ``created->error`` of ``transition[created->error]``."""
    return check_id.partition("[")[2].removesuffix("]")


def transition_id(current: str, requested: str) -> str:
    return check_id("transition", f"{current}->{requested}")


@dataclass(frozen=True)
class TransitionExpectation:
    """What Elasticsearch answers to ``PUT _connector/<id>/_status`` with ``requested`` on a connector in
    ``current``, under one profile: built by :func:`expect_transition`, the one rule every check, walk and
    benchmark that predicts a transition follows."""

    current: str
    requested: str
    #: whether the profile's state machine accepts the transition
    accepted: bool
    #: the HTTP status of the answer
    http: int
    #: the status the connector holds afterwards (a refusal changes nothing)
    status_after: str
    #: an accepted transition's ``result`` words (``noop`` may answer a self-transition); empty when refused
    results: tuple[str, ...] = ()
    #: a refusal's error type, the type of its cause and the part of its reason that names both statuses
    error_type: str | None = None
    caused_by_type: str | None = None
    reason_contains: str | None = None
    #: the profile does not pin this release's answer (spec.json ``unsure``): the other answer passes too
    unsure: bool = False
    #: for an unsure cell, the expectation of the other answer
    other: TransitionExpectation | None = None

    def for_answer(self, http: int) -> TransitionExpectation:
        """The expectation an answer is held to: this one, or for an unsure cell the one whose kind of answer
        (accepted or refused) was given."""
        if self.other is not None and (http == self.other.http) != (http == self.http):
            return self.other if http == self.other.http else self
        return self

    def describe(self) -> str:
        """What the check expects, as its report's ``expected`` says it."""
        if self.other is not None:
            return f"either {self._text()}, or {self.other._text()} (this release's answer is not pinned)"
        return self._text()

    def _text(self) -> str:
        if self.accepted:
            results = " or ".join(self.results)
            return f"HTTP {self.http} result {results}, GET shows {self.requested!r}, other fields unchanged"
        return (
            f"HTTP {self.http} {self.error_type} naming both statuses, caused by {self.caused_by_type}, "
            "connector unchanged"
        )

    @property
    def word(self) -> str:
        """``accepted`` or ``refused``, as the matrix of the reports shows a cell."""
        return "accepted" if self.accepted else "refused"


def expect_transition(
    spec: Spec, profile: Profile, current: str, requested: str, *, strict_results: bool = False
) -> TransitionExpectation:
    """The answer to ``current -> requested`` under ``profile``, from the spec's ``transition`` section; for a
    cell the profile marks unsure, the profile's answer with the other one beside it. ``strict_results``
    (``--connector-strict-results``): a valid self-transition must answer the one result Elasticsearch writes
    (``noop``), not any of the tolerated ones."""
    allowed = profile.allows(current, requested)
    expectation = _transition_answer(spec, current, requested, allowed, strict_results)
    if not profile.is_unsure(current, requested):
        return expectation
    other = _transition_answer(spec, current, requested, not allowed, strict_results)
    return dataclasses.replace(expectation, unsure=True, other=other)


def _transition_answer(
    spec: Spec, current: str, requested: str, accepted: bool, strict_results: bool
) -> TransitionExpectation:
    rules = spec.raw["transition"]
    if accepted:
        rule = rules["accepted"]
        key = "result" if current != requested else "strict_self_result" if strict_results else "self_result"
        results = tuple(rule[key])
        return TransitionExpectation(current, requested, True, rule["http"], requested, results=results)
    refused = rules["refused"]
    return TransitionExpectation(
        current,
        requested,
        False,
        refused["http"],
        current,
        error_type=refused["error_type"],
        caused_by_type=refused["caused_by_type"],
        reason_contains=refused["reason_template"].format(**{"from": current, "to": requested}),
    )


def source_label(entry: Mapping[str, str]) -> str:
    """``ConnectorStateMachine.java@20435b91``: a source or test entry's file name at its commit."""
    return f"{entry['path'].rsplit('/', 1)[-1]}@{entry['commit'][:8]}"


def source_url(entry: Mapping[str, str]) -> str | None:
    """The file at its commit on GitHub, for a source or test entry; None for a derived one."""
    if entry.get("kind") == "derived" or not entry.get("repo"):
        return None
    return f"https://github.com/{entry['repo']}/blob/{entry['commit']}/{entry['path']}"


def provenance_text(provenance: Provenance) -> str:
    """``ConnectorStateMachine.java@20435b91 (elastic/elasticsearch); derived: ...`` on one line."""
    parts = []
    for entry in provenance:
        if entry["kind"] == "derived":
            parts.append(f"derived: {entry['what']}")
        else:
            label = f"{source_label(entry)} ({entry['repo']})"
            parts.append(f"Elastic test {label}" if entry["kind"] == "test" else label)
        if "releases" in entry:
            parts[-1] += f" [{entry['releases']}]"
    return "; ".join(parts)


def _resolve(raw: dict[str, Any], entries: list[Any], releases: str | None = None) -> Provenance:
    """Provenance as written in spec.json (names of ``sources`` entries, or ``{"derived": reasoning}``)
    resolved into self-contained entries."""
    resolved: list[dict[str, str]] = []
    for entry in entries:
        if isinstance(entry, str):
            item = {"kind": raw["sources"][entry]["kind"], **raw["sources"][entry]}
        else:
            item = {"kind": "derived", "what": entry["derived"]}
        if releases is not None:
            item["releases"] = releases
        resolved.append(item)
    return tuple(resolved)


def _case_provenance(raw: dict[str, Any], section: dict[str, Any], case: dict[str, Any]) -> Provenance:
    """A case's own provenance, then its section's, then that of each release-specific expectation."""
    provenance = _resolve(raw, case.get("provenance", [])) + _resolve(raw, section.get("provenance", []))
    for entry in case.get("by_release", []):
        provenance += _resolve(raw, entry["provenance"], VersionRange.from_data(entry["applies_to"]).text())
    return provenance


def _deviation_provenance(raw: dict[str, Any], checked: str) -> Provenance:
    provenance: Provenance = ()
    for deviation in raw["known_deviations"]:
        if deviation["check"] == checked:
            releases = VersionRange.from_data(deviation["applies_to"]).text()
            provenance += _resolve(raw, deviation["provenance"], f"known deviation of {releases}")
    return provenance


def _build_checks(raw: dict[str, Any], statuses: tuple[str, ...]) -> tuple[Check, ...]:
    checks: list[Check] = []
    transition = raw["transition"]
    profile_provenance: Provenance = ()
    for name, profile in raw["profiles"].items():
        profile_provenance += _resolve(raw, profile["provenance"], f"profile {name}")
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
                    provenance=_resolve(raw, transition["provenance"]) + profile_provenance,
                    params={"from": current, "to": requested},
                )
            )
    validation = raw["validation"]
    for case in raw["validation_cases"]:
        validation_id = check_id("validation", case["id"])
        checks.append(
            Check(
                id=validation_id,
                kind="validation",
                category=validation["category"],
                statement=case["statement"],
                provenance=_case_provenance(raw, validation, case) + _deviation_provenance(raw, validation_id),
                params={"case": case["id"]},
            )
        )
    for kind in ("not_found", "response", "unchanged"):
        section = raw[kind]
        for case in section["cases"]:
            checks.append(
                Check(
                    id=check_id(kind, case["id"]),
                    kind=kind,
                    category=section["category"],
                    statement=case["statement"],
                    provenance=_case_provenance(raw, section, case),
                    params={key: case[key] for key in ("from", "to") if key in case} | {"case": case["id"]},
                )
            )
    return tuple(checks) + _client_wire_checks(raw)


def _client_wire_requirements(raw: dict[str, Any], request: CapturedRequest) -> list[dict[str, Any]]:
    """The requirements of spec.json's ``client`` section that apply to a captured request: those without a
    ``when``, and those whose header or query parameter the request carries."""
    params = {pair.partition("=")[0] for pair in request.query.split("&") if pair}
    applying = []
    for requirement in raw["client"]["requirements"]:
        when = requirement.get("when", {})
        if ("header" in when and request.header(when["header"]) is None) or (
            "param" in when and when["param"] not in params
        ):
            continue
        applying.append(requirement)
    return applying


def _client_wire_checks(raw: dict[str, Any]) -> tuple[Check, ...]:
    """One check per request shape the official clients send (``captures.json``): the preferred client's capture
    names a shape several clients share (``client[elasticsearch-py-9/compression/accepted]``)."""
    section = raw["client"]
    captures = sorted(load_captures(), key=lambda c: c.client != section["preferred_client"])
    shapes: dict[tuple[Any, ...], list[Capture]] = {}
    for capture in captures:
        shapes.setdefault(capture.request.shape, []).append(capture)
    checks = []
    for sharing in shapes.values():
        capture = sharing[0]
        requirements = _client_wire_requirements(raw, capture.request)
        clients = [c.label for c in sharing]
        statement = section["statement_template"].format(
            clients=" and ".join(clients),
            s="s" if len(clients) == 1 else "",
            option=capture.option,
            case=section["case_text"][capture.case],
            requirements="; ".join(r["statement"] for r in requirements),
        )
        provenance = _resolve(raw, section["provenance"])
        for requirement in requirements:
            provenance += tuple(e for e in _resolve(raw, requirement["provenance"]) if e not in provenance)
        checks.append(
            Check(
                id=check_id("client", f"{capture.label}/{capture.option}/{capture.case}"),
                kind="client",
                category=section["category"],
                statement=statement,
                provenance=provenance,
                params={"capture": list(capture.key), "requirements": [r["id"] for r in requirements]},
            )
        )
    return tuple(checks)


def _build_optional_checks(raw: dict[str, Any]) -> tuple[Check, ...]:
    checks: list[Check] = []
    race = raw["race"]
    for case in race["cases"]:
        checks.append(
            Check(
                id=check_id("race", case["id"]),
                kind="race",
                category=race["category"],
                statement=race["statement_template"].format(
                    **{"from": repr(case["from"]), "to": " and ".join(repr(s) for s in case["to"])}
                ),
                provenance=_case_provenance(raw, race, case),
                params={"case": case["id"], "from": case["from"], "to": list(case["to"])},
            )
        )
    privileges = raw["privileges"]
    for case in privileges["cases"]:
        checks.append(
            Check(
                id=check_id("privileges", case["id"]),
                kind="privileges",
                category=privileges["category"],
                statement=case["statement"],
                provenance=_case_provenance(raw, privileges, case),
                params={"case": case["id"], "from": case["from"], "to": case["to"]},
            )
        )
    return tuple(checks)


def _validation_case(raw: dict[str, Any], case: dict[str, Any]) -> ValidationCase:
    return ValidationCase(
        id=case["id"],
        statement=case["statement"],
        request=case["request"],
        expect=case["expect"],
        applies_to=VersionRange.from_data(case["applies_to"]) if "applies_to" in case else None,
        by_release=tuple(
            ReleaseExpectation(
                applies_to=VersionRange.from_data(entry["applies_to"]),
                expect=entry["expect"],
            )
            for entry in case.get("by_release", [])
        ),
    )


@cache
def load_spec() -> Spec:
    """Load and index the packaged ``spec.json`` (once per process)."""
    text = resources.files(__package__).joinpath("spec.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    statuses = tuple(raw["statuses"])
    profiles = {
        name: Profile(
            name=name,
            applies_to=VersionRange.from_data(data["applies_to"]),
            transitions={k: frozenset(v) for k, v in data["transitions"].items()},
            unsure={k: frozenset(v) for k, v in data.get("unsure", {}).items()},
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
        validation_cases=tuple(_validation_case(raw, c) for c in raw["validation_cases"]),
        known_deviations=tuple(
            KnownDeviation(
                check=d["check"],
                applies_to=VersionRange.from_data(d["applies_to"]),
                observed_http=d["observed_http"],
                reason=d["reason"],
                provenance=_resolve(raw, d["provenance"]),
            )
            for d in raw["known_deviations"]
        ),
        checks=_build_checks(raw, statuses),
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        optional_checks=_build_optional_checks(raw),
        setup_paths_from_error={k: tuple(v) for k, v in raw["setup_paths_from_error"].items()},
    )
