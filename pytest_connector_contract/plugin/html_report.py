"""The pytest-html glue (``--html=FILE --self-contained-html``): hooks that put the conformance report in it.

Only registered when pytest-html is present and a report was asked for, on the process that writes it (the
only process, or the xdist controller). The markup comes from :mod:`pytest_connector_contract.reports.html`;
the document it renders is the JSON report's (built by the ConformanceRecorder in a tryfirst
``pytest_sessionfinish``, before pytest-html writes its file in a trylast one).
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_connector_contract.plugin.keys import RECORDER
from pytest_connector_contract.plugin.state import RunState

__all__ = ["HtmlReportHooks", "configure"]


def configure(config: pytest.Config, state: RunState) -> None:
    """Register the pytest-html hooks when pytest-html will write a report from this process."""
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("html") or not state.suite:
        return  # a report of the user's own tests gets no conformance columns
    if not getattr(config.option, "htmlpath", None):
        return
    config.pluginmanager.register(HtmlReportHooks(config, state), "connector_contract_html")


class HtmlReportHooks:
    """pytest-html 4.x hooks: title, summary block, extra columns, and evidence on rows that did not pass."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        # Jinja2 and the templates load only for a run that writes an HTML report.
        from pytest_connector_contract.reports import html as render

        self.render = render
        self.config = config
        self.state = state
        self._needs_evidence: set[str] = set()

    def _document(self) -> dict[str, Any] | None:
        recorder = self.config.stash.get(RECORDER, None)
        document = getattr(recorder, "document", None)
        return document if isinstance(document, dict) else None

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = self.render.TITLE

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        document = self._document()
        if document is None:
            return
        prefix.append(self.render.style_html())
        prefix.append(self.render.summary_html(document))
        postfix.append(self.render.matrix_section_html(document))
        postfix.append(self.render.beyond_html(document))
        if document.get("differential"):
            postfix.append(self.render.differential_html(document["differential"]))
        if document.get("comparison"):
            postfix.append(self.render.comparison_html(document["comparison"]))
        postfix.append(self.render.expectations_html(document))
        postfix.append(self.render.provenance_html(document))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[2:2] = self.render.results_header_cells()

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        cells[2:2] = self.render.results_row_cells(getattr(report, "connector_check", None) or {})

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        if getattr(report, "connector_check", None) is not None and report.passed:
            data.clear()  # passing rows stay compact: no log

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Runs before pytest-html's trylast hook, which collects every phase's extras at teardown.
        data = getattr(report, "connector_check", None)
        if not isinstance(data, dict):
            return
        if (
            report.failed
            or (report.skipped and (hasattr(report, "wasxfail") or data.get("blocked_by")))
            or data.get("reruns")
        ):
            self._needs_evidence.add(report.nodeid)
        if report.when == "teardown" and report.nodeid in self._needs_evidence:
            self._needs_evidence.discard(report.nodeid)
            from pytest_html import extras  # type: ignore[import-untyped]

            report.extras = [*getattr(report, "extras", []), extras.html(self.render.evidence_html(data))]  # type: ignore[attr-defined]
