"""Every key the plugin keeps state under: the run's in ``config.stash``, a check item's in ``item.stash``.

One module, so a reader finds what the plugin stores, and where, in one place (pytest's own ``junitxml.py``
keeps its writer the same way).
"""

from __future__ import annotations

import pytest

from pytest_connector_contract.checks.ahead import Ahead
from pytest_connector_contract.checks.run import Run
from pytest_connector_contract.plugin.conformance import ConformanceRecorder
from pytest_connector_contract.plugin.state import RunState

__all__ = ["AHEAD", "RECORDER", "RUN", "STATE", "WAITED"]

#: what this process knows about the run (config.stash)
STATE = pytest.StashKey[RunState]()
#: the conformance result being built, and the JSON report, on the process that writes reports (config.stash)
RECORDER = pytest.StashKey[ConformanceRecorder]()
#: the check a check item ran: its evidence goes on the item's reports (item.stash)
RUN = pytest.StashKey[Run]()
#: a check that ran ahead of its item's turn, and how long the item waited for it (item.stash)
AHEAD = pytest.StashKey[Ahead]()
WAITED = pytest.StashKey[float]()
