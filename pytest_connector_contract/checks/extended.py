"""The checks beyond the matrix (exploration, races, privileges): when they run, and their report sections.

None of them is part of the default suite. Each kind is collected only under the option that enables it
(``--connector-explore N``, ``--connector-race``, ``--connector-readonly-api-key``) or when its id is named
on the command line, so a default run, its score and its report stay exactly as they were. The runners
live in ``explore.py``, ``race.py`` and ``checks.check_privileges``; this module only decides and reports.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from pytest_connector_contract.config.settings import Settings
from pytest_connector_contract.contract.spec import Check, Spec, selects
from pytest_connector_contract.contract.target import TargetInfo

__all__ = [
    "document_sections",
    "enabled_checks",
    "header_lines",
    "reproduce_command",
    "run_seed",
    "terminal_lines",
]

#: the categories of the checks beyond the matrix, in report order
CATEGORIES = ("explore", "race", "privileges")


def run_seed(settings: Settings) -> int | None:
    """The seed of the exploration walks: the one given, or a fresh one printed for reproduction."""
    if not settings.explore:
        return settings.seed
    return settings.seed if settings.seed is not None else secrets.randbelow(2**32)


def reproduce_command(settings: Settings, target: TargetInfo, walks: int, seed: int | None) -> str:
    """The command line that runs the same walks against the same target again (no credentials in it)."""
    url = "embedded" if settings.target.embedded or target.embedded else target.url
    parts = ["pytest", "--connector-url", url]
    if url == "embedded" and settings.target.embedded_version:
        parts += ["--connector-embedded-version", settings.target.embedded_version]
    if settings.sources.get("profile", "default") != "default":
        parts += ["--connector-profile", settings.profile]
    parts += ["--connector-explore", str(walks), "--connector-seed", str(seed)]
    if settings.explore_steps != 20:
        parts += ["--connector-explore-steps", str(settings.explore_steps)]
    return shlex.join(parts)


def header_lines(settings: Settings, target: TargetInfo, seed: int | None) -> list[str]:
    lines = []
    if settings.explore:
        command = reproduce_command(settings, target, settings.explore, seed)
        lines.append(f"connector-contract: exploration seed {seed}; reproduce with: {command}")
    if settings.race:
        lines.append(f"connector-contract: racing clients, {settings.race_rounds} rounds per race check")
    return lines


def enabled_checks(spec: Spec, settings: Settings, selection: Sequence[str] | None, seed: int | None) -> list[Check]:
    """The checks beyond the default suite that this run collects, in catalogue order."""
    checks: list[Check] = []
    if settings.explore and seed is not None:
        checks.extend(spec.explore_checks(settings.explore, seed))
    for check in spec.optional_checks:
        enabled = (check.kind == "race" and settings.race) or (
            check.kind == "privileges" and settings.readonly_api_key is not None
        )
        named = any(selects(s, check.id) for s in selection or ())
        if enabled or named:
            checks.append(check)
    return checks


def document_sections(checks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``explore``, ``race`` and ``privileges`` sections of the JSON report, present only when they ran."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        if check.get("category") in CATEGORIES:
            by_category.setdefault(check["category"], []).append(check)
    sections: dict[str, Any] = {}
    walks = by_category.get("explore")
    if walks:
        evidence = [w.get("explore") or {} for w in walks]
        first = next((e for e in evidence if e), {})
        sections["explore"] = {
            "seed": first.get("seed"),
            "walks": len(walks),
            "steps": first.get("steps"),
            "reproduce": first.get("reproduce"),
            "results": [
                {
                    "id": walk["id"],
                    "outcome": walk["outcome"],
                    "sequences": e.get("sequences"),
                    "requests": e.get("requests"),
                    "stopped": e.get("stopped"),
                    "fingerprint": e.get("fingerprint"),
                    "sequence": e.get("sequence"),
                    "replay": e.get("replay"),
                }
                for walk, e in zip(walks, evidence, strict=True)
            ],
        }
    races = by_category.get("race")
    if races:
        sections["race"] = {
            "results": [
                {
                    "id": check["id"],
                    "outcome": check["outcome"],
                    "from": (check.get("race") or {}).get("from"),
                    "to": (check.get("race") or {}).get("to"),
                    "rounds_planned": (check.get("race") or {}).get("rounds_planned"),
                    "rounds": (check.get("race") or {}).get("rounds") or [],
                }
                for check in races
            ]
        }
    privileges = by_category.get("privileges")
    if privileges:
        sections["privileges"] = {
            "results": [
                {
                    "id": check["id"],
                    "outcome": check["outcome"],
                    "observed": check.get("observed"),
                    "message": check.get("message"),
                }
                for check in privileges
            ]
        }
    return sections


def terminal_lines(document: dict[str, Any]) -> list[tuple[str, dict[str, bool]]]:
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
