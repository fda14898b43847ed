"""The pytest plugin: options, hooks and fixtures. The machinery lives in the modules named after their job."""

from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from pytest_connector_contract.checks import extended
from pytest_connector_contract.checks.execute import NOT_COMPARED_KINDS
from pytest_connector_contract.checks.factory import ConnectorFactory
from pytest_connector_contract.checks.preflight import PreflightError
from pytest_connector_contract.checks.run import Run, outcome_of
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.ids import ids_under
from pytest_connector_contract.contract.spec import SUITE_NODE, load_spec
from pytest_connector_contract.contract.target import TargetInfo
from pytest_connector_contract.plugin import concurrency, gate, html_report, junit
from pytest_connector_contract.plugin.conformance import ConformanceRecorder
from pytest_connector_contract.plugin.keys import RECORDER, RUN, STATE
from pytest_connector_contract.plugin.options import add_options, resolve
from pytest_connector_contract.plugin.state import WORKER_KEY, RunState, RunStateError
from pytest_connector_contract.plugin.suite import CheckItem, collect_suite, suite_selection
from pytest_connector_contract.reports.results import Conformance

__all__ = ["connector_client", "connector_factory", "connector_target"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Wiring only: the run state, built by its own constructors, and the integrations registered on it."""
    settings, spec = resolve(config), load_spec()
    handed = (getattr(config, "workerinput", None) or {}).get(WORKER_KEY)
    try:
        if handed is not None:
            state = RunState.on_worker(settings, spec, config.workerinput)  # type: ignore[attr-defined]
        else:
            suite, selection = suite_selection(config, settings.target.url is not None)
            state = RunState.on_controller(settings, spec, suite=suite, selection=selection)
    except RunStateError as exc:
        raise pytest.UsageError(str(exc)) from None
    if handed is None:
        recorder = ConformanceRecorder(state, Conformance(spec, state.extra_checks))
        config.pluginmanager.register(recorder, "connector_contract_recorder")
        config.stash[RECORDER] = recorder
    config.stash[STATE] = state
    config.add_cleanup(state.close)
    gate.configure(config, state)  # baseline and comparison
    html_report.configure(config, state)
    junit.configure(config, state)
    runs_checks = _needs_target_now(config) and getattr(config.option, "dist", "no") == "no"
    if state.suite and runs_checks:
        # This process runs checks (serially, or as an xdist worker): compile the schemas now, with the
        # rest of start-up, rather than in the middle of the first check. An xdist controller never does.
        schemas.prepare()
    concurrency.configure(config, state, runs_checks=runs_checks)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "connector_contract_xdist")


class XdistHooks:
    """Only registered when pytest-xdist is present: hands the controller's target to every worker."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        if self.state.handoff is None and self.state.suite:  # a run of the user's own tests creates nothing
            self.state.handoff = tempfile.mkdtemp(prefix="connector-contract-")
            node.config.add_cleanup(lambda: shutil.rmtree(self.state.handoff or "", ignore_errors=True))
        self.state.workers.add(node.gateway.id)
        node.workerinput[WORKER_KEY] = self.state.for_worker()

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.state.leftovers.extend(output.get(_LEFTOVERS_KEY, []))
        if _LEFTOVERS_KEY in output:
            self.state.reported.add(node.gateway.id)


_LEFTOVERS_KEY = "connector_contract_leftovers"


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or state.target is None:
        return []
    target = state.target
    lines = [
        f"connector-contract: target {target.url} ({target.product or 'unknown product'} "
        f"{target.version or 'unknown version'}), profile {target.profile}, connector ids {ids_under(state.run_prefix)}"
    ]
    if state.settings.implementation is not None:
        lines.append(f"connector-contract: implementation under test {state.settings.implementation}")
    if state.settings.strict:
        lines.append("connector-contract: strict mode: the baseline is ignored (a certification run)")
    if state.settings.target.insecure:
        lines.append("connector-contract: WARNING: TLS certificate verification is OFF (--connector-insecure)")
    if state.settings.in_flight > 1:
        each = " in each xdist worker" if getattr(config.option, "dist", "no") != "no" else ""
        lines.append(f"connector-contract: up to {state.settings.in_flight} checks in flight at once{each}")
    if state.reference is not None:
        reference = state.reference
        lines.append(
            f"connector-contract: reference cluster {reference.url} ({reference.product or 'unknown product'} "
            f"{reference.version or 'unknown version'}), connector ids {ids_under(state.run_prefix)} there too"
        )
        if state.settings.reference.insecure:
            lines.append(
                "connector-contract: WARNING: the reference cluster's TLS certificate is NOT verified "
                "(--connector-reference-insecure)"
            )
    if state.recording is not None:
        recording = state.recording
        lines.append(
            f"connector-contract: expectations also from the recording {recording.path} "
            f"({recording.target.product or 'unknown product'} {recording.target.version}, "
            f"recorded {recording.recorded_at})"
        )
    lines.extend(extended.header_lines(state.settings, target, state.seed))
    return lines


def _needs_target_now(config: pytest.Config) -> bool:
    option = config.option
    return not (
        getattr(option, "collectonly", False)
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash[STATE]
    if state.worker_id is not None or not state.suite or not _needs_target_now(session.config):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter is not None else None
    if state.settings.target.insecure and reporter is not None:
        reporter.write_line(
            "connector-contract: WARNING: the target's TLS certificate is NOT verified (--connector-insecure); "
            "anyone on the path can read the credentials.",
            red=True,
            bold=True,
        )
    try:
        state.ensure_target(say)
        state.ensure_reference(say)
    except PreflightError as exc:
        state.close()
        # The target is unusable (unreachable, no API, too old): stop before any check, and before xdist
        # starts workers, with exit status 2 (INTERRUPTED). Session.Interrupted is how pytest stops a session
        # itself: the terminal reporter prints the reason once, as "Interrupted: <reason>". pytest.exit()
        # here printed it twice (on stderr, then again in the reporter's "Exit:" line).
        raise session.Interrupted(f"connector-contract: {exc}") from None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On xdist workers: delete what the worker still holds and hand the failures to the controller."""
    state = session.config.stash[STATE]
    worker_output = getattr(session.config, "workeroutput", None)
    if state.worker_id is None or worker_output is None:
        return
    state.delete_leftovers()
    worker_output[_LEFTOVERS_KEY] = list(state.leftovers)
    state.hand_over()


def pytest_collection(session: pytest.Session) -> bool | None:
    state = session.config.stash[STATE]
    if not state.suite:
        return None
    items = collect_suite(session, state.spec, state.selection, state.extra_checks)
    session.items = items
    session.config.hook.pytest_collection_modifyitems(session=session, config=session.config, items=items)
    if state.recording is not None:
        missing = state.recording.missing(
            item.check.id for item in items if isinstance(item, CheckItem) and item.check.kind not in NOT_COMPARED_KINDS
        )
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            message = (
                f"--connector-expect-from {state.recording.path} has no answers for {len(missing)} selected "
                f"check(s): {shown}; record them (the same selection and options) or deselect them"
            )
            if state.worker_id is None:
                raise pytest.UsageError(message)
            # An xdist worker: a usage error here would only crash it. A failed collection reaches the
            # controller, which shows the message and runs nothing.
            report = pytest.CollectReport(SUITE_NODE, "failed", f"connector-contract: {message}", [])
            session.config.hook.pytest_collectreport(report=report)
            items[:] = []
    session.config.hook.pytest_collection_finish(session=session)
    session.testscollected = len(items)
    # What exists now (every module, the items) lives until the process exits: keep it out of the cyclic
    # collector's way, which pytest runs at exit in every process (xdist workers too) and which otherwise
    # walks all of it.
    gc.freeze()
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if isinstance(item, CheckItem):
        concurrency.adjust(item, report)
        run = item.stash.get(RUN, None)
        data: dict[str, Any] = run.evidence() if run is not None else item.check.identity()
        if call.excinfo is not None and not call.excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            data["ended"], data["message"] = outcome_of(call.excinfo.value)
        report.connector_check = data
    return report


# -- fixtures users' own tests can use too ---------------------------------------------------------
@pytest.fixture(scope="session")
def connector_target(request: pytest.FixtureRequest) -> TargetInfo:
    """Who the target is (URL without credentials, product, version) and which profile applies.

    Without ``--connector-url`` the embedded reference target is started for the session.
    """
    state = request.config.stash[STATE]
    try:
        return state.ensure_target()
    except PreflightError as exc:
        pytest.fail(f"connector-contract: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def connector_client(request: pytest.FixtureRequest, connector_target: TargetInfo) -> Iterator[ConnectorClient]:
    """An HTTP client bound to the target (keep-alive session, timeouts, redacted exchange record)."""
    client = request.config.stash[STATE].client()
    yield client
    client.close()


@pytest.fixture
def connector_factory(
    request: pytest.FixtureRequest, connector_client: ConnectorClient, connector_target: TargetInfo
) -> Iterator[ConnectorFactory]:
    """Creates connectors with unique ids under the run prefix and deletes them after the test.

    ``connector_factory()`` gives a new connector in ``created``; ``connector_factory(status="connected")``
    one reached through valid ``_status`` transitions. Never overwrites an existing id.
    """
    factory = request.config.stash[STATE].new_factory(connector_client)
    yield factory
    problems = factory.cleanup()
    ahead = concurrency.taken(request.node)
    if ahead is not None:  # the check ran ahead of its turn and deleted its connectors itself
        problems.extend(ahead.cleanup_problems)
    if problems:
        raise RuntimeError("could not delete connectors the test created: " + "; ".join(problems))


@pytest.fixture
def _connector_run(
    request: pytest.FixtureRequest,
    connector_client: ConnectorClient,
    connector_factory: ConnectorFactory,
    connector_target: TargetInfo,
) -> Run:
    item = request.node
    assert isinstance(item, CheckItem), "_connector_run serves the bundled suite's items only"
    ahead = concurrency.take(item)
    run = (
        ahead.run
        if ahead is not None
        else request.config.stash[STATE].new_run(item.check, connector_client, connector_factory)
    )
    item.stash[RUN] = run
    return run
