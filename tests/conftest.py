"""Shared test infrastructure: real reference servers on loopback, and the plugin run the way users run it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_connector_contract.reference.connectors import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

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


@pytest.fixture
def start_target() -> Iterator[Callable[..., ReferenceServer]]:
    """Start a reference target (or a mutant of it) on a free loopback port; stopped after the test.

    A server-side exception is a bug in the reference or a mutant: it fails the test that provoked it.
    """
    servers: list[ReferenceServer] = []

    def start(target: ReferenceTarget | None = None, **kwargs: Any) -> ReferenceServer:
        server = ReferenceServer(target or ReferenceTarget(), **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    errors = []
    for server in servers:
        server.stop()
        errors.extend(server.errors)
    assert not errors, f"the reference server raised: {errors}"


@dataclass
class SuiteRun:
    result: pytest.RunResult
    report: dict[str, Any] | None

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    def outcome(self, check_id: str) -> str | None:
        assert self.report is not None
        for check in self.report["checks"]:
            if check["id"] == check_id:
                return str(check["outcome"])
        return None

    def check(self, check_id: str) -> dict[str, Any]:
        assert self.report is not None
        return next(check for check in self.report["checks"] if check["id"] == check_id)

    def not_passed(self) -> dict[str, str]:
        assert self.report is not None
        return {c["id"]: c["outcome"] for c in self.report["checks"] if c["outcome"] != "passed"}


@pytest.fixture
def run_suite(pytester: pytest.Pytester) -> Callable[..., SuiteRun]:
    """Run ``pytest --connector-url URL`` in a subprocess, with a JSON report, as a user would."""

    def run(url: str, *args: str) -> SuiteRun:
        report_path = pytester.path / "conformance.json"
        report_path.unlink(missing_ok=True)
        result = pytester.runpytest_subprocess("--connector-url", url, "--connector-json", str(report_path), *args)
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        return SuiteRun(result, report)

    return run


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def chromium() -> Any:
    """Headless Chromium (Debian's ``chromium`` package, which .ci/run installs); skips only where it is absent."""
    from browser import Chromium, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium; .ci/run does)")
    return Chromium(executable)


@pytest.fixture
def gateway(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., Any]]:
    """Start a gateway (tests/gateway.py) in front of a reference target (or a mutant); stopped after the test.

    ``gateway(target=None, delay=0, **options)``: ``options`` are the Gateway's (``drop_every``, ``script``,
    ``port``); ``delay`` starts it listening that many seconds later."""
    from gateway import Gateway

    started: list[Gateway] = []

    def start(target: ReferenceTarget | None = None, delay: float = 0.0, **options: Any) -> Gateway:
        gate = Gateway(start_target(target).url, **options).start(delay)
        started.append(gate)
        return gate

    yield start
    for gate in started:
        gate.stop()
