"""Reports of a run: the terminal summary and the JSON conformance report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.differential.compare import difference_lines
from pytest_connector_contract.reports.results import OUTCOMES, official_client_note
from pytest_connector_contract.reports.verdict import document_verdict, verdict_words

__all__ = ["terminal_lines", "write_json"]

_CELL = {
    "passed": "ok",
    "xfailed": "xfail",
    "failed": "FAIL",
    "error": "ERROR",
    "blocked": "blocked",
    "skipped": "skip",
    "xpassed": "XPASS",
    "not_run": ".",
}
_SHORT = {"needs_configuration": "needs_config"}
#: the colour of each verdict's line
_VERDICT_MARKUP = {
    "conformant": {"green": True},
    "conformant_with_accepted_deviations": {"green": True},
    "inconclusive": {"yellow": True},
    "not_conformant": {"red": True},
}


def terminal_lines(document: dict[str, Any]) -> list[tuple[str, dict[str, bool]]]:
    """The conformance summary as (text, markup) lines for the terminal reporter."""
    summary = document["summary"]
    target = document.get("target") or {}
    lines: list[tuple[str, dict[str, bool]]] = []
    verdict = document_verdict(document)
    strict = " (strict: baseline ignored)" if summary.get("strict") else ""
    lines.append(
        (
            f"verdict: {verdict_words(verdict)}{strict}   score: {summary['score']:.3f}",
            {"bold": True, **_VERDICT_MARKUP[verdict]},
        )
    )
    if verdict == "inconclusive":
        unjudged = ", ".join(f"{summary[o]} {o}" for o in ("error", "blocked") if summary.get(o))
        why = (
            f"no check failed, but some could not be judged ({unjudged})"
            if summary.get("executed")
            else "no check executed, so nothing was judged"
        )
        rerun = "; --connector-rerun-errors N runs them again" if summary.get("error") else ""
        lines.append((f"{why}: the gate does not pass{rerun}", {"yellow": True}))
    lines.append((f"target: {identity_line(target)}", {}))
    source = target.get("profile_source")
    lines.append((f"profile: {document.get('profile')} (from {source})", {}))
    counts = ", ".join(f"{summary[o]} {o}" for o in OUTCOMES if summary.get(o))
    lines.append((f"checks: {summary['total']} ({counts or 'none'})", {}))
    matrix = document.get("matrix")
    if matrix:
        statuses = list(matrix)
        width = max(len(_SHORT.get(s, s)) for s in statuses) + 2
        lines.append(("transition matrix (row: current status, column: requested; +/- = expected accept/refuse):", {}))
        lines.append(("  " + "from \\ to".ljust(width) + "".join(_SHORT.get(s, s).ljust(width) for s in statuses), {}))
        for current in statuses:
            cells = []
            for requested in statuses:
                cell = matrix[current][requested]
                sign = "+" if cell["expected"] == "accepted" else "-"
                cells.append(f"{sign}{_CELL.get(cell['outcome'], cell['outcome'])}".ljust(width))
            lines.append(("  " + _SHORT.get(current, current).ljust(width) + "".join(cells), {}))
    for check in document["checks"]:
        for rerun in check.get("reruns") or []:
            first = (rerun.get("message") or "").splitlines()[:1]
            lines.append(
                (
                    f"RERUN    {check['id']}: attempt {rerun['attempt']} ended in {rerun['outcome']}"
                    f"{': ' + first[0] if first else ''}; run again",
                    {"yellow": True},
                )
            )
        if check["outcome"] in ("failed", "error", "blocked", "xpassed"):
            detail = check.get("message") or check.get("observed") or ""
            first = detail.splitlines()[0] if detail else ""
            lines.append((f"{check['outcome'].upper():8} {check['id']}: {first}", {"red": True}))
        elif check["outcome"] == "xfailed":
            lines.append(
                (f"XFAIL    {check['id']}: {check.get('deviation') or check.get('message')}", {"yellow": True})
            )
    lines.extend(_beyond_lines(document))
    note = official_client_note(document["checks"])
    if note is not None:
        lines.append((note, {"yellow": True}))
    lines += _differential_lines(document.get("differential"))
    for leftover in document.get("leftovers") or []:
        lines.append((f"NOT DELETED {leftover}", {"red": True}))
    lines += _baseline_lines(document.get("baseline"))
    lines += _comparison_lines(document.get("comparison"))
    return lines


def identity_line(target: dict[str, Any]) -> str:
    """Who was tested, on one line: the implementation (when named), the URL, the product and version it
    answers with."""
    version = target.get("version") or "unknown version"
    flavor = f", {target['build_flavor']}" if target.get("build_flavor") not in (None, "default") else ""
    embedded = " (embedded reference target)" if target.get("embedded") else ""
    named = f"{target['implementation']} at " if target.get("implementation") else ""
    return f"{named}{target.get('url')}{embedded}  {target.get('product') or 'unknown product'} {version}{flavor}"


def _beyond_lines(document: dict[str, Any]) -> list[tuple[str, dict[str, bool]]]:
    """The exploration, race and privileges parts of the terminal summary."""
    lines: list[tuple[str, dict[str, bool]]] = []
    explore = document.get("explore")
    if explore:
        lines.append(
            (f"exploration: seed {explore['seed']}, {explore['walks']} walk(s); reproduce: {explore['reproduce']}", {})
        )
        for walk in explore["results"]:
            stopped = f", stopped {walk['stopped']}" if walk.get("stopped") else ""
            lines.append(
                (
                    f"  {walk['id']}: {walk['outcome']} ({walk.get('sequences')} sequences, "
                    f"{walk.get('requests')} requests{stopped})",
                    {"red": True} if walk["outcome"] != "passed" else {},
                )
            )
            sequence = walk.get("sequence")
            if sequence:
                lines.append((f"    shortest failing sequence ({len(sequence)} steps):", {"red": True}))
                for step in sequence:
                    observed = step["observed"] or "no answer"
                    observed = observed if len(observed) <= 90 else observed[:87] + "..."
                    text = f"      {step['step']}. {step['label']} on {step['before']}: expected {step['expected']}"
                    text += f", got {observed}"
                    if step["read_status"] is not None:
                        text += f", GET shows {step['read_status']}"
                    if step["problems"]:
                        text += "  <- departs from Elasticsearch"
                    lines.append((text, {"red": True} if step["problems"] else {}))
                lines.append(("    curl replay script: in the failure above and in the JSON report", {}))
    race = document.get("race")
    if race:
        lines.append(("races:", {}))
        for check in race["results"]:
            rounds = check.get("rounds") or []
            lines.append(
                (
                    f"  {check['id']}: {check['outcome']} ({len(rounds)} of {check.get('rounds_planned')} rounds run)",
                    {"red": True} if check["outcome"] not in ("passed", "skipped") else {},
                )
            )
    privileges = document.get("privileges")
    if privileges:
        lines.append(("privileges:", {}))
        for check in privileges["results"]:
            detail = check.get("observed") or check.get("message") or ""
            lines.append(
                (
                    f"  {check['id']}: {check['outcome']}" + (f" ({detail.splitlines()[0]})" if detail else ""),
                    {"red": True} if check["outcome"] not in ("passed", "skipped") else {},
                )
            )
    return lines


def _differential_lines(section: dict[str, Any] | None) -> list[tuple[str, dict[str, bool]]]:
    """The comparison with the reference: every differing check with both answers side by side, then the
    reference departures and the changes the profiles document."""
    if not section:
        return []
    reference = section["reference"]
    where = f"recording {reference['path']}" if reference["source"] == "recording" else reference["url"]
    lines: list[tuple[str, dict[str, bool]]] = [
        (
            f"compared with the reference {where} ({reference.get('product') or 'unknown product'} "
            f"{reference.get('version')}, release {reference['release']}): {section['compared']} checks compared, "
            f"{len(section['differing'])} differ, {section['not_compared']} not compared",
            {"bold": True},
        )
    ]
    for check in section["differing"]:
        markup = {"red": True} if check["outcome"] == "failed" else {"yellow": True}
        lines.append((f"DIFFERS  {check['id']} ({check['outcome']}):", markup))
        lines += [(f"  {line}", markup) for line in difference_lines(check["differences"])]
    for departure in section["reference_departures"]:
        lines.append(
            (
                f"REFERENCE DEPARTS {departure['id']}: the reference ({departure['release']}) answers as the target "
                "does, unlike the suite's expectation; please report it to the project",
                {"yellow": True},
            )
        )
    for change in section["documented_changes"]:
        lines.append(
            (
                f"CHANGED  {change['id']}: {change['reference_release']} -> {change['target_release']}, "
                "as the profiles document",
                {},
            )
        )
    return lines


def _baseline_lines(baseline: dict[str, Any] | None) -> list[tuple[str, dict[str, bool]]]:
    if not baseline:
        return []
    lines: list[tuple[str, dict[str, bool]]] = [
        (
            f"baseline: {baseline['path']}: {baseline['entries']} entries, "
            f"{len(baseline['expected_failures'])} expected failures in this run",
            {},
        )
    ]
    lines += [(f"BASELINE {problem['message']}", {"red": True}) for problem in baseline["problems"]]
    return lines


def _comparison_lines(comparison: dict[str, Any] | None) -> list[tuple[str, dict[str, bool]]]:
    if not comparison:
        return []
    previous = comparison["previous"]
    counts = ", ".join(f"{len(comparison[key])} {key}" for key in ("regressions", "fixes", "new", "gone"))
    lines: list[tuple[str, dict[str, bool]]] = [
        (f"compared with {previous['path']} ({previous.get('generated_at')}): {counts}", {"bold": True})
    ]
    for label, key, markup in (
        ("REGRESSION", "regressions", {"red": True}),
        ("FIXED", "fixes", {"green": True}),
        ("NEW", "new", {}),
        ("GONE", "gone", {}),
    ):
        for item in comparison[key]:
            change = f"{item.get('before', 'absent')} -> {item.get('now', 'absent')}"
            lines.append((f"{label:10} {item['id']}: {change}", markup))
    return lines


def write_json(path: Path, document: dict[str, Any], schema: str = "conformance-report") -> None:
    """Write the report (or, with ``schema="recording"``, a recording) atomically, after checking it against
    its own schema."""
    problems = schemas.problems(schema, document)
    if problems:  # a bug of ours, never the target's: say so loudly rather than write a bad file
        raise RuntimeError(f"the {schema} document does not match its schema: " + "; ".join(problems))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a report; open() honours the umask.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
