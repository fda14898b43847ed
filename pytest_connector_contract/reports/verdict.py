"""The verdict of a run: one word for the gate, and the words every report shows for it.

``conformant``: every executed check passed, or failed only where stock Elasticsearch of that release does.
``conformant_with_accepted_deviations``: the same, except for failures the team's baseline accepts.
``inconclusive``: no check failed, but some could not be judged (errors: the target unreachable mid-run,
timeouts, a setup request refused), or no check ran at all: the gate does not pass, and nothing says the
target departs from Elasticsearch either.
``not_conformant``: a check failed, a baseline entry now passes (the baseline must shrink), or one expired.

The first two exit 0, the last two exit 1 (design.md, "Exit status").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["PASSING", "VERDICTS", "document_verdict", "verdict", "verdict_words"]

#: every verdict, in the order of how good it is, with the words the reports show
VERDICTS = {
    "conformant": "CONFORMANT",
    "conformant_with_accepted_deviations": "CONFORMANT WITH ACCEPTED DEVIATIONS",
    "inconclusive": "INCONCLUSIVE",
    "not_conformant": "NOT CONFORMANT",
}
#: the verdicts that pass the gate
PASSING = frozenset({"conformant", "conformant_with_accepted_deviations"})
#: outcomes that say the target departs from Elasticsearch
_DEPARTS = ("failed", "xpassed")
#: outcomes that say a check could not be judged
_UNJUDGED = ("error", "blocked")


def verdict(summary: Mapping[str, object]) -> str:
    """The verdict from a report's ``summary``: its outcome counts, ``executed``, ``conformant`` and how many
    failures the team's baseline accepted (``xfailed_baseline``)."""
    if summary["conformant"]:
        return "conformant_with_accepted_deviations" if summary.get("xfailed_baseline") else "conformant"
    if any(summary.get(outcome) for outcome in _DEPARTS):
        return "not_conformant"
    if any(summary.get(outcome) for outcome in _UNJUDGED) or not summary.get("executed"):
        return "inconclusive"
    return "not_conformant"  # conformant outcomes but a failing gate: an expired baseline entry


def document_verdict(document: Mapping[str, Any]) -> str:
    """The verdict a JSON report states (schema 2), or the one its summary implies (schema 1 had none)."""
    summary = document["summary"]
    return str(summary.get("verdict") or verdict(summary))


def verdict_words(name: str) -> str:
    return VERDICTS[name]
