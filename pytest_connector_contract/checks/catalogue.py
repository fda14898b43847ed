"""The catalogue of check kinds: how the harness finds the function that runs a check of each kind.

The kinds beyond the default suite (exploration, racing clients) are imported only when a check of theirs runs,
so that a run that does not use them never pays for Hypothesis or threads; no check module imports another.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pytest_connector_contract.checks import kinds
from pytest_connector_contract.checks.run import Run

__all__ = ["KINDS", "runner"]

#: kind -> the function that runs it, or "module:function" for the kinds loaded on first use
KINDS: dict[str, Callable[[Run], None] | str] = {
    "transition": kinds.check_transition,
    "validation": kinds.check_validation,
    "not_found": kinds.check_not_found,
    "response": kinds.check_response,
    "privileges": kinds.check_privileges,
    "explore": "pytest_connector_contract.checks.explore:explore",
    "race": "pytest_connector_contract.checks.race:race",
}


def runner(kind: str) -> Callable[[Run], None]:
    """The function that runs checks of ``kind`` (KeyError for a kind the catalogue does not know)."""
    entry = KINDS[kind]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        function: Callable[[Run], None] = getattr(importlib.import_module(module), name)
        KINDS[kind] = function
        return function
    return entry
