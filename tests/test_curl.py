"""The curl reproduction on failing checks: built from the redacted record, and run for real with curl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from pytest_connector_contract.client.curl import reproduction
from pytest_connector_contract.reference.server import ReferenceServer

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install -y curl; .ci/run does)")


def _exchange(method: str, path: str, headers: dict[str, str], body: str | None, status: int = 200) -> dict[str, Any]:
    return {
        "request": {"method": method, "path": path, "headers": headers, "body": body},
        "response": {"status": status, "headers": {}, "body": "{}"},
        "error": None,
    }


def run_script(script: str, url: str, **env: str) -> str:
    done = subprocess.run(
        ["sh", "-c", script],
        env={"PATH": os.environ["PATH"], "CONNECTOR_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_no_exchanges_no_script() -> None:
    assert reproduction("transition[created->error]", []) is None


def test_bodies_are_shell_quoted_and_sent_byte_for_byte() -> None:
    body = """{"status":"it's $HOME `id` \\"q\\""}"""
    script = reproduction(
        "validation[x]",
        [_exchange("PUT", "/_connector/a/_status", {"Content-Type": "application/json", "Content-Length": "9"}, body)],
    )
    assert script is not None
    (line,) = [line for line in script.splitlines() if line.startswith("curl ")]
    assert '--data-binary \'{"status":"it\'"\'"\'s $HOME `id`' in line  # single-quoted: nothing expands
    assert "-H 'Content-Type: application/json'" in line
    assert "User-Agent" not in line
    assert "Content-Length" not in line


def test_an_empty_body_without_content_type_is_replayed_as_such() -> None:
    script = reproduction(
        "validation[empty-body]", [_exchange("PUT", "/_connector/a/_status", {"Content-Length": "0"}, "")]
    )
    assert script is not None
    line = script.splitlines()[-1]
    # curl would otherwise add Content-Type: application/x-www-form-urlencoded to a body.
    assert line.endswith("-H Content-Type: --data-binary ''")


def test_a_request_without_body_sends_none() -> None:
    script = reproduction("x[y]", [_exchange("GET", "/_connector/a", {"Accept": "*/*"}, None)])
    assert script is not None
    assert "--data-binary" not in script
    assert "Content-Type" not in script.splitlines()[-1]


def test_a_redacted_credential_becomes_a_placeholder() -> None:
    headers = {"Authorization": "<redacted>", "Cookie": "<redacted>", "Accept": "application/json"}
    script = reproduction("x[y]", [_exchange("GET", "/_connector/a", headers, None)])
    assert script is not None
    assert '-H "Authorization: $CONNECTOR_AUTH"' in script
    assert '-H "Cookie: $CONNECTOR_COOKIE"' in script
    assert '"${CONNECTOR_AUTH:?' in script  # the script says what to set instead of sending nothing
    assert "<redacted>" not in script
    assert "-H 'Accept: application/json'" in script


def test_without_credentials_there_is_no_auth_header() -> None:
    script = reproduction("x[y]", [_exchange("GET", "/_connector/a", {}, None)])
    assert script is not None
    assert "Authorization" not in script
    assert "CONNECTOR_AUTH" not in script


@needs_curl
def test_the_failing_cells_reproduction_shows_the_wrong_400_with_real_curl(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    # the failing cell and the other transitions from its state, which pass: not the whole suite
    run = run_suite(server.url, "connector-contract::transition[needs_configuration->")
    assert run.ret == 1
    check = run.check("transition[needs_configuration->error]")
    script = check["reproduction"]
    # The whole check: create, the setup transition, the request under test, the GET, the cleanup.
    assert [line.split(" -X ")[1].split()[0] for line in script.splitlines() if line.startswith("curl ")] == [
        "GET",
        "PUT",
        "PUT",
        "GET",
        "PUT",
        "GET",
        "DELETE",
    ]
    assert all(c["reproduction"] is None for c in run.report["checks"] if c["outcome"] == "passed")
    output = run_script(script, server.url)
    answers = re.findall(r"^HTTP/[\d.]+ (\d{3})", output, flags=re.M)
    assert answers == ["404", "201", "200", "200", "400", "200", "200"], output
    assert "Invalid transition attempt from [needs_configuration] to [error]" in output
    assert not server.target.connectors, "the reproduction cleans up after itself"


@needs_curl
@pytest.mark.parametrize(
    ("mutant", "check_id", "wrong_answer"),
    [
        ("CrashesOnEmptyBody", "validation[empty-body]", "500"),
        ("AcceptsMissingContentType", "validation[missing-content-type]", "200"),
    ],
)
def test_curl_replays_empty_bodies_and_missing_content_types_faithfully(
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., Any],
    mutant: str,
    check_id: str,
    wrong_answer: str,
) -> None:
    from support import mutants

    server = start_target(getattr(mutants, mutant)())
    run = run_suite(server.url, f"connector-contract::{check_id}")
    assert run.outcome(check_id) == "failed"
    output = run_script(run.check(check_id)["reproduction"], server.url)
    answers = re.findall(r"^HTTP/[\d.]+ (\d{3})", output, flags=re.M)
    under_test = [e["response"]["status"] for e in run.check(check_id)["exchanges"]]
    assert answers == [str(s) for s in under_test], output
    assert wrong_answer in answers


@needs_curl
def test_with_credentials_the_script_asks_for_them_and_never_holds_them(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    run = run_suite(server.url.replace("http://", "http://elastic:s3cr3t-pa55@"), "-k", "needs_configuration")
    script = run.check("transition[needs_configuration->error]")["reproduction"]
    assert "s3cr3t" not in script
    assert script.count('-H "Authorization: $CONNECTOR_AUTH"') == 7
    missing = subprocess.run(
        ["sh", "-c", script], env={"PATH": os.environ["PATH"], "CONNECTOR_URL": server.url}, capture_output=True
    )
    assert missing.returncode != 0
    assert b"CONNECTOR_AUTH" in missing.stderr
    output = run_script(script, server.url, CONNECTOR_AUTH="Basic ZWxhc3RpYzpzM2NyM3Q=")
    assert re.findall(r"^HTTP/[\d.]+ (\d{3})", output, flags=re.M)[4] == "400"


def test_a_truncated_body_is_said_to_be_truncated() -> None:
    body = '{"status":"' + "x" * 5000 + '"}'
    headers = {"Content-Type": "application/json"}
    script = reproduction("x[y]", [_exchange("PUT", "/_connector/a/_status", headers, body[:4096] + "...")])
    assert script is not None
    assert "# The record keeps only the first 4096 characters of this body." in script


def test_the_exploration_replay_follows_the_same_variable_contract() -> None:
    from dataclasses import dataclass

    from pytest_connector_contract.client.curl import AUTH_VARIABLE, URL_VARIABLE, replay_script

    @dataclass
    class Step:
        number: int = 1
        label: str = "bad input empty-body"
        method: str = "PUT"
        path_suffix: str = "/_status"
        query: dict[str, str] | None = None
        content_type: str | None = None
        accept: str | None = None
        body: str | None = ""
        before: str = "created"
        expected: str = "HTTP 400"
        expected_http: int = 400
        expected_status: str = "created"

    script = replay_script("explore[1]", "8.15", [Step()], hard_delete=True)
    assert f'"Authorization: ${{{AUTH_VARIABLE}}}"' in script
    assert f"${{{URL_VARIABLE}:?" in script
    assert "CONNECTOR_AUTHORIZATION" not in script
    # a body without a Content-Type is sent as such, as in the check reproductions
    assert "send PUT \"/_connector/$id/_status\" -H Content-Type: --data-binary ''" in script
    assert 'send DELETE "/_connector/$id?hard=true"' in script
