"""Two runs of a check compared step by step, and the verdict that combines the comparison with the target's
own judgement against the suite's expectations (the outcome table of docs/differential.md, "The outcome").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MEETS", "Verdict", "combine", "compare_steps", "difference_lines"]

#: a run's own outcome that meets the suite's expectations (a known deviation of stock Elasticsearch included)
MEETS = frozenset({"passed", "xfailed"})
#: own outcomes that can be compared; a skipped, blocked or errored run says nothing about the answers
COMPARABLE = frozenset({"passed", "failed", "xfailed"})
#: the listings a combined verdict can put a check in
REFERENCE_DEPARTS = "reference-departs"
CHANGED_AS_DOCUMENTED = "changed-as-documented"


def compare_steps(
    target: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]], *, same_release: bool
) -> list[dict[str, Any]]:
    """Every difference between the target's steps and the reference's, as ``{step, request, field, target,
    reference}`` rows (1-based steps). Once the two runs send different requests, the rest is not aligned:
    the first such step is the last difference listed. A connector read back is compared whole only between
    runs of the same release (see normalise.py)."""
    differences: list[dict[str, Any]] = []
    for index in range(max(len(target), len(reference))):
        ours = target[index] if index < len(target) else None
        theirs = reference[index] if index < len(reference) else None
        if ours is None or theirs is None or ours["request"] != theirs["request"]:
            differences.append(
                {
                    "step": index + 1,
                    "request": (ours or theirs or {}).get("request"),
                    "field": "request",
                    "target": ours["request"] if ours else "(no such step)",
                    "reference": theirs["request"] if theirs else "(no such step)",
                }
            )
            break
        for field, mine, other in _diff("", _comparable(ours, same_release), _comparable(theirs, same_release)):
            differences.append(
                {"step": index + 1, "request": ours["request"], "field": field, "target": mine, "reference": other}
            )
    return differences


def _comparable(step: Mapping[str, Any], same_release: bool) -> Any:
    answer = step.get("answer")
    if not isinstance(answer, dict) or same_release or "connector" not in answer:
        return answer
    return {key: value for key, value in answer.items() if key != "connector"}


_ABSENT = "<absent>"


def _diff(path: str, ours: Any, theirs: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        rows: list[tuple[str, Any, Any]] = []
        for key in sorted(set(ours) | set(theirs), key=str):
            rows += _diff(f"{path}.{key}" if path else str(key), ours.get(key, _ABSENT), theirs.get(key, _ABSENT))
        return rows
    if ours != theirs:
        return [(path or "answer", ours, theirs)]
    return []


def difference_lines(differences: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per difference, the two answers side by side, for the terminal and failure messages."""
    return [
        f"step {d['step']} ({d['request']}): {d['field']}: target {_shown(d['target'])}, "
        f"reference {_shown(d['reference'])}"
        for d in differences
    ]


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class Verdict:
    """How a check ends when it was compared with a reference: ``outcome`` is the target's own outcome,
    ``passed`` (a reference departure) or ``failed``; ``listing`` puts it in a report's list."""

    outcome: str
    listing: str | None
    explanation: str


def combine(target_own: str, reference_own: str, differs: bool, *, same_release: bool) -> Verdict:
    """The outcome table: the comparison with the reference and the target's own judgement, combined.

    | target vs reference | target vs the suite | outcome |
    | same | meets | the target's own (passed, or xfailed as stock Elasticsearch of its release) |
    | same | fails | passed, listed as the reference departing from the suite's expectation |
    | differs | meets | failed on the same release; across releases passed and listed as changed as the
    profiles document when the reference met the suite's expectations for its release, else a reference
    departure |
    | differs | fails | failed |
    """
    meets = target_own in MEETS
    if not differs:
        if meets:
            return Verdict(target_own, None, "the target answers as the reference does")
        return Verdict(
            "passed",
            REFERENCE_DEPARTS,
            "the target answers as the reference does, and both depart from the suite's expectation",
        )
    if not meets:
        return Verdict("failed", None, "the target departs from the suite's expectation and from the reference")
    if same_release:
        return Verdict("failed", None, "the target meets the suite's expectation but answers unlike the reference")
    if reference_own in MEETS:
        return Verdict(
            target_own, CHANGED_AS_DOCUMENTED, "the answers changed between the releases, as the profiles document"
        )
    return Verdict(
        target_own,
        REFERENCE_DEPARTS,
        "the answers changed between the releases, and the reference departs from the suite's expectation "
        "for its own release",
    )
