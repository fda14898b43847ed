"""The fixtures every test may ask for (a pytest plugin: ``tests/conftest.py`` loads it through
``pytest_plugins``): real reference servers on loopback, the plugin run the way users run it, and a headless
browser."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.client.api import RETRY_DELAYS
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer
from support.runs import SuiteRun, run_with_report

#: the environment variables that route requests through a proxy (requests reads both spellings)
PROXY_VARIABLES = tuple(
    name for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY") for name in (base, base.lower())
)


@pytest.fixture(autouse=True)
def _no_proxy_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests talk to servers on loopback: a proxy in the developer's or CI's environment must not
    reroute them. A test that wants a proxy sets these variables itself."""
    for name in (*PROXY_VARIABLES, "CONNECTOR_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _not_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests may themselves run in a GitHub Actions job: the runs they start must not append to its job
    summary or print annotations into its log. A test that wants them sets these variables itself."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_target() -> Iterator[Callable[..., ReferenceServer]]:
    """Start a reference target (or a mutant of it) on a free loopback port, with the server's keyword
    arguments (``latency_ms``, ``ssl_context``, ...); stopped after the test.

    A server-side exception is a bug in the reference or a mutant: it fails the test that provoked it.
    """
    servers: list[ReferenceServer] = []

    def start(target: ReferenceTarget | None = None, **kwargs: Any) -> ReferenceServer:
        server = ReferenceServer(target if target is not None else ReferenceTarget(), **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    errors = []
    for server in servers:
        server.stop()
        errors.extend(server.errors)
    assert not errors, f"the reference server raised: {errors}"


@pytest.fixture
def run_suite(pytester: pytest.Pytester) -> Callable[..., SuiteRun]:
    """Run ``pytest --connector-url URL`` in a subprocess, with a JSON report, as a user would."""
    return functools.partial(run_with_report, pytester)


@pytest.fixture
def quick_retries(pytester: pytest.Pytester) -> tuple[float, ...]:
    """The runs this test starts wait 10 ms, not 0.25, 1 and 3 s, between the attempts of a retried setup
    request (``client/api.py``, ``RETRY_DELAYS``): an injected clock for the runs that meet a target or
    proxy that cannot be reached, where every attempt fails alike and only the wait would differ. The runs
    still make every attempt. A ``conftest.py`` in the run's directory sets it, so a run started with
    ``-n 2`` has it in its workers too. Returns the delays the runs use."""
    delays = (0.01,) * len(RETRY_DELAYS)
    pytester.makeconftest(
        "from pytest_connector_contract.client import api\n"
        f"api.RETRY_DELAYS = {delays!r}  # tests/support/fixtures.py, quick_retries\n"
    )
    return delays


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture
def chromium() -> Any:
    """Headless Chromium (Debian's ``chromium`` package, which .ci/run installs); skips only where it is absent."""
    from support.browser import Chromium, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium; .ci/run does)")
    return Chromium(executable)


@pytest.fixture
def gateway(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., Any]]:
    """Start a gateway (support/gateway.py) in front of a reference target (or a mutant); stopped after the test.

    ``gateway(target=None, delay=0, **options)``: ``options`` are the Gateway's (``drop_every``, ``script``,
    ``port``); ``delay`` starts it listening that many seconds later."""
    from support.gateway import Gateway

    started: list[Gateway] = []

    def start(target: ReferenceTarget | None = None, delay: float = 0.0, **options: Any) -> Gateway:
        gate = Gateway(start_target(target).url, **options).start(delay)
        started.append(gate)
        return gate

    yield start
    for gate in started:
        gate.stop()


@pytest.fixture(scope="module")
def report_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[ReferenceTarget], dict[str, Any]]]:
    """``report_of(target)``: the JSON report of the default suite run against ``target``, as a user runs it,
    made once per kind of target (its class and version) for the module, for the tests that only read reports.
    Each call returns a copy of its own."""
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    servers: list[ReferenceServer] = []

    def report(target: ReferenceTarget) -> dict[str, Any]:
        key = (type(target).__name__, target.es_version)
        if key not in reports:
            server = ReferenceServer(target)
            server.start()
            servers.append(server)
            run = run_with_report(tmp_path_factory.mktemp("report"), server.url)
            assert run.report is not None, run.result.stdout.str()
            reports[key] = run.report
        return copy.deepcopy(reports[key])

    yield report
    for server in servers:
        server.stop()
    errors = [error for server in servers for error in server.errors]
    assert not errors, f"the reference server raised: {errors}"
