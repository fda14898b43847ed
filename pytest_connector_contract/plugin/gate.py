"""The CI gate's inputs: a baseline of accepted deviations and a previous report to compare with.

``--connector-strict`` (a certification run) ignores the baseline: it is not loaded, no check is marked, and
the report's ``summary.strict`` says so. The verdict itself (``reports/verdict.py``) decides the exit status
(``plugin/conformance.py``).

A baseline entry becomes pytest's own strict xfail on the check (``raises=CheckFailed``: only the target
departing from the contract is accepted, never the harness breaking), so pytest, pytest-html and JUnit all
report it as an expected failure, and a listed check that passes fails the run. Under xdist the controller
reads the file once and hands the entries in force to every worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.checks.run import CheckFailed
from pytest_connector_contract.plugin.keys import RECORDER
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.plugin.suite import CheckItem
from pytest_connector_contract.reports import baseline as baselines
from pytest_connector_contract.reports.previous import CompareError, load_previous

__all__ = ["BaselineMarks", "GateHooks", "configure"]

_WORKER_KEY = "connector_contract_baseline"


def configure(config: pytest.Config, state: RunState) -> None:
    """Load the baseline and the previous report (usage errors), and register the hooks that use them."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        entries = [baselines.Entry.from_dict(e) for e in worker_input.get(_WORKER_KEY) or []]
        if entries:
            config.pluginmanager.register(BaselineMarks(entries), "connector_contract_baseline")
        return
    recorder = config.stash.get(RECORDER, None)
    if recorder is None:  # pragma: no cover - registered by plugin.pytest_configure just before
        return
    conformance = recorder.conformance
    settings = state.settings
    conformance.strict = settings.strict
    conformance.implementation = settings.implementation
    if settings.baseline is not None and not settings.strict:  # a certification run counts every failure
        try:
            conformance.baseline = baselines.load(settings.baseline, state.spec)
        except baselines.BaselineError as exc:
            raise pytest.UsageError(f"--connector-baseline: {exc}") from None
        applied = list(conformance.baseline.applied().values())
        config.pluginmanager.register(BaselineMarks(applied), "connector_contract_baseline")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(XdistBaselineHooks(applied), "connector_contract_baseline_xdist")
    if settings.compare is not None:
        try:
            conformance.previous = (str(settings.compare), load_previous(settings.compare))
        except CompareError as exc:
            raise pytest.UsageError(f"--connector-compare: {exc}") from None
    if settings.baseline_write is not None:
        config.pluginmanager.register(GateHooks(state, recorder), "connector_contract_gate")


class BaselineMarks:
    """Marks each check the baseline lists as a strict expected failure (on every process that collects)."""

    def __init__(self, entries: list[baselines.Entry]) -> None:
        self.entries = {entry.check: entry for entry in entries}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if isinstance(item, CheckItem) and item.check.id in self.entries:
                entry = self.entries[item.check.id]
                item.add_marker(pytest.mark.xfail(reason=entry.marker_reason, strict=True, raises=CheckFailed))


class XdistBaselineHooks:
    """Only registered when pytest-xdist is present: workers get the entries in force, not the file."""

    def __init__(self, entries: list[baselines.Entry]) -> None:
        self.entries = [entry.to_dict() for entry in entries]

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_KEY] = self.entries


class GateHooks:
    """``--connector-baseline-write``: a baseline of this run's failures, written on the controller."""

    def __init__(self, state: RunState, recorder: Any) -> None:
        self.state = state
        self.recorder = recorder
        self.written: tuple[Path, int] | None = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # After the recorder's tryfirst sessionfinish has built the document.
        document = getattr(self.recorder, "document", None)
        path = self.state.settings.baseline_write
        if document is None or path is None:
            return
        entries = baseline_entries(document)
        target = document.get("target") or {}
        header = (
            f"Written from a run against {target.get('product')} {target.get('version')}, "
            f"profile {document.get('profile')}."
        )
        text = baselines.render(entries, header=header)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.written = (path, len(entries))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is not None:
            path, count = self.written
            terminalreporter.write_line(
                f"baseline written: {path} ({count} entries; write the reason for each before using it)"
            )


def baseline_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries a baseline of this run needs: every check that failed, and every listed one still failing."""
    expired = {p["check"]: p for p in (document.get("baseline") or {}).get("problems", []) if p["kind"] == "expired"}
    entries: list[dict[str, Any]] = []
    for check in document["checks"]:
        listed = check.get("baseline")
        first = (check.get("message") or check.get("observed") or "").splitlines()[:1]
        if check["outcome"] == "xfailed" and listed:
            entries.append({**listed, "note": f"still fails: {first[0] if first else ''}"})
        elif check["outcome"] == "failed":
            entry: dict[str, Any] = {"check": check["id"], "note": f"failed: {first[0] if first else ''}"}
            if check["id"] in expired:
                entry["note"] = f"{entry['note']} (its previous entry expired: renew the date or fix it)"
            entries.append(entry)
    return entries
