"""The 5x5 transition matrix as the reports draw it: one cell per transition, with the words a reader needs.

The HTML grid and the Markdown table are both drawn from :func:`matrix_grid`, so a cell says the same thing in
each: its outcome, what was expected and observed, what blocked it, and for a cell that went wrong, in a few
words why (a target that refuses a transition but still changes the connector reads "expected refused,
observed refused" in the cell: the why says what else went wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_connector_contract.contract.spec import check_case

__all__ = ["CELL_LABEL", "matrix_grid"]

#: the word a cell shows for its kind
CELL_LABEL = {
    "passed": "ok",
    "failed": "FAILED",
    "error": "ERROR",
    "blocked": "blocked",
    "skipped": "skipped",
    "xfailed-baseline": "xfail (baseline)",
    "xfailed-es": "xfail (as stock ES)",
    "xpassed": "XPASS",
    "not_run": "not run",
}
#: the kinds whose cell says why
_EXPLAINED = frozenset({"failed", "error", "xpassed"})
_WHY_LENGTH = 72


def _cell_kind(cell: Mapping[str, Any], check: Mapping[str, Any] | None) -> str:
    outcome = str(cell.get("outcome") or "not_run")
    if outcome == "xfailed":
        return "xfailed-baseline" if check and check.get("baseline") else "xfailed-es"
    return outcome


def short(text: str, length: int = _WHY_LENGTH) -> str:
    """The first line of ``text``, cut to ``length`` characters with an ellipsis."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= length else line[: length - 1].rstrip() + "\u2026"


def _why(kind: str, check: Mapping[str, Any] | None) -> str | None:
    if kind not in _EXPLAINED or not check:
        return None
    problems = check.get("problems") or []
    first = problems[0] if problems else check.get("message")
    return short(str(first)) if first else None


def matrix_grid(document: Mapping[str, Any]) -> dict[str, Any]:
    """The matrix of a JSON report as rows of cells (``statuses`` and ``rows``)."""
    matrix = document.get("matrix") or {}
    checks = {c["id"]: c for c in document.get("checks") or []}
    rows = []
    for current in matrix:
        cells = []
        for requested, cell in matrix[current].items():
            check_id = cell["check"]
            check = checks.get(check_id)
            kind = _cell_kind(cell, check)
            observed = cell.get("observed") or "-"
            by = cell.get("blocked_by")
            cells.append(
                {
                    "current": current,
                    "requested": requested,
                    "check": check_id,
                    "kind": kind,
                    "label": CELL_LABEL.get(kind, kind),
                    "outcome": str(cell.get("outcome")),
                    "expected": cell["expected"],
                    "observed": observed,
                    "blocked_by": check_case(str(by)) if by else None,
                    "why": _why(kind, check),
                    "title": f"{check_id}: expected {cell['expected']}, observed {observed}, {kind}",
                }
            )
        rows.append({"status": current, "cells": cells})
    return {"statuses": list(matrix), "rows": rows}
