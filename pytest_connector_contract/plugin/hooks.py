"""The pytest plugin: options, hooks and fixtures. The machinery lives in the modules named after their job."""

from __future__ import annotations

import gc
import secrets
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_connector_contract.checks import extended
from pytest_connector_contract.checks.connectors import ConnectorFactory, Ledger
from pytest_connector_contract.checks.kinds import CheckFailed, Run
from pytest_connector_contract.checks.preflight import PreflightError, TargetInfo, identify
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.client.connector import ConnectorClient, TargetUnreachable, client_for
from pytest_connector_contract.config.settings import Settings, add_options, resolve
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import Check, Spec, load_spec
from pytest_connector_contract.plugin import gate, junit
from pytest_connector_contract.plugin import html as html_report
from pytest_connector_contract.plugin.suite import CheckItem, collect_suite, parse_selection
from pytest_connector_contract.reports import terminal as reports
from pytest_connector_contract.reports.results import Conformance

__all__ = ["connector_client", "connector_factory", "connector_target"]

_WORKER_KEY = "connector_contract"
#: exit status when the run stops before any check because of the target (unreachable, no API, too old)
EXIT_PREFLIGHT = pytest.ExitCode.INTERRUPTED


@dataclass
class RunState:
    """Everything one pytest process knows about the run (kept in ``config.stash``)."""

    settings: Settings
    spec: Spec
    run_prefix: str
    worker_id: str | None
    suite: bool
    selection: list[str] | None
    target: TargetInfo | None = None
    target_url: str | None = None
    server: Any = None
    ledger: Ledger = field(default_factory=Ledger)
    #: how many processes share --connector-max-rps (the xdist worker count)
    rate_share: int = 1
    #: connectors this process (or, on the controller, a worker) could not delete
    leftovers: list[str] = field(default_factory=list)
    #: seed of the exploration walks (chosen once, on the controller, and handed to every worker)
    seed: int | None = None
    #: checks beyond the default suite enabled by the run's options (extended.py)
    extra_checks: list[Check] = field(default_factory=list)

    @property
    def id_prefix(self) -> str:
        """The prefix of this process's connector ids: run prefix plus worker id under xdist."""
        return f"{self.run_prefix}-{self.worker_id}" if self.worker_id else self.run_prefix

    def ensure_target(self) -> TargetInfo:
        """Start the embedded target if asked for, then run the preflight (once per process)."""
        if self.target is not None:
            return self.target
        url = self.settings.url
        embedded = url is None or self.settings.embedded
        if embedded:
            from pytest_connector_contract.reference.server import ReferenceServer
            from pytest_connector_contract.reference.target import DEFAULT_ES_VERSION, ReferenceTarget

            version = self.settings.embedded_version or DEFAULT_ES_VERSION
            self.server = ReferenceServer(ReferenceTarget(version, security=embedded_security(self.settings)))
            self.server.start()
            url = self.server.url
        assert url is not None
        self.target_url = url
        client = self.client()
        try:
            self.target = identify(
                client,
                self.spec,
                profile=self.settings.profile,
                probe_id=f"{self.run_prefix}-probe",
                embedded=embedded,
            )
        finally:
            client.close()
        return self.target

    def client(self) -> ConnectorClient:
        """A new client for the target, with the run's credentials, TLS settings and rate limit."""
        assert self.target_url is not None
        return client_for(self.settings, self.target_url, rate_share=self.rate_share, worker=self.worker_id)

    def readonly_client(self) -> ConnectorClient | None:
        """A client that authenticates with --connector-readonly-api-key (None without one)."""
        authorization = self.settings.readonly_authorization()
        if authorization is None:
            return None
        assert self.target_url is not None
        return client_for(
            self.settings,
            self.target_url,
            rate_share=self.rate_share,
            worker=self.worker_id,
            authorization=authorization,
        )

    def delete_leftovers(self) -> None:
        """Last line of the safety net: delete what this process created and still holds (also after
        Ctrl-C, when fixture teardown may not have run)."""
        live = self.ledger.live()
        if self.settings.keep or not live or self.target is None or self.target_url is None:
            return
        client = self.client()
        factory = ConnectorFactory(
            client, self.spec, id_prefix=self.id_prefix, ledger=self.ledger, soft_delete=self.target.soft_delete
        )
        factory.created.extend(live)
        try:
            self.leftovers.extend(factory.cleanup())
        finally:
            client.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def for_worker(self) -> dict[str, Any]:
        return {
            "run_prefix": self.run_prefix,
            "suite": self.suite,
            "selection": self.selection,
            "target": self.target.to_dict() if self.target else None,
            "target_url": self.target_url,
            "seed": self.seed,
        }


def embedded_security(settings: Settings) -> Any:
    """The embedded target requires the credentials the run was given, so the auth path is exercised."""
    from pytest_connector_contract.reference.security import CONNECTOR_READ_ONLY, ApiKey, BearerToken, Security, User

    # --connector-readonly-api-key: the embedded target knows it as a key holding only monitor_connector
    readonly = (
        [ApiKey.parse(settings.readonly_api_key.reveal(), privileges=CONNECTOR_READ_ONLY)]
        if settings.readonly_api_key is not None
        else []
    )
    if settings.api_key is not None:
        return Security(api_keys=[ApiKey.parse(settings.api_key.reveal()), *readonly])
    if settings.user is not None and settings.password is not None:
        return Security(users=[User(settings.user, settings.password.reveal())], api_keys=readonly)
    if settings.bearer_token is not None:
        return Security(
            bearer_tokens=[BearerToken(settings.bearer_token.reveal(), user="connector-contract")], api_keys=readonly
        )
    return None


STATE = pytest.StashKey[RunState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    settings = resolve(config)
    extended.check_settings(settings)
    worker_input = getattr(config, "workerinput", None)
    spec = load_spec()
    if worker_input is not None and _WORKER_KEY in worker_input:
        shared = worker_input[_WORKER_KEY]
        state = RunState(
            settings=settings,
            spec=spec,
            run_prefix=shared["run_prefix"],
            worker_id=worker_input.get("workerid"),
            suite=shared["suite"],
            selection=shared["selection"],
            target=TargetInfo.from_dict(shared["target"]) if shared["target"] else None,
            target_url=shared["target_url"],
            rate_share=int(worker_input.get("workercount", 1)),
            seed=shared.get("seed"),
        )
    else:
        selection = parse_selection(config.args)
        explicit_paths = config.args_source == pytest.Config.ArgsSource.ARGS and selection is None
        suite = settings.url is not None and not explicit_paths
        if selection is not None and settings.url is None:
            raise pytest.UsageError(f"{config.args[0]!r} names the bundled suite: give a target with --connector-url")
        if suite:
            # The suite is not collected from paths: nothing from testpaths or the invocation dir.
            config.args = []
        if settings.request_log is not None:
            requestlog.reset(settings.request_log)  # before any worker starts appending
        state = RunState(
            settings=settings,
            spec=spec,
            run_prefix=f"{settings.id_prefix}-{secrets.token_hex(4)}",
            worker_id=None,
            suite=suite,
            selection=selection,
            seed=extended.run_seed(settings),
        )
    state.extra_checks = extended.enabled_checks(spec, settings, state.selection, state.seed)
    if worker_input is None or _WORKER_KEY not in worker_input:
        recorder = ConformanceRecorder(state, Conformance(spec, state.extra_checks))
        config.pluginmanager.register(recorder, "connector_contract_recorder")
    config.stash[STATE] = state
    config.add_cleanup(state.close)
    gate.configure(config, state)  # baseline and comparison
    html_report.configure(config, state)
    junit.configure(config, state)
    if state.suite and _needs_target_now(config) and getattr(config.option, "dist", "no") == "no":
        # This process runs checks (serially, or as an xdist worker): compile the schemas now, with the
        # rest of start-up, rather than in the middle of the first check. An xdist controller never does.
        schemas.prepare()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(state), "connector_contract_xdist")


class XdistHooks:
    """Only registered when pytest-xdist is present: hands the controller's target to every worker."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_KEY] = self.state.for_worker()

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.state.leftovers.extend(output.get(_LEFTOVERS_KEY, []))


_LEFTOVERS_KEY = "connector_contract_leftovers"


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or state.target is None:
        return []
    target = state.target
    lines = [
        f"connector-contract: target {target.url} ({target.product or 'unknown product'} "
        f"{target.version or 'unknown version'}), profile {target.profile}, connector ids {state.run_prefix}-*"
    ]
    if state.settings.insecure:
        lines.append("connector-contract: WARNING: TLS certificate verification is OFF (--connector-insecure)")
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
    if state.settings.insecure:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                "connector-contract: WARNING: the target's TLS certificate is NOT verified (--connector-insecure); "
                "anyone on the path can read the credentials.",
                red=True,
                bold=True,
            )
    try:
        state.ensure_target()
    except PreflightError as exc:
        state.close()
        pytest.exit(f"connector-contract: {exc}", returncode=EXIT_PREFLIGHT)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On xdist workers: delete what the worker still holds and hand the failures to the controller."""
    state = session.config.stash[STATE]
    worker_output = getattr(session.config, "workeroutput", None)
    if state.worker_id is None or worker_output is None:
        return
    state.delete_leftovers()
    worker_output[_LEFTOVERS_KEY] = list(state.leftovers)


def pytest_collection(session: pytest.Session) -> bool | None:
    state = session.config.stash[STATE]
    if not state.suite:
        return None
    items = collect_suite(session, state.spec, state.selection, state.extra_checks)
    session.items = items
    session.config.hook.pytest_collection_modifyitems(session=session, config=session.config, items=items)
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
        run: Run | None = getattr(item, "_connector_run_obj", None)
        data: dict[str, Any] = (
            run.evidence()
            if run is not None
            else {
                "id": item.check.id,
                "category": item.check.category,
                "statement": item.check.statement,
                "source": item.check.source,
                "provenance": [dict(entry) for entry in item.check.provenance],
            }
        )
        if call.excinfo is not None and not call.excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
            data["failure"] = "check" if call.excinfo.errisinstance(CheckFailed) else "harness"
            data["message"] = _exception_message(call.excinfo.value, data["failure"])
        report.connector_check = data
    return report


def _exception_message(exc: BaseException, kind: str) -> str:
    if kind == "check" or isinstance(exc, TargetUnreachable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


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
        self.document = self.conformance.document(state.target, state.settings.describe())
        if state.settings.json is not None and state.target is not None:
            reports.write_json(state.settings.json, self.document)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and self.conformance.checks:
            conformant = self.conformance.conformant()
            session.exitstatus = pytest.ExitCode.OK if conformant else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.document is None or self.state.target is None:
            return
        terminalreporter.write_sep("=", "connector status API conformance")
        for text, markup in reports.terminal_lines(self.document):
            terminalreporter.write_line(text, **markup)
        if self.state.settings.json is not None:
            terminalreporter.write_line(f"JSON report: {self.state.settings.json}")


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
    state = request.config.stash[STATE]
    factory = ConnectorFactory(
        connector_client,
        state.spec,
        id_prefix=state.id_prefix,
        ledger=state.ledger,
        soft_delete=connector_target.soft_delete,
        keep=state.settings.keep,
    )
    yield factory
    problems = factory.cleanup()
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
    connector_client.start_recording(item.check.id)
    state = request.config.stash[STATE]
    run = Run(
        item.check,
        spec=state.spec,
        target=connector_target,
        client=connector_client,
        factory=connector_factory,
        settings=state.settings,
        new_client=state.client,
        readonly_client=state.readonly_client,
    )
    item._connector_run_obj = run  # type: ignore[attr-defined]
    return run
