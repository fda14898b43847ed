"""Executing one check: the one function that runs a check, whether its pytest item runs it (serially) or a
slot of the pool runs it ahead of its item's turn (``checks/ahead.py``).

It returns what came of the check instead of raising it, so that the same outcome can be produced on one
thread and raised on another (the item's), where the plugin translates it into pytest's outcomes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_connector_contract.checks.catalogue import runner
from pytest_connector_contract.checks.run import Run

__all__ = ["Outcome", "execute"]


@dataclass
class Outcome:
    """What came of one check: the exception it ended with (None: passed), and how long it took."""

    #: CheckFailed, CheckSkipped, ExpectedFailure, PreconditionFailed, SetupError, TargetUnreachable, or a bug
    error: Exception | None
    #: seconds the check itself took (its connectors' final clean-up is not part of it)
    duration: float


def execute(run: Run) -> Outcome:
    """Run ``run.check`` against the target. Ctrl-C (KeyboardInterrupt) is not an outcome: it propagates."""
    started = time.perf_counter()
    try:
        runner(run.check.kind)(run)
    except Exception as exc:
        return Outcome(exc, time.perf_counter() - started)
    return Outcome(None, time.perf_counter() - started)
