"""The conformance recorder: registered where the run's verdict is made (the only process, or the xdist
controller); it gathers every check's evidence, writes the JSON report and sets the exit status."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_connector_contract.checks.connectors import CREATE_GRACE
from pytest_connector_contract.differential.recording import recording_document
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.reports import terminal as reports
from pytest_connector_contract.reports.results import Conformance
from pytest_connector_contract.reports.verdict import PASSING

__all__ = ["RECORDER", "ConformanceRecorder"]


class ConformanceRecorder:
    """Registered where the run's verdict is made (the only process, or the xdist controller)."""

    def __init__(self, state: RunState, conformance: Conformance) -> None:
        self.state = state
        self.conformance = conformance
        self.document: dict[str, Any] | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Called on the controller for worker reports too: the evidence travels on the report.
        self.conformance.add(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if not state.suite or session.exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            return
        state.delete_leftovers()
        self.conformance.leftovers.extend(state.leftovers)
        counterpart = state.counterpart()
        self.conformance.reference = counterpart.describe() if counterpart is not None else None
        self.document = self.conformance.document(state.target, state.settings.describe())
        if state.settings.json is not None and state.target is not None:
            reports.write_json(state.settings.json, self.document)
        finished = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        if state.settings.record is not None and state.target is not None and finished:
            recorded = recording_document(state.target, state.spec, self.conformance.recorded_checks())
            reports.write_json(state.settings.record, recorded, schema="recording")
        if finished and self.conformance.checks:
            passing = self.document["summary"]["verdict"] in PASSING
            session.exitstatus = pytest.ExitCode.OK if passing else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.document is None or self.state.target is None:
            return
        self._add_late_leftovers()
        terminalreporter.write_sep("=", "connector status API conformance")
        for text, markup in reports.terminal_lines(self.document):
            terminalreporter.write_line(text, **markup)
        if self.conformance.leftovers:
            for hint in self.state.sweep_hints():
                terminalreporter.write_line(f"to remove what may remain: {hint}", red=True)
        if self.state.settings.json is not None:
            terminalreporter.write_line(f"JSON report: {self.state.settings.json}")
        if self.state.settings.record is not None and self.state.settings.record.exists():
            terminalreporter.write_line(f"recording: {self.state.settings.record}")

    def _add_late_leftovers(self) -> None:
        """After Ctrl-C under xdist the workers clean up, and hand over what they could not delete, only once
        the verdict is made (xdist stops its nodes after this plugin's session finish): add those to the
        summary and rewrite the JSON report, so that nothing left on the target goes unmentioned."""
        wait = CREATE_GRACE + self.state.settings.timeout  # a worker may still be waiting for a held create
        handed = self.state.take_over(wait)
        late = [item for item in [*self.state.leftovers, *handed] if item not in self.conformance.leftovers]
        if not late or self.document is None:
            return
        self.conformance.leftovers.extend(late)
        self.document["leftovers"] = list(self.conformance.leftovers)
        if self.state.settings.json is not None:
            reports.write_json(self.state.settings.json, self.document)


RECORDER = pytest.StashKey[ConformanceRecorder]()
