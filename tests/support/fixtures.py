"""The fixtures every test may ask for (a pytest plugin: ``tests/conftest.py`` loads it through
``pytest_plugins``): real reference servers on loopback, the plugin run the way users run it, and a headless
browser."""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer
from support.runs import GITHUB_VARIABLES, PROXY_VARIABLES, QUICK_RETRIES, QUICK_RETRY_DELAYS, SuiteRun, run_with_report

#: where the runs the tests start keep their bytecode caches when the caller's shell asked Python to write none
_PYCACHE_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """The runs the tests start keep Python's bytecode caches, as a user's runs do. A shell that sets
    ``PYTHONDONTWRITEBYTECODE`` (to keep the tree free of ``__pycache__``) would make every run compile and
    assertion-rewrite the plugin's modules again, which costs more than the rest of a run's start-up: their caches
    go to a directory of this session instead (``PYTHONPYCACHEPREFIX``), removed at its end. Set in the process
    that starts the session, before any xdist worker, whose runs inherit it; the tests' own process is as started."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        os.environ["PYTHONPYCACHEPREFIX"] = config.stash[_PYCACHE_KEY] = tempfile.mkdtemp(prefix="connector-pyc-")


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = config.stash.get(_PYCACHE_KEY, None)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)


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
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_target() -> Iterator[Callable[..., ReferenceServer]]:
    """Start a reference target (or a mutant of it) on a free loopback port, with the server's keyword
    arguments (``latency_ms``, ``ssl_context``, ...); stopped after the test.

    A server-side exception is a bug in the reference or a mutant: it fails the test that provoked it.
    """
    with _servers() as start:
        yield start


@pytest.fixture(scope="module")
def start_module_target() -> Iterator[Callable[..., ReferenceServer]]:
    """:func:`start_target` for a module-scoped fixture (a run several tests read): the servers it starts are
    stopped after the module's last test, which fails on a server-side exception."""
    with _servers() as start:
        yield start


@contextlib.contextmanager
def _servers() -> Iterator[Callable[..., ReferenceServer]]:
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
    _in_every_run(pytester, QUICK_RETRIES)
    return QUICK_RETRY_DELAYS


@pytest.fixture
def quick_polling(pytester: pytest.Pytester) -> float:
    """The runs this test starts ask a target that is still starting (``--connector-wait``) again after 10 ms,
    not 0.5 s (``checks/preflight.py``, ``POLL_INTERVAL``): for the tests of what a waiting run says and does,
    where the pause between two attempts is not what they are about. Every attempt is still made and the
    deadline is unchanged. Returns the interval the runs use."""
    interval = 0.01
    _in_every_run(
        pytester, f"from pytest_connector_contract.checks import preflight\npreflight.POLL_INTERVAL = {interval!r}\n"
    )
    return interval


def _in_every_run(pytester: pytest.Pytester, code: str) -> None:
    """Add ``code`` to the ``conftest.py`` of the test's directory, which every run started there (and each of
    its xdist workers) loads."""
    path = pytester.path / "conftest.py"
    before = path.read_text() if path.exists() else ""
    path.write_text(before + code)


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
    with _servers() as start:

        def report(target: ReferenceTarget) -> dict[str, Any]:
            key = (type(target).__name__, target.es_version)
            if key not in reports:
                run = run_with_report(tmp_path_factory.mktemp("report"), start(target).url)
                assert run.report is not None, run.result.stdout.str()
                reports[key] = run.report
            return copy.deepcopy(reports[key])

        yield report
