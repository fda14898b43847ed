"""The conformance recorder: registered where the run's verdict is made (the only process, or the xdist
controller); it gathers every check's evidence, writes the JSON report and what is drawn from it (the Markdown
summary, the badge, GitHub's job summary and annotations) and sets the exit status."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.checks.factory import CREATE_GRACE
from pytest_connector_contract.client.api import Redactor
from pytest_connector_contract.differential.recording import recording_document
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.reports import terminal as reports
from pytest_connector_contract.reports.markdown import SUMMARY_LIMIT, badge, summary_markdown, workflow_annotations
from pytest_connector_contract.reports.results import Conformance
from pytest_connector_contract.reports.verdict import PASSING

__all__ = ["ConformanceRecorder"]


class ConformanceRecorder:
    """Registered where the run's verdict is made (the only process, or the xdist controller)."""

    def __init__(self, state: RunState, conformance: Conformance) -> None:
        self.state = state
        self.conformance = conformance
        self.document: dict[str, Any] | None = None
        self._redactor: Redactor | None = None

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
        self._write_reports()
        finished = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        if state.settings.record is not None and state.target is not None and finished:
            recorded = recording_document(state.target, state.spec, self.conformance.recorded_checks())
            reports.write_json(state.settings.record, recorded, schema="recording")
        if finished and self.conformance.checks:
            passing = self.document["summary"]["verdict"] in PASSING
            session.exitstatus = pytest.ExitCode.OK if passing else pytest.ExitCode.TESTS_FAILED

    def _write_reports(self) -> None:
        """The JSON report, and the Markdown summary and badge drawn from it, each where the options say."""
        settings = self.state.settings
        if self.document is None or self.state.target is None:
            return
        if settings.json is not None:
            reports.write_json(settings.json, self.document)
        if settings.markdown is not None:
            _write_text(settings.markdown, self._summary(SUMMARY_LIMIT))
        if settings.badge is not None:
            _write_text(settings.badge, json.dumps(badge(self._for_people()), indent=2) + "\n")

    def _redactor_of_the_run(self) -> Redactor:
        """The run's one redaction rule, as its clients apply it: the configured credentials in every form, a
        proxy's included, and any URL's user info."""
        if self._redactor is None:
            client = self.state.client()
            self._redactor = client.redact
            client.close()
        return self._redactor

    def _for_people(self) -> dict[str, Any]:
        """The document the summary, the badge and the annotations are drawn from, passed once more through the
        run's redactor: the last line of defence, applied before they escape the text for Markdown or a
        workflow command (an escaped secret would no longer be found in their output)."""
        assert self.document is not None
        cleaned: dict[str, Any] = self._redactor_of_the_run().strings(self.document)
        return cleaned

    def _summary(self, limit: int) -> str:
        """The Markdown summary, at most ``limit`` bytes."""
        return summary_markdown(self._for_people(), limit=limit)

    def _publish_to_github(self, terminalreporter: Any) -> None:
        """Under GitHub Actions: the summary appended to the job summary (``GITHUB_STEP_SUMMARY``, whatever
        was written there before kept, the step's whole file under GitHub's 1 MiB limit), and with
        ``GITHUB_ACTIONS=true`` the workflow annotations printed. Done here, once the document is final (late
        leftovers included), and only once: the job summary is appended to."""
        assert self.document is not None
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            path = Path(step_summary)
            before = path.stat().st_size if path.is_file() else 0
            text = ("\n" if before else "") + self._summary(SUMMARY_LIMIT - before - 1)
            if before + len(text.encode()) <= SUMMARY_LIMIT:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(text)
            else:
                terminalreporter.write_line(
                    f"job summary: not appended, {step_summary} already holds {before} bytes "
                    "(GitHub refuses a step summary over 1 MiB)",
                    yellow=True,
                )
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in workflow_annotations(self._for_people()):
                terminalreporter.write_line(line)

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
        for label, path in (
            ("JSON report", self.state.settings.json),
            ("Markdown summary", self.state.settings.markdown),
            ("badge", self.state.settings.badge),
        ):
            if path is not None:
                terminalreporter.write_line(f"{label}: {path}")
        if self.state.settings.record is not None and self.state.settings.record.exists():
            terminalreporter.write_line(f"recording: {self.state.settings.record}")
        self._publish_to_github(terminalreporter)

    def _add_late_leftovers(self) -> None:
        """After Ctrl-C under xdist the workers clean up, and hand over what they could not delete, only once
        the verdict is made (xdist stops its nodes after this plugin's session finish): add those to the
        summary and write the reports again, so that nothing left on the target goes unmentioned."""
        wait = CREATE_GRACE + self.state.settings.timeout  # a worker may still be waiting for a held create
        handed = self.state.take_over(wait)
        late = [item for item in [*self.state.leftovers, *handed] if item not in self.conformance.leftovers]
        if not late or self.document is None:
            return
        self.conformance.leftovers.extend(late)
        self.document["leftovers"] = list(self.conformance.leftovers)
        self._write_reports()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
