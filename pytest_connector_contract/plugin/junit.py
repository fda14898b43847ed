"""Provenance and verdict in the JUnit XML (``--junitxml``), as ``<testsuite>`` properties.

pytest's public way to add a testsuite property is the ``record_testsuite_property`` fixture, which a
plugin's hook cannot use; so this reaches pytest's writer through ``_pytest.junitxml.xml_key`` on purpose
(tests/test_private_apis.py checks it). Where that is gone the run warns instead of writing XML without them.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

import pytest

from pytest_connector_contract.plugin.keys import RECORDER
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
        state = self.state
        recorder = self.config.stash.get(RECORDER, None)
        if recorder is None or not state.suite or state.target is None:
            return
        xml = junit_writer(self.config)
        if xml is None:
            warnings.warn(
                pytest.PytestWarning(
                    "connector-contract: pytest's JUnit XML writer was not found (_pytest.junitxml.xml_key), "
                    "so the JUnit XML carries no connector_contract.* properties (provenance and verdict)"
                ),
                stacklevel=1,
            )
            return
        conformance = recorder.conformance
        summary = conformance.summary()
        section = provenance.section(state.spec, state.target.profile, conformance.started, _dt.datetime.now(_dt.UTC))
        pairs = provenance.junit_properties(
            provenance=section,
            profile=state.target.profile,
            target={**state.target.to_dict(), "implementation": conformance.implementation},
            configuration=state.settings.describe(),
            verdict={key: summary[key] for key in ("verdict", "conformant", "score", "strict")},
        )
        for name, value in pairs:
            xml.add_global_property(name, value)


def junit_writer(config: pytest.Config) -> Any:
    """pytest's ``LogXML`` of this run (it has ``add_global_property``), or None where it cannot be found."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:
        return None
    xml = config.stash.get(xml_key, None)
    return xml if callable(getattr(xml, "add_global_property", None)) else None
