"""Where a result comes from: suite version, digests of the contract data, target identity, time, settings.

Every report carries the same facts (JSON ``provenance``, the HTML summary, JUnit testsuite properties), so a
result can be traced to the exact suite, profile data and target that produced it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pytest_connector_contract import __version__
from pytest_connector_contract.contract.schemas import digest as schema_digest
from pytest_connector_contract.contract.spec import Spec

__all__ = ["junit_properties", "profile_digest", "section", "timestamp"]

PROPERTY_PREFIX = "connector_contract"


def timestamp(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def profile_digest(spec: Spec, profile: str | None) -> str | None:
    """sha256 of the profile's data as the suite reads it (canonical JSON of its spec.json entry)."""
    if profile is None or profile not in spec.raw["profiles"]:
        return None
    data = json.dumps(spec.raw["profiles"][profile], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def section(spec: Spec, profile: str | None, started: _dt.datetime, finished: _dt.datetime) -> dict[str, Any]:
    """The JSON report's ``provenance`` object."""
    return {
        "suite_version": __version__,
        "schemas_sha256": schema_digest(),
        "spec_sha256": spec.digest,
        "profile_sha256": profile_digest(spec, profile),
        "started_at": timestamp(started),
        "finished_at": timestamp(finished),
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def junit_properties(
    *,
    provenance: Mapping[str, Any],
    profile: str | None,
    target: Mapping[str, Any] | None,
    configuration: Mapping[str, Mapping[str, Any]],
    verdict: Mapping[str, Any],
) -> list[tuple[str, str]]:
    """Flat ``(name, value)`` pairs for ``<testsuite><properties>`` in the JUnit XML."""
    pairs: list[tuple[str, str]] = [(f"{PROPERTY_PREFIX}.profile", _text(profile))]
    pairs += [(f"{PROPERTY_PREFIX}.{key}", _text(value)) for key, value in provenance.items()]
    for key in ("url", "implementation", "product", "version", "build_flavor", "build_hash"):
        pairs.append((f"{PROPERTY_PREFIX}.target.{key}", _text((target or {}).get(key))))
    for key, setting in configuration.items():
        pairs.append((f"{PROPERTY_PREFIX}.config.{key}", _text(setting.get("value"))))
    pairs += [(f"{PROPERTY_PREFIX}.{key}", _text(value)) for key, value in verdict.items()]
    return pairs
