"""``--connector-wait SECONDS``: a target that is still starting (no listener yet, 503, then 401 while its
security index comes up) is waited for, one line per reason on the terminal; without the option the run stops at
once and says the option exists; a deadline shorter than the outage stops with the last reason. Outcomes and
messages only: no timing is asserted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.gateway import CLOSE, Gateway, free_port

from pytest_connector_contract.checks.preflight import identify
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract.spec import load_spec

UNAVAILABLE = (503, {"error": {"type": "master_not_discovered_exception", "reason": None}, "status": 503})
UNAUTHORISED = (401, {"error": {"type": "security_exception", "reason": "unable to authenticate"}, "status": 401})


def test_a_target_that_starts_late_is_waited_for(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_polling: float
) -> None:
    """Nothing listens on the port for the first seconds; the run, started at once, waits for it."""
    gate = gateway(delay=2.0, port=free_port())
    run = run_suite(gate.url, "--connector-wait", "30")
    assert run.ret == 0, run.result.stdout.str()
    assert run.report["summary"]["verdict"] == "conformant"
    waiting = [line for line in run.result.stdout.lines if line.startswith("connector-contract: waiting for")]
    # Whether the run asks before the port opens depends on how fast it starts; if it does, it says so once.
    refused = "no answer (ConnectionError: ConnectionRefusedError: Connection refused)"
    assert waiting in ([], [f"connector-contract: waiting for the target {gate.url}: {refused}"])


def test_the_preflight_waits_for_a_port_that_opens_late(gateway: Callable[..., Gateway]) -> None:
    """The same, in this process: the first attempt is certainly before the port opens."""
    gate = gateway(delay=0.5, port=free_port())
    said: list[str] = []
    client = ConnectorClient(gate.url, timeout=5.0)
    try:
        info = identify(client, load_spec(), profile="auto", probe_id="ccontract-wait-probe", wait=30, say=said.append)
    finally:
        client.close()
    assert info.version == "9.1.0"
    assert said == [
        f"connector-contract: waiting for the target {gate.url}: no answer (ConnectionError: "
        "ConnectionRefusedError: Connection refused)"
    ]


def test_503_then_401_then_ready(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_polling: float
) -> None:
    gate = gateway(script=[UNAVAILABLE] * 3 + [UNAUTHORISED] * 2)
    run = run_suite(gate.url, "--connector-wait", "30")
    assert run.ret == 0, run.result.stdout.str()
    waiting = [line for line in run.result.stdout.lines if line.startswith("connector-contract: waiting for")]
    assert waiting == [
        f"connector-contract: waiting for the target {gate.url}: GET / answers HTTP 503",
        f"connector-contract: waiting for the target {gate.url}: HTTP 401: the credentials are refused (a secured "
        "cluster refuses keys until its security index is up)",
    ]


def test_the_environment_sets_the_wait(
    gateway: Callable[..., Gateway], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, quick_polling: float
) -> None:
    gate = gateway(script=[UNAUTHORISED] * 2)
    monkeypatch.setenv("CONNECTOR_WAIT", "30")
    result = pytester.runpytest_subprocess("--connector-url", gate.url)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["connector-contract: waiting for the target *: HTTP 401*"])


def test_without_waiting_an_absent_target_stops_the_run_at_once_and_names_the_option(
    run_suite: Callable[..., Any], quick_retries: object
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing will listen there
    run = run_suite(url)
    assert run.ret == pytest.ExitCode.INTERRUPTED
    text = run.result.stdout.str()
    assert f"cannot reach the target {url}" in text
    assert "if it is still starting, --connector-wait SECONDS waits for it" in text
    assert "waiting for" not in text


def test_without_waiting_a_401_is_refused_credentials_as_before(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any]
) -> None:
    run = run_suite(gateway(script=[UNAUTHORISED]).url)
    assert run.ret == pytest.ExitCode.INTERRUPTED
    run.result.stdout.fnmatch_lines(["*answered GET / with HTTP 401: the target requires credentials*"])


def test_a_deadline_shorter_than_the_outage_stops_with_the_last_reason(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_polling: float
) -> None:
    gate = gateway(script=[UNAVAILABLE] * 1000)
    run = run_suite(gate.url, "--connector-wait", "0.3")  # several attempts (quick_polling), all answered 503
    assert run.ret == pytest.ExitCode.INTERRUPTED
    run.result.stdout.fnmatch_lines(
        [
            f"connector-contract: waiting for the target {gate.url}: GET / answers HTTP 503",
            f"*connector-contract: the target {gate.url} was not ready after 0.3 s (--connector-wait); the last "
            f"answer: GET / for the target {gate.url} answered HTTP 503*",
        ]
    )


@pytest.mark.parametrize("value", ["-1", "soon", "7200"])
def test_a_wait_that_is_not_a_number_of_seconds_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", f"--connector-wait={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_documented_waiting_lines_are_what_a_run_prints(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], repo_root: Path, quick_polling: float
) -> None:
    """docs/cluster.md shows a cluster coming up: connections closed unanswered, then 503, then 401, as here."""
    page = (repo_root / "docs" / "cluster.md").read_text(encoding="utf-8")
    section = page.split("### A target that is still starting", 1)[1]
    documented = section.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    gate = gateway(script=[CLOSE] * 2 + [UNAVAILABLE] * 2 + [UNAUTHORISED] * 2)
    run = run_suite(gate.url, "--connector-wait", "30")
    assert run.ret == 0, run.result.stdout.str()
    printed = [line for line in run.result.stdout.lines if line.startswith("connector-contract: waiting for")]
    assert [line.replace(gate.url, "https://localhost:9200") for line in printed] == documented
