"""The plugin run the way users run it: pytest in a subprocess, over real HTTP, against real servers."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from support.runs import SuiteRun, run_with_report

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Response
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
#: the official client's checks of this environment (the development extras install the 9.x client)
OFFICIAL_IDS = [check.id for check in official_checks(SPEC)]
ALL_IDS = [check.id for check in SPEC.checks] + OFFICIAL_IDS
VALIDATION_IDS = [check.id for check in SPEC.checks if check.category == "validation"]


_OLD_HANDLER_XFAILS = {
    f"validation[{case}]": "xfailed" for case in ("not-json", "body-array", "body-string", "body-number", "empty-body")
}
#: checks that only a 9.x release passes (the 9.x clients' captured requests, and the official client checks: the
#: development extras install the 9.x client)
_NINE_ONLY = {
    "validation[vendor-media-type-9]": "skipped",
    **{c.id: "skipped" for c in SPEC.checks if c.kind == "client" and c.params["capture"][1] == 9},
    **dict.fromkeys(OFFICIAL_IDS, "skipped"),
}

#: release -> (profile, the checks that do not pass, how the release answers a truncated body)
RELEASES: dict[str, tuple[str, dict[str, str], str]] = {
    "8.13.4": ("8.13", {**_OLD_HANDLER_XFAILS, **_NINE_ONLY}, "HTTP 400 parse_exception: Failed to parse"),
    "8.14.3": ("8.13", {**_OLD_HANDLER_XFAILS, **_NINE_ONLY}, "HTTP 400 parse_exception: Failed to parse"),
    "8.15.0": ("8.15", {"validation[truncated-json]": "xfailed", **_NINE_ONLY}, "HTTP 500 x_content_e_o_f_exception"),
    "8.15.2": ("8.15", _NINE_ONLY, "HTTP 400 x_content_e_o_f_exception"),
    "8.19.3": ("8.15", _NINE_ONLY, "HTTP 400 x_content_e_o_f_exception"),
    "9.1.0": ("8.15", {}, "HTTP 400 x_content_e_o_f_exception"),
    "serverless": ("8.15", {}, "HTTP 400 x_content_e_o_f_exception"),
}


@pytest.fixture(scope="module")
def release_run(
    tmp_path_factory: pytest.TempPathFactory, start_module_target: Callable[..., ReferenceServer]
) -> Callable[[str], tuple[ReferenceServer, SuiteRun]]:
    """``release_run(release)``: the default run against a faithful reference answering as ``release`` (of
    :data:`RELEASES`) and its server, made once and read by each test that needs that run."""
    runs: dict[str, tuple[ReferenceServer, SuiteRun]] = {}

    def run(release: str) -> tuple[ReferenceServer, SuiteRun]:
        if release not in runs:
            if release == "serverless":  # an old version number: the flavour decides
                target = ReferenceTarget("8.11.0", build_flavor="serverless")
            else:
                target = ReferenceTarget(release)
            server = start_module_target(target)
            runs[release] = (server, run_with_report(tmp_path_factory.mktemp(release), server.url))
        return runs[release]

    return run


@pytest.mark.parametrize("release", RELEASES)
def test_faithful_reference_scores_1_as_every_release(
    release: str, release_run: Callable[[str], tuple[ReferenceServer, SuiteRun]]
) -> None:
    """Each release answers with its own bugs (known deviations, xfailed) and the run is still conformant."""
    profile, not_passed, truncated = RELEASES[release]
    server, run = release_run(release)
    assert run.ret == 0, run.result.stdout.str()
    report = run.report
    assert schemas.problems("conformance-report", report) == []
    assert report["summary"]["conformant"] is True
    assert report["summary"]["score"] == 1.0
    assert report["profile"] == profile
    assert [c["id"] for c in report["checks"]] == ALL_IDS  # every check executed, in catalogue order
    assert run.not_passed() == not_passed
    assert run.check("validation[truncated-json]")["observed"].startswith(truncated)
    for check_id, outcome in not_passed.items():
        check = run.check(check_id)
        if outcome == "xfailed":
            assert check["deviation"].startswith("Elasticsearch 8.1"), check
            assert any("known deviation" in entry.get("releases", "") for entry in check["provenance"]), check
    assert all(cell["outcome"] == "passed" for row in report["matrix"].values() for cell in row.values())
    assert not server.target.connectors, "the run must delete every connector it created"


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """The default run against the embedded target, read by the tests that only read it."""
    return run_with_report(tmp_path_factory.mktemp("embedded"), "embedded")


def test_embedded_target_is_conformant_and_runs_every_check(embedded_run: SuiteRun) -> None:
    run = embedded_run
    assert run.ret == 0, run.result.stdout.str()
    summary = run.report["summary"]
    assert (summary["score"], summary["passed"], summary["skipped"]) == (1.0, len(ALL_IDS), 0)
    assert sum(len(row) for row in run.report["matrix"].values()) == 25
    assert {c["id"] for c in run.report["checks"]} >= set(VALIDATION_IDS)
    assert run.report["target"]["embedded"] is True
    run.result.stdout.fnmatch_lines(["*verdict: CONFORMANT*score: 1.000*", "*profile: 8.15 (from version)*"])


def test_parallel_run_gives_the_same_verdict_and_one_report(
    embedded_run: SuiteRun, run_suite: Callable[..., Any]
) -> None:
    serial = embedded_run
    parallel = run_suite("embedded", "-n", "2")
    assert parallel.ret == 0, parallel.result.stdout.str()
    assert parallel.report["summary"] == serial.report["summary"]
    assert [c["id"] for c in parallel.report["checks"]] == [c["id"] for c in serial.report["checks"]]


def test_parallel_run_catches_a_mutant_too(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    run = run_suite(server.url, "-n", "2")
    assert run.ret == 1
    assert run.not_passed() == {"transition[needs_configuration->error]": "failed"}
    assert not server.target.connectors


def test_node_ids_ignore_the_users_collection_settings(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        python_files = check_*.py
        python_functions = verify_*
        testpaths = nowhere
        """
    )
    pytester.makeconftest("collect_ignore_glob = ['*']")
    pytester.makepyfile(test_users_own="def test_mine():\n    assert False\n")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--collect-only", "-q")
    assert result.ret == 0
    ids = [line for line in result.outlines if line.startswith("connector-contract::")]
    assert ids == [f"connector-contract::{check_id}" for check_id in ALL_IDS]
    assert "test_mine" not in result.stdout.str()


def test_keyword_selection_by_check_id(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "-k", "transition and error", "-q")
    assert result.ret == 0
    expected = {i for i in ALL_IDS if i.startswith("transition[") and "error" in i}
    result.assert_outcomes(passed=len(expected), deselected=len(ALL_IDS) - len(expected))


def test_check_ids_given_as_arguments_select_those_checks(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--connector-url",
        "embedded",
        "connector-contract::validation[empty-body]",
        "connector-contract::transition[created->error]",
        "-v",
    )
    assert result.ret == 0
    result.assert_outcomes(passed=2)


def test_an_unknown_check_id_argument_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "connector-contract::nope[x]")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no check of the suite matches 'nope?x?'*"])


def test_last_failed_reruns_only_the_failing_check(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    from support.mutants import AcceptsForbiddenTransition

    server = start_target(AcceptsForbiddenTransition())
    first = pytester.runpytest_subprocess("--connector-url", server.url)
    assert first.ret == 1
    again = pytester.runpytest_subprocess("--connector-url", server.url, "--lf", "-v")
    assert again.ret == 1
    # the official client's refusals and the captured clients' refused requests ask for the same forbidden
    # transition, so they fail as well
    refusals = [c.id for c in SPEC.checks if c.kind == "client" and c.id.endswith("/refused]")]
    failing = 1 + sum(check_id.endswith("/refused]") for check_id in OFFICIAL_IDS) + len(refusals)
    again.assert_outcomes(failed=failing, deselected=len(ALL_IDS) - failing)
    again.stdout.fnmatch_lines(["connector-contract::transition?created->connected? FAILED*"])


def test_without_a_target_the_plugin_adds_no_tests_and_its_fixtures_still_work(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mine="""
        def test_drive_a_connector(connector_factory, connector_client, connector_target):
            assert connector_target.embedded and connector_target.profile == "8.15"
            connector = connector_factory(status="connected")
            answer = connector_client.update_status(connector.id, "error")
            assert answer.status == 200
            assert connector_client.get_connector(connector.id).json["status"] == "error"
        """
    )
    result = pytester.runpytest_subprocess("-v")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    assert "connector-contract::" not in result.stdout.str()


def test_explicit_paths_with_a_target_run_the_users_tests_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_one(connector_target):\n    assert connector_target.version\n")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "test_mine.py")
    assert result.ret == 0
    result.assert_outcomes(passed=1)


def test_disabling_the_plugin_removes_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:connector_contract")
    result.assert_outcomes(passed=1)
    refused = pytester.runpytest_subprocess("-p", "no:connector_contract", "--connector-url", "embedded")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR


def test_forcing_the_older_profile_against_a_newer_target_fails_the_self_transitions(
    run_suite: Callable[..., Any],
) -> None:
    run = run_suite("embedded", "--connector-profile", "8.13")
    assert run.ret == 1
    assert run.report["profile"] == "8.13"
    assert run.report["target"]["profile_source"] == "option"
    self_cells = {f"transition[{s}->{s}]" for s in ("configured", "connected", "error")}
    assert set(run.not_passed()) == self_cells


def test_serverless_is_tested_with_the_newest_profile_whatever_its_version(
    release_run: Callable[[str], tuple[ReferenceServer, SuiteRun]],
) -> None:
    _, run = release_run("serverless")  # GET / says 8.11.0, below the minimum, and build_flavor serverless
    assert run.ret == 0, run.result.stdout.str()
    assert (run.report["profile"], run.report["target"]["profile_source"]) == ("8.15", "serverless")


class RefusesFirstSetupStep(ReferenceTarget):
    """Refuses created -> needs_configuration, the first step towards three source statuses."""

    def transition_allowed(self, current: str, requested: str) -> bool:
        return (current, requested) != ("created", "needs_configuration") and super().transition_allowed(
            current, requested
        )


def test_cells_whose_source_status_is_unreachable_are_blocked_not_failed(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(RefusesFirstSetupStep())
    run = run_suite(server.url)
    assert run.ret == 1
    assert run.outcome("transition[created->needs_configuration]") == "failed"
    blocked = {i: o for i, o in run.not_passed().items() if o == "blocked"}
    unreachable = ("needs_configuration", "configured", "connected")
    assert set(blocked) == {f"transition[{a}->{b}]" for a in unreachable for b in SPEC.statuses}
    cell = run.report["matrix"]["connected"]["error"]
    assert (cell["outcome"], cell["blocked_by"]) == ("blocked", "transition[created->needs_configuration]")
    assert run.report["summary"]["blocked"] == 15
    run.result.stdout.fnmatch_lines(["*blocked by transition?created->needs_configuration?*"])


def test_a_run_where_every_check_is_blocked_is_not_green(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(RefusesFirstSetupStep())
    run = run_suite(server.url, "connector-contract::transition[connected->")
    assert run.report["summary"]["executed"] > 0
    assert set(run.not_passed().values()) == {"blocked"}
    assert run.ret == 1


def test_deselecting_every_check_is_not_green(run_suite: Callable[..., Any]) -> None:
    run = run_suite("embedded", "-k", "no_such_check")
    assert run.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_connectors_created_by_others_are_left_byte_identical(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusalTouchesConnector

    for target in (ReferenceTarget(), RefusalTouchesConnector()):
        server = start_target(target)
        for connector_id in ("theirs", "ccontract-theirs"):
            answer = target.handle(
                "PUT",
                f"/_connector/{connector_id}",
                {},
                {"Content-Type": "application/json"},
                b'{"index_name": "idx-%s"}' % connector_id.encode(),
            )
            assert answer.status == 201
        before = {cid: json.dumps(target.snapshot(cid), sort_keys=True) for cid in ("theirs", "ccontract-theirs")}
        run_suite(server.url)
        after = {cid: json.dumps(target.snapshot(cid), sort_keys=True) for cid in ("theirs", "ccontract-theirs")}
        assert after == before
        assert sorted(target.connectors) == ["ccontract-theirs", "theirs"]


def test_keep_leaves_the_connectors_in_place(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target()
    run = run_suite(server.url, "--connector-keep", "connector-contract::transition[created->error]")
    assert run.ret == 0
    assert len(server.target.connectors) == 1


# -- preflight: one message and an early stop ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_target_stops_the_run_with_one_message(pytester: pytest.Pytester, quick_retries: object) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = pytester.runpytest_subprocess("--connector-url", url)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = result.stdout.str() + result.stderr.str()
    assert text.count(f"cannot reach the target {url}") == 1, text  # once: not repeated by pytest's "Exit:"
    assert "Connection refused" in text
    assert "Traceback" not in text
    assert "FAILED" not in text
    assert "passed" not in text


class OldElasticsearch(ReferenceTarget):
    """GET / reports 8.12.2 (the connector API exists there, _status does not)."""

    def info(self) -> dict[str, Any]:
        data = super().info()
        data["version"]["number"] = "8.12.2"
        return data


class NoConnectorApi(ReferenceTarget):
    """An Elasticsearch without the connector endpoints at all."""

    def dispatch(self, request: Any) -> Response:
        if request.path.startswith("/_connector"):
            return self.no_handler(request)
        return super().dispatch(request)


class NoStatusEndpoint(ReferenceTarget):
    """Connector endpoints without _status, reporting no version (so only the probe can tell)."""

    def routes(self) -> list[Any]:
        return [route for route in super().routes() if not route.pattern.endswith("/_status")]

    def info(self) -> dict[str, Any]:
        return {"name": "not-elasticsearch", "tagline": "Something else"}


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        (OldElasticsearch(), (), "runs Elasticsearch 8.12.2, older than 8.13"),
        (NoConnectorApi(), (), "has no connector API"),
        (NoStatusEndpoint(), ("--connector-profile", "8.15"), "no PUT _connector/<id>/_status endpoint"),
        (NoStatusEndpoint(), (), "cannot tell which Elasticsearch version"),
    ],
    ids=["older-than-8.13", "no-connector-api", "no-status-endpoint", "no-version"],
)
def test_unsuitable_target_stops_the_run_with_one_message(
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    target: ReferenceTarget,
    args: tuple[str, ...],
    message: str,
) -> None:
    server = start_target(target)
    result = pytester.runpytest_subprocess("--connector-url", server.url, *args)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = result.stdout.str() + result.stderr.str()
    assert text.count(message) == 1, text  # the one-line reason, once: not per check, not repeated by pytest
    assert "Traceback" not in text
    assert not target.connectors


def test_credentials_in_the_url_are_never_printed(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], pytester: pytest.Pytester
) -> None:
    from support.mutants import AcceptsForbiddenTransition

    server = start_target(AcceptsForbiddenTransition())
    secret_url = server.url.replace("http://", "http://elastic:s3cr3t-pa55@")
    run = run_suite(secret_url)
    assert run.ret == 1
    text = run.result.stdout.str() + run.result.stderr.str() + (pytester.path / "conformance.json").read_text()
    assert "s3cr3t-pa55" not in text
    assert run.report["target"]["url"] == server.url
    assert "<redacted>" in json.dumps(run.check("transition[created->connected]")["exchanges"])
