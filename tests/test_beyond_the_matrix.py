"""Exploration, racing clients and privileges: the checks beyond the matrix, run the way users run them.

Each is off by default. Each catches the mutant it exists for, which the default suite misses, and
nothing else fails; the faithful reference still scores 1.0 with every option on. "The default suite misses it"
is read from the same run: every check of the default suite is in it, and passes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.mutants import (
    ADMIN_KEY,
    READONLY_KEY,
    CrashesOnOverlappingUpdates,
    ReadOnlyKeyCanWrite,
    RefusesReconnectAfterError,
    secured_with_readonly_key,
)
from support.runs import SuiteRun, run_with_report

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
DEFAULT_IDS = [check.id for check in (*SPEC.checks, *official_checks(SPEC))]
RACE_IDS = [check.id for check in SPEC.optional_checks if check.kind == "race"]
KEYS = ("--connector-api-key", ADMIN_KEY, "--connector-readonly-api-key", READONLY_KEY)
EVERY_OPTION = ("--connector-explore", "3", "--connector-seed", "20240611", "--connector-race", *KEYS)


def _default_suite_passed(run: Any) -> None:
    """Every check of the default suite ran, and passed: the default suite alone misses the bug."""
    outcomes = {check["id"]: check["outcome"] for check in run.report["checks"]}
    assert {check_id: outcomes.get(check_id) for check_id in DEFAULT_IDS} == dict.fromkeys(DEFAULT_IDS, "passed")


def _secured_reference(version: str = "9.1.0") -> ReferenceTarget:
    return ReferenceTarget(version, security=secured_with_readonly_key())


# -- the faithful reference ------------------------------------------------------------------------------
def test_faithful_reference_scores_1_with_every_new_option_on(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(_secured_reference())
    run = run_suite(server.url, *EVERY_OPTION)
    assert run.ret == 0, run.result.stdout.str()
    report = run.report
    assert schemas.problems("conformance-report", report) == []
    assert (report["summary"]["score"], report["summary"]["conformant"]) == (1.0, True)
    expected_ids = [*DEFAULT_IDS, "explore[1]", "explore[2]", "explore[3]", *RACE_IDS, "privileges[readonly-status]"]
    assert [c["id"] for c in report["checks"]] == expected_ids
    assert run.not_passed() == {}
    assert {c["category"] for c in report["checks"]} >= {"explore", "race", "privileges"}
    explore = report["explore"]
    assert (explore["seed"], explore["walks"]) == (20240611, 3)
    assert explore["reproduce"] == (
        f"pytest --connector-url {server.url} --connector-explore 3 --connector-seed 20240611"
    )
    assert all(walk["sequence"] is None and walk["sequences"] >= 10 for walk in explore["results"])
    assert [r["id"] for r in report["race"]["results"]] == RACE_IDS
    assert all(len(r["rounds"]) == 10 for r in report["race"]["results"])
    assert report["privileges"]["results"][0]["outcome"] == "passed"
    assert "403 security_exception" in run.check("privileges[readonly-status]")["observed"]
    text = run.result.stdout.str() + json.dumps(report)
    for key in (ADMIN_KEY, READONLY_KEY):
        assert key.partition(":")[2] not in text
        assert base64.b64encode(key.encode()).decode() not in text
    assert report["configuration"]["readonly_api_key"]["value"] == "<redacted>"
    run.result.stdout.fnmatch_lines(
        [
            "connector-contract: exploration seed 20240611; reproduce with: pytest --connector-url * "
            "--connector-explore 3 --connector-seed 20240611",
            "*exploration: seed 20240611, 3 walk(s)*",
            "*race?configured->connected|error?: passed (10 of 10 rounds run)*",
            "*privileges?readonly-status?: passed*",
        ]
    )
    assert not server.target.connectors, "every connector the walks and races created is deleted"


def test_the_older_profile_is_explored_with_its_own_table(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    """On 8.13/8.14 every self-transition is refused: the walks' model must say so too."""
    server = start_target(ReferenceTarget("8.14.3"))
    run = run_suite(
        server.url,
        "--connector-explore",
        "2",
        "--connector-seed",
        "5",
        "--connector-race",
        "connector-contract::explore[",
        "connector-contract::race[",
    )
    assert run.ret == 0, run.result.stdout.str()
    assert run.report["profile"] == "8.13"
    assert run.not_passed() == {}
    assert len(run.report["checks"]) == 2 + len(RACE_IDS)
    assert not server.target.connectors


def test_without_the_options_nothing_new_is_collected(pytester: pytest.Pytester) -> None:
    default = pytester.runpytest_subprocess("--connector-url", "embedded", "--collect-only", "-q")
    assert [line for line in default.outlines if line.startswith("connector-contract::")] == [
        f"connector-contract::{check_id}" for check_id in DEFAULT_IDS
    ]
    extended = pytester.runpytest_subprocess(
        "--connector-url", "embedded", "--collect-only", "-q", "--connector-explore", "2", "--connector-race", *KEYS
    )
    ids = [line.removeprefix("connector-contract::") for line in extended.outlines if "::" in line]
    assert ids == [*DEFAULT_IDS, "explore[1]", "explore[2]", *RACE_IDS, "privileges[readonly-status]"]


# -- 1. sequences ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explored_mutant(
    tmp_path_factory: pytest.TempPathFactory, start_module_target: Callable[..., ReferenceServer]
) -> tuple[ReferenceServer, SuiteRun]:
    """The default suite and one walk (seed 3) against the mutant only a walk can catch, run once: one test
    reads its verdict and walk, another replays the walk's script."""
    server = start_module_target(RefusesReconnectAfterError())
    directory = tmp_path_factory.mktemp("explored")
    return server, run_with_report(directory, server.url, "--connector-explore", "1", "--connector-seed", "3")


def test_history_dependent_bug_is_missed_by_the_matrix_and_caught_by_exploration(
    explored_mutant: tuple[ReferenceServer, SuiteRun], run_suite: Callable[..., Any]
) -> None:
    server, explored = explored_mutant
    assert explored.ret == 1
    # The matrix starts every cell from a fresh connector: it cannot see this bug.
    _default_suite_passed(explored)
    assert explored.not_passed() == {"explore[1]": "failed"}
    walk = explored.report["explore"]["results"][0]
    # Shrunk to the shortest sequence that shows the bug: error, then configured, then connected.
    steps = [(s["before"], s["label"], s["problems"] != []) for s in walk["sequence"]]
    assert steps == [
        ("created", "PUT _status 'error'", False),
        ("error", "PUT _status 'configured'", False),
        ("configured", "PUT _status 'connected'", True),
    ]
    assert "expected HTTP 200 updated, got HTTP 400 status_exception" in walk["sequence"][-1]["problems"][0]
    assert walk["replay"].startswith("#!/usr/bin/env bash")
    explored.result.stdout.fnmatch_lines(
        [
            "*shortest failing sequence (3 steps*",
            "*1. PUT _status 'error' on created: expected HTTP 200 updated, got HTTP 200*",
            "*3. PUT _status 'connected' on configured: expected HTTP 200 updated, got HTTP 400*departs*",
            "*curl -sS*",
        ]
    )
    assert schemas.problems("conformance-report", explored.report) == []
    assert not server.target.connectors

    # The same seed finds and shrinks the same failure again, in parallel too.
    again = run_suite(server.url, "--connector-explore", "1", "--connector-seed", "3", "-k", "explore", "-n", "2")
    assert _walks(again) == _walks(explored)


def _walks(run: Any) -> list[tuple[Any, ...]]:
    return [
        (r["id"], r["outcome"], r["fingerprint"], r["sequences"], r["requests"], r["sequence"])
        for r in run.report["explore"]["results"]
    ]


def test_same_seed_same_walks_serial_or_parallel(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target()
    args = ("--connector-explore", "2", "--connector-seed", "7", "-k", "explore")
    first = run_suite(server.url, *args)
    again = run_suite(server.url, *args)
    parallel = run_suite(server.url, *args, "-n", "2")
    assert _walks(first) == _walks(again) == _walks(parallel)
    assert [walk[3] for walk in _walks(first)] == [10, 10]
    other = run_suite(server.url, "--connector-explore", "2", "--connector-seed", "8", "-k", "explore")
    assert [w[2] for w in _walks(other)] != [w[2] for w in _walks(first)]


def test_a_random_seed_is_chosen_and_printed_as_a_reproduction_line(run_suite: Callable[..., Any]) -> None:
    run = run_suite("embedded", "--connector-explore", "1", "-k", "explore")
    assert run.ret == 0, run.result.stdout.str()
    seed = run.report["explore"]["seed"]
    assert isinstance(seed, int)
    command = f"pytest --connector-url embedded --connector-explore 1 --connector-seed {seed}"
    assert run.report["explore"]["reproduce"] == command
    assert f"connector-contract: exploration seed {seed}; reproduce with: {command}" in run.result.stdout.str()


def test_a_walk_stops_at_its_time_budget(run_suite: Callable[..., Any]) -> None:
    run = run_suite("embedded", "--connector-explore", "1", "--connector-explore-budget", "0.001", "-k", "explore")
    assert run.ret == 0, run.result.stdout.str()
    walk = run.report["explore"]["results"][0]
    assert walk["sequences"] == 1
    assert walk["stopped"] == "after 0.001 s (--connector-explore-budget)"


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl")
def test_the_replay_script_replays_the_failure_with_curl(
    explored_mutant: tuple[ReferenceServer, SuiteRun], start_target: Callable[..., ReferenceServer], tmp_path: Path
) -> None:
    _, run = explored_mutant
    assert run.report is not None
    mutant = start_target(RefusesReconnectAfterError())  # a mutant of its own: the script runs against any
    script = tmp_path / "replay.sh"
    script.write_text(run.report["explore"]["results"][0]["replay"])

    def replay(url: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CONNECTOR_URL": url}
        return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)

    against_mutant = replay(mutant.url)
    assert against_mutant.returncode == 1, against_mutant.stdout + against_mutant.stderr
    assert "DEPARTS from Elasticsearch at step 3: expected HTTP 200, got HTTP 400" in against_mutant.stdout
    assert not mutant.target.connectors, "the script deletes the connector it created"
    faithful = start_target()
    against_reference = replay(faithful.url + "/")
    assert against_reference.returncode == 0, against_reference.stdout + against_reference.stderr
    assert against_reference.stdout.rstrip().endswith("every answer matched")
    assert not faithful.target.connectors


def test_explore_without_hypothesis_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(no_hypothesis="import sys\nsys.modules['hypothesis'] = None\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "-p", "no_hypothesis", "--connector-url", "embedded", "--connector-explore", "1"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--connector-explore needs Hypothesis: pip install 'hypothesis>=6.100' (the 'explore' extra)"
        in result.stderr.str()
    )
    plain = pytester.runpytest_subprocess(
        "-p", "no:hypothesispytest", "-p", "no_hypothesis", "--connector-url", "embedded", "-k", "created and error"
    )
    assert plain.ret == 0, "a run that does not explore does not need Hypothesis"


# -- 2. racing clients ----------------------------------------------------------------------------------
def test_a_500_under_overlapping_requests_is_caught_by_exactly_the_race_checks(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(CrashesOnOverlappingUpdates())
    run = run_suite(server.url, "--connector-race")
    assert run.ret == 1
    _default_suite_passed(run)  # sequential checks never overlap two requests for one connector
    assert run.not_passed() == dict.fromkeys(RACE_IDS, "failed")
    race = run.check("race[configured->connected|error]")
    assert any("answered HTTP 500 illegal_state_exception" in p for p in race["problems"])
    rounds = run.report["race"]["results"][0]["rounds"]
    assert 500 in [answer["http"] for answer in rounds[-1]["answers"]]
    assert len(race["exchanges"]) >= 2, "the evidence holds the racing requests"
    assert not server.target.connectors


def test_race_rounds_are_configurable(run_suite: Callable[..., Any]) -> None:
    run = run_suite("embedded", "--connector-race", "--connector-race-rounds", "3", "-k", "race")
    assert run.ret == 0, run.result.stdout.str()
    assert [len(r["rounds"]) for r in run.report["race"]["results"]] == [3] * len(RACE_IDS)
    for result in run.report["race"]["results"]:
        for played in result["rounds"]:
            accepted = [a["status"] for a in played["answers"] if a["http"] == 200]
            assert played["read"] in accepted


# -- 3. privileges --------------------------------------------------------------------------------------
def test_a_read_only_key_that_can_write_is_caught_by_exactly_the_privileges_check(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(ReadOnlyKeyCanWrite())
    run = run_suite(server.url, *KEYS)
    assert run.ret == 1
    _default_suite_passed(run)
    assert run.not_passed() == {"privileges[readonly-status]": "failed"}
    problems = run.check("privileges[readonly-status]")["problems"]
    assert problems[0] == "expected HTTP 403, got HTTP 200 result='updated'"
    assert "the read-only key changed the status from 'created' to 'needs_configuration'" in problems
    assert "<redacted>" in str(run.check("privileges[readonly-status]")["exchanges"])
    assert READONLY_KEY.partition(":")[2] not in run.result.stdout.str()


def test_the_privileges_check_is_skipped_with_its_reason_without_a_read_only_key(
    run_suite: Callable[..., Any],
) -> None:
    run = run_suite(
        "embedded", "connector-contract::privileges[readonly-status]", "connector-contract::transition[created->error]"
    )
    assert run.ret == 0, run.result.stdout.str()
    assert run.outcome("privileges[readonly-status]") == "skipped"
    assert "give --connector-readonly-api-key" in run.check("privileges[readonly-status]")["message"]
    summary = run.report["summary"]
    assert (summary["executed"], summary["skipped"], summary["score"]) == (1, 1, 1.0)


def test_the_embedded_target_accepts_the_read_only_key_given(run_suite: Callable[..., Any]) -> None:
    run = run_suite("embedded", *KEYS, "-k", "privileges")
    assert run.ret == 0, run.result.stdout.str()
    assert run.outcome("privileges[readonly-status]") == "passed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--connector-readonly-api-key", READONLY_KEY), "needs the run's own credentials too"),
        (("--connector-api-key", ADMIN_KEY, "--connector-readonly-api-key", ADMIN_KEY), "must be another key"),
        (("--connector-explore", "-1"), "a number of walks must be from 0"),
        (("--connector-seed", "soon"), "is not a seed"),
        (("--connector-race-rounds", "0"), "a number of rounds must be from 1"),
    ],
)
def test_bad_values_of_the_new_options_are_usage_errors(
    pytester: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not re.search(r"ro-key-for-tests|ci-key-for-tests", result.stdout.str() + result.stderr.str())


def test_html_report_has_a_section_for_each_check_beyond_the_matrix(pytester: pytest.Pytester) -> None:
    pytest.importorskip("hypothesis")
    result = pytester.runpytest_subprocess(
        "--connector-url", "embedded", "--connector-api-key", "main:main-secret-1",
        "--connector-readonly-api-key", "ro:ro-secret-2", "--connector-explore", "1", "--connector-seed", "7",
        "--connector-explore-budget", "20", "--connector-race", "--connector-race-rounds", "2",
        "--html", "r.html", "--self-contained-html", "-k", "explore or race or privileges",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    page = (pytester.path / "r.html").read_text(encoding="utf-8")
    for section in ('id="cc-explore"', 'id="cc-race"', 'id="cc-privileges"'):
        assert section in page
    assert "--connector-seed 7" in page
    assert "main-secret-1" not in page
    assert "ro-secret-2" not in page
