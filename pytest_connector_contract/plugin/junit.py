"""Provenance and verdict in the JUnit XML (``--junitxml``), as ``<testsuite>`` properties."""

from __future__ import annotations

import datetime as _dt

import pytest

from pytest_connector_contract.plugin.recorder import RECORDER
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.reports import provenance

__all__ = ["JunitHooks", "configure"]


def configure(config: pytest.Config, state: RunState) -> None:
    """Register on the process that writes the XML (pytest's own junitxml plugin decides later whether it does)."""
    if hasattr(config, "workerinput") or not getattr(config.option, "xmlpath", None):
        return
    config.pluginmanager.register(JunitHooks(config, state), "connector_contract_junit")


class JunitHooks:
    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Before junitxml's own sessionfinish writes the file. The outcomes are all in by now.
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - pytest moved its writer
            return
        xml = self.config.stash.get(xml_key, None)
        state = self.state
        recorder = self.config.stash.get(RECORDER, None)
        if xml is None or recorder is None or not state.suite or state.target is None:
            return
        conformance = recorder.conformance
        section = provenance.section(state.spec, state.target.profile, conformance.started, _dt.datetime.now(_dt.UTC))
        pairs = provenance.junit_properties(
            provenance=section,
            profile=state.target.profile,
            target=state.target.to_dict(),
            configuration=state.settings.describe(),
            verdict={"conformant": conformance.conformant(), "score": conformance.score()},
        )
        for name, value in pairs:
            xml.add_global_property(name, value)
