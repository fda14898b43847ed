"""Who a target is: its ``GET /`` answer read once, the profile its release behaves as, and what a run keeps of it.

The one place that reads ``GET /`` (the preflight and the sweep), that maps a release to a profile (the
preflight and the reference target), and that names the oldest release the suite tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pytest_connector_contract.contract.spec import (
    NEWEST,
    Profile,
    Spec,
    deletes_softly,
    load_spec,
    parse_version,
    version_text,
)

__all__ = [
    "MINIMUM_RELEASE",
    "MINIMUM_VERSION",
    "PROFILE_NAMES",
    "SERVERLESS",
    "BelowMinimum",
    "Root",
    "TargetInfo",
    "choose_profile",
    "read_root",
]

#: the ``version.build_flavor`` of Elastic Cloud Serverless, which runs the newest code whatever number it reports
SERVERLESS = "serverless"
#: the first release with ``PUT _connector/<id>/_status`` (spec.json's ``minimum_version``), and as a release
#: line (``8.13``), as messages and options name it
MINIMUM_VERSION: tuple[int, int, int] = load_spec().minimum_version
MINIMUM_RELEASE = f"{MINIMUM_VERSION[0]}.{MINIMUM_VERSION[1]}"
#: the profiles of spec.json, oldest first
PROFILE_NAMES: tuple[str, ...] = tuple(load_spec().profiles)


class BelowMinimum(ValueError):
    """A release older than :data:`MINIMUM_VERSION`: it has no ``_status`` endpoint, so nothing to test."""

    def __init__(self, version: tuple[int, int, int]) -> None:
        super().__init__(
            f"Elasticsearch {version_text(version)} has no PUT _connector/<id>/_status "
            f"(it appeared in {version_text(MINIMUM_VERSION)})"
        )
        self.version = version


@dataclass(frozen=True)
class Root:
    """What the suite reads of ``GET /``: each field None when the answer does not carry it."""

    version: str | None = None
    build_flavor: str | None = None
    build_hash: str | None = None

    @property
    def version_tuple(self) -> tuple[int, int, int] | None:
        return parse_version(self.version) if self.version else None


def read_root(status: int, body: Any) -> Root:
    """``GET /`` answered ``status`` with the JSON ``body``: the version, build flavor and build hash it names
    (only a 200 names any)."""
    info = body if status == 200 and isinstance(body, dict) else {}
    data = info["version"] if isinstance(info.get("version"), dict) else {}

    def text(key: str) -> str | None:
        return data[key] if isinstance(data.get(key), str) else None

    return Root(version=text("number"), build_flavor=text("build_flavor"), build_hash=text("build_hash"))


def choose_profile(spec: Spec, version: tuple[int, int, int] | None, build_flavor: str | None) -> Profile | None:
    """The profile a release behaves as: Serverless counts as the newest (its number means nothing: it was
    pinned to 8.11.0 for years), a release below :data:`MINIMUM_VERSION` is refused with :class:`BelowMinimum`,
    and an unknown version has none (None)."""
    if build_flavor == SERVERLESS:
        return spec.profiles[spec.newest_profile]
    if version is None:
        return None
    if version < spec.minimum_version:
        raise BelowMinimum(version)
    found = spec.profile_for_version(version)
    if found is None:  # pragma: no cover - the spec covers everything from the minimum up
        raise ValueError(f"no profile for Elasticsearch {version_text(version)}")
    return found


@dataclass(frozen=True)
class TargetInfo:
    """What the preflight learnt of a target (or of the reference cluster), kept for the whole run."""

    url: str  # without credentials
    product: str | None
    version: str | None
    build_flavor: str | None
    profile: str
    profile_source: str  # "version", "serverless", "option"
    embedded: bool = False
    build_hash: str | None = None

    @property
    def version_tuple(self) -> tuple[int, int, int] | None:
        return parse_version(self.version) if self.version else None

    def release(self, spec: Spec) -> tuple[int, int, int]:
        """The release whose answers the expectations follow: Serverless runs the newest code whatever number
        it reports; an unknown version (no ``monitor``, ``--connector-profile`` given) counts as the oldest
        release of the chosen profile, whose known deviations then stay tolerated."""
        if self.build_flavor == SERVERLESS:
            return NEWEST
        version = self.version_tuple
        if version is not None:
            return version
        low = spec.profiles[self.profile].applies_to.min
        return low if low is not None else spec.minimum_version

    @property
    def soft_delete(self) -> bool | None:
        """Whether a plain DELETE only marks the connector deleted (9.0+); None when the version is unknown."""
        return deletes_softly(self.version_tuple, self.build_flavor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        return cls(**data)
