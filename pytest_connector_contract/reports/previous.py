"""What changed since a previous conformance report (``--connector-compare PREVIOUS.json``).

Regressions are checks that passed before and do not now; fixes the other way round; checks new or gone
are those present in only one of the two reports (another profile, another selection, a newer suite).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_connector_contract.config.files import read_option_file

__all__ = ["CompareError", "compare", "load_previous"]

#: outcomes that mean the check does not hold against the target (xfailed: it fails, if accepted for now)
_NOT_HOLDING = frozenset({"failed", "error", "blocked", "xfailed", "xpassed"})


class CompareError(Exception):
    """The previous report cannot be compared with; the message names the file."""


def load_previous(path: Path) -> dict[str, Any]:
    """Read a JSON report written by ``--connector-json`` (of this or an earlier version of the suite)."""
    text = read_option_file(
        path,
        CompareError,
        missing=f"{path}: no such report to compare with",
        unreadable=f"{path}: cannot read the report",
    )
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise CompareError(f"{path}: not a JSON report: {exc}") from None
    checks = data.get("checks") if isinstance(data, dict) else None
    if not isinstance(checks, list) or not all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("outcome"), str) for c in checks
    ):
        raise CompareError(
            f"{path}: not a conformance report written by --connector-json (no checks[] with id/outcome)"
        )
    document: dict[str, Any] = data
    return document


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def compare(previous: Mapping[str, Any], current: Iterable[Mapping[str, Any]], *, path: str) -> dict[str, Any]:
    """The comparison section of the reports (shape in conformance-report.schema.json)."""
    before = {c["id"]: c["outcome"] for c in previous["checks"]}
    now = {c["id"]: c["outcome"] for c in current}
    regressions = [
        {"id": i, "before": before[i], "now": o}
        for i, o in now.items()
        if before.get(i) == "passed" and o in _NOT_HOLDING
    ]
    fixes = [
        {"id": i, "before": before[i], "now": o}
        for i, o in now.items()
        if before.get(i) in _NOT_HOLDING and o == "passed"
    ]
    summary = _mapping(previous.get("summary"))
    target = _mapping(previous.get("target"))
    return {
        "previous": {
            "path": path,
            "generated_at": previous.get("generated_at"),
            "suite_version": _mapping(previous.get("tool")).get("version"),
            "profile": previous.get("profile"),
            "target_url": target.get("url"),
            "target_version": target.get("version"),
            "conformant": summary.get("conformant"),
            "score": summary.get("score"),
        },
        "regressions": regressions,
        "fixes": fixes,
        "new": [{"id": i, "now": o} for i, o in now.items() if i not in before],
        "gone": [{"id": i, "before": o} for i, o in before.items() if i not in now],
    }
