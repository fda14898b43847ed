"""``--connector-rerun-errors N``: a check that ended in error is run again from scratch on fresh connectors,
never one that failed; every rerun and why is in the reports. The errors come from a gateway that drops every
Nth status update (tests/support/gateway.py), so which requests go unanswered is decided, not left to chance.
Every run here meets dropped answers, so each uses ``quick_retries``: a dropped setup update is tried again after
10 ms instead of 0.25 s or more (every attempt still made); none of these tests is about the backoff."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import parse_html
from support.gateway import Gateway

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.reference.server import ReferenceServer

CELL = "transition[needs_configuration->error]"


def _rerun(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {check["id"]: check["reruns"] for check in report["checks"] if check.get("reruns")}


@pytest.mark.parametrize(
    "parallel",
    [("--connector-concurrency", "1"), ("--connector-concurrency", "4"), ("-n", "2")],
    ids=["serial", "concurrent", "xdist"],
)
def test_errored_checks_run_again_until_the_run_is_conformant(
    gateway: Callable[..., Gateway],
    run_suite: Callable[..., Any],
    quick_retries: object,
    tmp_path: Path,
    parallel: tuple[str, ...],
) -> None:
    # drop_once: a rerun never meets a drop its check met before, so a check ends in error at most once per
    # status update it sends (5 at most in the catalogue): 5 reruns always reach an attempt that gets through,
    # whatever order the checks in flight send their updates in.
    gate = gateway(drop_every=9, drop_once=True)
    page = tmp_path / "report.html"
    run = run_suite(gate.url, "--connector-rerun-errors", "5", f"--html={page}", "--self-contained-html", *parallel)
    assert run.ret == 0, run.result.stdout.str()
    assert run.report["summary"]["verdict"] == "conformant"
    assert schemas.problems("conformance-report", run.report) == []
    rerun = _rerun(run.report)
    assert rerun, "the gateway dropped answers, so some checks ran again"
    assert gate.dropped >= sum(len(attempts) for attempts in rerun.values())
    for check_id, attempts in rerun.items():
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert {a["outcome"] for a in attempts} == {"error"}
        assert all("Remote end closed connection without response" in a["message"] for a in attempts), check_id
        assert run.outcome(check_id) == "passed"
    some = next(iter(rerun)).replace("[", "?").replace("]", "?")  # fnmatch reads [...] as a set of characters
    run.result.stdout.fnmatch_lines([f"RERUN    {some}: attempt 1 ended in error: *Remote end closed*; run again"])
    text = page.read_text(encoding="utf-8")
    identity = parse_html(text).find("table", cls="cc-identity").words()
    assert f"{len(rerun)} check(s) run again after an error" in identity
    assert "Run again after an error (--connector-rerun-errors)" in text  # in the rows' evidence (pytest-html data)


def test_without_the_option_nothing_runs_again(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_retries: object
) -> None:
    run = run_suite(gateway(drop_every=9).url, "--connector-concurrency", "1")
    assert run.report["summary"]["verdict"] == "inconclusive"
    assert _rerun(run.report) == {}


def test_a_failed_check_never_runs_again(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    log = tmp_path / "requests.jsonl"
    run = run_suite(
        start_target(RefusesAllowedTransition()).url,
        "--connector-rerun-errors",
        "3",
        f"--connector-request-log={log}",
        "--connector-concurrency",
        "1",
    )
    assert run.ret == 1
    assert run.not_passed() == {CELL: "failed"}
    assert "reruns" not in run.check(CELL)
    assert run.report["summary"]["verdict"] == "not_conformant"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    creates = [
        line for line in lines if line["check"] == CELL and line["method"] == "PUT" and "_status" not in line["path"]
    ]
    assert len(creates) == 1, "one attempt: one connector created, none for a rerun"


def test_a_check_still_in_error_after_its_reruns_keeps_them_all(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_retries: object
) -> None:
    """A gateway that drops every other status update: a check that sends two never gets through."""
    run = run_suite(gateway(drop_every=2).url, "--connector-rerun-errors", "2", "--connector-concurrency", "1")
    assert run.report["summary"]["verdict"] == "inconclusive"
    still = [c for c in run.report["checks"] if c["outcome"] == "error"]
    assert still
    assert all(len(c["reruns"]) == 2 for c in still)


@pytest.mark.parametrize("value", ["-1", "11", "twice"])
def test_a_number_of_reruns_outside_0_to_10_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", f"--connector-rerun-errors={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*a number of reruns*"])
