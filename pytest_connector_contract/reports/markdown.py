"""What a CI job page shows of a run: a Markdown summary, workflow annotations and a badge, all drawn from the
JSON report document, so they say exactly what the JSON says.

- :func:`summary_markdown`: the verdict and score, the counts, the 5x5 matrix as a table, each failing check
  with the first line of its reason and its curl reproduction folded in ``<details>``, the baseline's and the
  comparison's findings, the target's identity. It stays under GitHub's 1 MiB limit for a step summary:
  past :data:`SUMMARY_LIMIT` the failing checks that do not fit are counted, not shown.
- :func:`workflow_annotations`: GitHub workflow commands, ``::error`` for each failing check and ``::warning`` for
  each baseline entry that is no longer needed, at most :data:`ANNOTATIONS_PER_KIND` of each (GitHub shows
  no more), then one "and N more"; escaped as the workflow-command syntax requires.
- :func:`badge`: a shields.io endpoint document (verdict and score).

The document is built from redacted evidence; the plugin passes every string of it through the run's redactor
once more before drawing these from it (before any escaping, which would hide a secret from the redactor).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pytest_connector_contract.reports.grid import matrix_grid, short
from pytest_connector_contract.reports.verdict import PASSING, document_verdict, verdict_words

__all__ = ["ANNOTATIONS_PER_KIND", "SUMMARY_LIMIT", "badge", "summary_markdown", "workflow_annotations"]

#: GitHub refuses a step summary over 1 MiB; what is written stays well under it
SUMMARY_LIMIT = 1000 * 1000
#: GitHub shows at most 10 annotations of each kind for a step
ANNOTATIONS_PER_KIND = 10
#: the outcomes a summary lists as failing checks, in this order
_FAILING = ("failed", "xpassed", "error")
_CELL_MARK = {"passed": "\u2705", "failed": "\u274c", "error": "\u26a0\ufe0f", "xpassed": "\u2757"}


def _cell(text: str) -> str:
    """Text shown as it is on one line, in a table cell or a list item: no line break, no column separator, no
    stray HTML, and no Markdown of its own (a target's answer could carry a link or an image)."""
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", " ".join(escape(text, quote=False).split()))


def _code(text: str) -> str:
    """``text`` as an inline code span, shown as it is: nothing is escaped inside one (an entity would show as
    typed: ``transition[created-&gt;error]``), so the fence is longer than any run of backticks in it."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _identity(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    target = document.get("target") or {}
    rows = [
        ("target", str(target.get("url") or "?") + (" (embedded reference target)" if target.get("embedded") else ""))
    ]
    if target.get("implementation"):
        rows.append(("implementation", str(target["implementation"])))
    product = " ".join(str(x) for x in (target.get("product") or "unknown product", target.get("version") or ""))
    if target.get("build_flavor"):
        product += f" ({target['build_flavor']})"
    rows += [
        ("answers as", product.strip()),
        ("profile", f"{document.get('profile')} (from {target.get('profile_source')})"),
        ("suite", f"pytest-connector-contract {document['tool']['version']}"),
    ]
    return rows


def _matrix_table(document: Mapping[str, Any]) -> list[str]:
    grid = matrix_grid(document)
    if not grid["rows"]:
        return []
    lines = [
        "### Transition matrix",
        "",
        "Rows are the current status, columns the requested one; each cell: outcome, expected / observed.",
        "",
        "| from \\ to | " + " | ".join(f"`{status}`" for status in grid["statuses"]) + " |",
        "|---" * (len(grid["statuses"]) + 1) + "|",
    ]
    for row in grid["rows"]:
        cells = []
        for cell in row["cells"]:
            text = f"{_CELL_MARK.get(cell['kind'], '')} {cell['label']}: {cell['expected']} / {cell['observed']}"
            if cell["blocked_by"]:
                text += f" (by {cell['blocked_by']})"
            if cell["why"]:
                text += f": {cell['why']}"
            cells.append(_cell(text.strip()))
        lines.append(f"| `{row['status']}` | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _failing_check(check: Mapping[str, Any]) -> str:
    reason = short(str(check.get("message") or check.get("observed") or ""), 200)
    check_id, reason = escape(check["id"], quote=False), escape(reason, quote=False)
    parts = [
        "<details>",
        f"<summary><code>{check_id}</code> ({check['outcome']}): {reason}</summary>",
        "",
        f"- expected: {_cell(str(check.get('expected') or '-'))}",
        f"- observed: {_cell(str(check.get('observed') or '-'))}",
    ]
    parts += [f"- {_cell(str(problem))}" for problem in (check.get("problems") or [])[1:]]
    if check.get("reproduction"):
        parts += ["", "Reproduce it:", "", "```sh", str(check["reproduction"]).rstrip(), "```"]
    return "\n".join([*parts, "", "</details>", ""])


def _findings(document: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    baseline = document.get("baseline")
    if baseline:
        lines += [
            "### Baseline",
            "",
            f"{_code(str(baseline['path']))}: {baseline['entries']} entries, "
            f"{len(baseline.get('expected_failures') or [])} accepted failures this run.",
            "",
        ]
        lines += [f"- {_cell(problem['message'])}" for problem in baseline.get("problems") or []]
        lines.append("")
    comparison = document.get("comparison")
    if comparison:
        lines += ["### Compared with the previous run", ""]
        for key, label in (
            ("regressions", "passed before, not now"),
            ("fixes", "pass now"),
            ("new", "new"),
            ("gone", "gone"),
        ):
            items = comparison.get(key) or []
            if items:
                lines.append(f"- {label}: " + ", ".join(_code(str(item["id"])) for item in items))
        lines.append("")
    differential = document.get("differential")
    if differential:
        lines += ["### Compared with the reference cluster", ""]
        lines.append(f"- compared: {differential['compared']} checks, not compared: {differential['not_compared']}")
        for key, label in (
            ("differing", "answered unlike the reference"),
            ("reference_departures", "where the reference departs from the suite"),
            ("documented_changes", "changed across releases as the profiles document"),
        ):
            items = differential.get(key) or []
            if items:
                lines.append(f"- {label}: {len(items)}")
        lines.append("")
    leftovers = document.get("leftovers") or []
    if leftovers:
        lines += ["### Not deleted", ""] + [f"- NOT DELETED {_code(str(item))}" for item in leftovers] + [""]
    return lines


def summary_markdown(document: Mapping[str, Any], *, limit: int = SUMMARY_LIMIT) -> str:
    """The run as a Markdown job summary, at most ``limit`` bytes (UTF-8)."""
    summary = document["summary"]
    verdict = document_verdict(document)
    mark = "\u2705" if verdict in PASSING else "\u274c"
    counts = ", ".join(
        f"{summary.get(outcome) or 0} {outcome}"
        for outcome in ("passed", "failed", "error", "blocked", "skipped", "xfailed", "xpassed")
        if summary.get(outcome) or outcome in ("passed", "failed")
    )
    head = [
        f"## {mark} Connector status API conformance: {verdict_words(verdict)}",
        "",
        f"**Score {summary['score']:.3f}**, {summary['executed']} checks executed: {counts}.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {label} | {_cell(value)} |" for label, value in _identity(document)),
        "",
        *_matrix_table(document),
    ]
    tail = _findings(document)
    failing = [c for outcome in _FAILING for c in document.get("checks") or [] if c["outcome"] == outcome]
    budget = limit - len("\n".join([*head, *tail]).encode()) - 400  # room for the headings and "and N more"
    shown: list[str] = []
    for check in failing:
        block = _failing_check(check)
        size = len(block.encode())
        if size > budget:
            break
        shown.append(block)
        budget -= size
    body = [f"### Failing checks ({len(failing)})", "", *shown] if failing else []
    if len(shown) < len(failing):
        body += [f"And {len(failing) - len(shown)} more failing checks: see the JSON or HTML report.", ""]
    return "\n".join([*head, *body, *tail]).rstrip() + "\n"


def _escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,`` (actions/toolkit ``escapeProperty``)."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _commands(kind: str, items: Sequence[tuple[str, str]], what: str) -> list[str]:
    lines = [
        f"::{kind} title={_escape_property(title)}::{_escape_data(message)}"
        for title, message in items[:ANNOTATIONS_PER_KIND]
    ]
    if len(items) > ANNOTATIONS_PER_KIND:
        more = len(items) - ANNOTATIONS_PER_KIND
        lines.append(f"::{kind} title={_escape_property(f'and {more} more')}::{more} more {what}: see the job summary")
    return lines


def workflow_annotations(document: Mapping[str, Any]) -> list[str]:
    """GitHub workflow commands for the failing checks (errors) and the stale baseline entries (warnings)."""
    failing = [
        (c["id"], str(c.get("message") or c.get("observed") or c["outcome"]))
        for outcome in ("failed", "error")
        for c in document.get("checks") or []
        if c["outcome"] == outcome
    ]
    stale = [
        (p["check"], p["message"])
        for p in ((document.get("baseline") or {}).get("problems") or [])
        if p.get("kind") == "passes"
    ]
    return _commands("error", failing, "failing checks") + _commands(
        "warning", stale, "baseline entries no longer needed"
    )


def badge(document: Mapping[str, Any]) -> dict[str, Any]:
    """A shields.io endpoint document: ``https://img.shields.io/endpoint?url=<where it is served>``."""
    verdict = document_verdict(document)
    color = {"conformant": "brightgreen", "conformant_with_accepted_deviations": "yellowgreen"}.get(verdict, "red")
    if verdict == "inconclusive":
        color = "lightgrey"
    return {
        "schemaVersion": 1,
        "label": "connector conformance",
        "message": f"{verdict_words(verdict).lower()} {document['summary']['score']:.0%}",
        "color": color,
    }
