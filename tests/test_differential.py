"""Differential conformance: a target judged against a reference (a live cluster, or a recording) as well as
against the suite's expectations, end to end over real HTTP, with the outcome table covered row by row."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.mutants import (
    MISSED_BY_COMPARISON,
    MUTANTS,
    Mutant,
    RefusesAllowedTransition,
    ServerErrorOnRefusal,
    WrongRefusalType,
    WrongResultWord,
)
from support.runs import SuiteRun, run_with_report

from pytest_connector_contract.contract.spec import VersionRange, load_spec, parse_version
from pytest_connector_contract.differential.compare import combine, compare_steps
from pytest_connector_contract.differential.normalise import NOT_COMPARED, normalise_exchanges
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

Start = Callable[..., ReferenceServer]
SUITE = "connector-contract::"
RunSuite = Callable[..., SuiteRun]


def _section(run: SuiteRun) -> dict[str, Any]:
    assert run.report is not None, run.result.stdout.str()
    section = run.report["differential"]
    assert section is not None
    return dict(section)


def _differing(run: SuiteRun) -> set[str]:
    return {check["id"] for check in _section(run)["differing"]}


def _left(*servers: ReferenceServer) -> list[str]:
    return sorted(cid for server in servers for cid in server.target.connectors)


# -- the rules, without a run -------------------------------------------------------------------------
def _exchange(method: str, path: str, status: int | None, body: Any = None, **headers: str) -> dict[str, Any]:
    response = None
    if status is not None:
        shown = {"Content-Type": "application/json", "X-elastic-product": "Elasticsearch", **headers}
        response = {"status": status, "headers": shown, "body": json.dumps(body) if body is not None else None}
    return {"request": {"method": method, "path": path, "headers": {}, "body": None}, "response": response}


def test_ids_line_col_prefixes_parser_wording_and_retried_attempts_are_normalised() -> None:
    def run(prefix: str, number: int, parser_text: str, retried: bool) -> list[dict[str, Any]]:
        cid = f"{prefix}-{number}"
        error = {
            "root_cause": [{"type": "x_content_parse_exception", "reason": f"[1:{number}] {parser_text}"}],
            "type": "x_content_parse_exception",
            "reason": f"[1:{number}] {parser_text}",
            "caused_by": {"type": "json_parse_exception", "reason": parser_text},
        }
        exchanges = [_exchange("GET", f"/_connector/{cid}", 503)] if retried else []
        exchanges += [
            _exchange(
                "GET",
                f"/_connector/{cid}",
                404,
                {
                    "error": {"type": "resource_not_found_exception", "reason": f"[2:3] connector [{cid}] not found"},
                    "status": 404,
                },
            ),
            _exchange("PUT", f"/_connector/{cid}/_status", 400, {"error": error, "status": 400}),
        ]
        return normalise_exchanges(exchanges, prefix)

    ours, theirs = (
        run("ccontract-aa", 7, "Unrecognized token 'x'", True),
        run("ccontract-bb", 12, "Jackson: bad", False),
    )
    assert compare_steps(ours, theirs, same_release=True) == []
    assert ours[0]["answer"]["body"]["error"]["reason"] == "connector [<connector-1>] not found"
    assert ours[1]["answer"]["body"]["error"]["reason"] == NOT_COMPARED


def test_a_stable_reason_is_compared_and_runs_of_different_lengths_differ() -> None:
    def refusal(reason: str) -> list[dict[str, Any]]:
        body = {
            "error": {
                "root_cause": [{"type": "status_exception", "reason": reason}],
                "type": "status_exception",
                "reason": reason,
            },
            "status": 400,
        }
        return normalise_exchanges([_exchange("PUT", "/_connector/p-1/_status", 400, body)], "p")

    differences = compare_steps(refusal("from [a] to [b]"), refusal("Invalid."), same_release=True)
    assert {d["field"] for d in differences} == {"body.error.reason", "body.root_cause"}
    longer = refusal("x") + refusal("x")
    assert compare_steps(longer, refusal("x"), same_release=True) == [
        {
            "step": 2,
            "request": longer[1]["request"],
            "field": "request",
            "target": longer[1]["request"],
            "reference": "(no such step)",
        }
    ]


def test_a_connector_read_back_is_compared_whole_on_one_release_and_by_its_changes_across_releases() -> None:
    def reads(pipeline: str, status: str) -> list[dict[str, Any]]:
        first = {"id": "p-1", "status": "created", "pipeline": pipeline}
        return normalise_exchanges(
            [
                _exchange("GET", "/_connector/p-1", 200, first),
                _exchange("GET", "/_connector/p-1", 200, {**first, "status": status}),
            ],
            "p",
        )

    assert compare_steps(reads("old", "error"), reads("new", "error"), same_release=False) == []
    assert compare_steps(reads("old", "error"), reads("new", "error"), same_release=True) != []
    assert [d["field"] for d in compare_steps(reads("a", "error"), reads("a", "created"), same_release=False)] == [
        "changed.status"
    ]


@pytest.mark.parametrize(
    ("target", "reference", "differs", "same_release", "outcome", "listing"),
    [
        ("passed", "passed", False, True, "passed", None),
        ("xfailed", "xfailed", False, True, "xfailed", None),
        ("failed", "failed", False, True, "passed", "reference-departs"),
        ("passed", "passed", True, True, "failed", None),
        ("xfailed", "passed", True, True, "failed", None),
        ("passed", "passed", True, False, "passed", "changed-as-documented"),
        ("passed", "xfailed", True, False, "passed", "changed-as-documented"),
        ("passed", "failed", True, False, "passed", "reference-departs"),
        ("failed", "passed", True, False, "failed", None),
        ("failed", "passed", True, True, "failed", None),
    ],
)
def test_the_outcome_table(
    target: str, reference: str, differs: bool, same_release: bool, outcome: str, listing: str | None
) -> None:
    verdict = combine(target, reference, differs, same_release=same_release)
    assert (verdict.outcome, verdict.listing) == (outcome, listing)


# -- end to end: a live reference cluster -------------------------------------------------------------
def test_faithful_against_faithful_is_conformant_and_leaves_nothing_on_either(
    start_target: Start, run_suite: RunSuite
) -> None:
    target, reference = start_target(), start_target()
    run = run_suite(target.url, "--connector-reference-url", reference.url)
    assert run.ret == 0, run.result.stdout.str()
    section = _section(run)
    executed = run.report["summary"]["executed"] - _official_client_checks_run(run)  # type: ignore[index]
    assert section["compared"] == executed > 50
    assert section["differing"] == section["reference_departures"] == section["documented_changes"] == []
    run.result.stdout.fnmatch_lines(
        [f"*reference cluster {reference.url} (Elasticsearch 9.1.0)*", "*checks compared, 0 differ*"]
    )
    assert _left(target, reference) == []


def _official_client_checks_run(run: Any) -> int:
    """The official client's checks that ran: never compared (NOT_COMPARED_KINDS), like the optional kinds."""
    return sum(1 for c in run.report["checks"] if c["category"] == "official_client" and c["outcome"] != "skipped")


@pytest.fixture(scope="module")
def faithful(start_module_target: Callable[..., ReferenceServer]) -> Callable[[str], ReferenceServer]:
    """Faithful reference clusters shared by the module's runs, one per release."""
    servers: dict[str, ReferenceServer] = {}

    def get(version: str) -> ReferenceServer:
        if version not in servers:
            servers[version] = start_module_target(ReferenceTarget(version))
        return servers[version]

    return get


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_mutant_is_caught_by_the_comparison_alone(
    mutant: Mutant, start_target: Start, run_suite: RunSuite, faithful: Callable[[str], ReferenceServer]
) -> None:
    target, reference = start_target(mutant.target(mutant.es_version)), faithful(mutant.es_version)
    # The check named for the mutant alone: the comparison must tell it from the reference
    run = run_suite(target.url, "--connector-reference-url", reference.url, *mutant.args, f"{SUITE}{mutant.caught_by}")
    assert run.ret == 1, run.result.stdout.str()
    check = run.check(mutant.caught_by)
    if mutant.name in MISSED_BY_COMPARISON:
        assert check["differential"]["compared"] is False, check["differential"]
    else:
        assert mutant.caught_by in _differing(run), _section(run)["differing"]
        assert check["outcome"] == "failed"
        assert any(p.startswith("unlike the reference (") for p in check["problems"]), check["problems"]
    assert _left(target, reference) == []


def test_the_comparison_misses_only_the_mutants_it_names() -> None:
    assert set(MISSED_BY_COMPARISON) <= {m.name for m in MUTANTS}
    assert len(MUTANTS) - len(MISSED_BY_COMPARISON) == 57


def test_a_mutant_as_target_and_reference_passes_and_lists_the_reference_departures(
    start_target: Start, run_suite: RunSuite
) -> None:
    server = start_target(WrongRefusalType())
    # the official client's checks are not compared (NOT_COMPARED_KINDS): its refusals fail on their own here
    run = run_suite(server.url, "--connector-reference-url", server.url, "-k", "not official_client")
    assert run.ret == 0, run.result.stdout.str()
    assert set(run.not_passed()) == set()
    departures = {d["id"]: d for d in _section(run)["reference_departures"]}
    assert "transition[connected->needs_configuration]" in departures
    assert departures["transition[connected->needs_configuration]"]["release"] == "9.1.0"
    assert any("status_exception" in p for p in departures["transition[connected->needs_configuration]"]["problems"])
    assert (
        "REFERENCE DEPARTS transition[connected->needs_configuration]: the reference (9.1.0) answers as the "
        "target does, unlike the suite's expectation; please report it to the project"
    ) in run.result.stdout.str()
    assert _left(server) == []


def test_a_target_that_meets_the_suite_but_answers_unlike_a_reference_of_its_release_fails(
    start_target: Start, run_suite: RunSuite
) -> None:
    target, reference = start_target(), start_target(WrongResultWord())
    # the check the test reads alone: what it claims is about that check, not the whole run
    run = run_suite(target.url, "--connector-reference-url", reference.url, f"{SUITE}transition[created->error]")
    assert run.ret == 1
    check = run.check("transition[created->error]")
    assert check["outcome"] == "failed"
    assert check["differential"]["own_outcome"] == "passed"
    assert {"field": "body.result", "target": "updated", "reference": "ok"}.items() <= check["differential"][
        "differences"
    ][0].items()
    run.result.stdout.fnmatch_lines(["*body.result: target updated, reference ok*"])
    assert _left(target, reference) == []


def test_across_releases_a_reference_that_departs_for_its_own_release_is_listed_not_failed(
    start_target: Start, run_suite: RunSuite
) -> None:
    target, reference = start_target(), start_target(ServerErrorOnRefusal("8.14.3"))
    run = run_suite(target.url, "--connector-reference-url", reference.url)
    assert run.ret == 0, run.result.stdout.str()
    departures = {d["id"]: d["release"] for d in _section(run)["reference_departures"]}
    assert departures["transition[created->connected]"] == "8.14.3"
    assert "transition[configured->configured]" in departures  # 8.14 refuses it, with a 500 here
    assert run.outcome("transition[created->connected]") == "passed"
    assert _left(target, reference) == []


def test_a_failure_of_the_target_alone_is_failed(start_target: Start, run_suite: RunSuite) -> None:
    target, reference = start_target(RefusesAllowedTransition()), start_target()
    cell = "transition[needs_configuration->error]"
    run = run_suite(target.url, "--connector-reference-url", reference.url, f"{SUITE}{cell}")  # the check alone
    assert run.ret == 1
    check = run.check(cell)
    assert (check["outcome"], check["differential"]["own_outcome"]) == ("failed", "failed")
    assert any(p.startswith("expected HTTP 200") for p in check["problems"])


#: the credentials of the embedded run below: its target's API key and its reference's password (test values)
KEY_ID, KEY, REFERENCE_PASSWORD = "recorder", "Rec0rdingSecretValue", "Ref3renceSecretPassword"


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    """One run, read by the two tests below: the embedded target (with an API key) judged against the embedded
    reference (with a user and password) under xdist, recorded. Returns the run and its recording."""
    directory = tmp_path_factory.mktemp("embedded-reference")
    recording = directory / "recording.json"
    run = run_with_report(
        directory, "embedded", "--connector-api-key", f"{KEY_ID}:{KEY}",
        "--connector-reference-url", "embedded", "--connector-reference-embedded-version", "9.1.0",
        "--connector-reference-user", "elastic", "--connector-reference-password", REFERENCE_PASSWORD,
        "-n", "2", "--connector-record", str(recording),
    )  # fmt: skip
    assert run.ret == 0, run.result.stdout.str()
    return run, recording


def test_the_embedded_reference_and_xdist(embedded_run: tuple[SuiteRun, Path]) -> None:
    run, recording = embedded_run
    executed = run.report["summary"]["executed"] - _official_client_checks_run(run)  # type: ignore[index]
    assert _section(run)["compared"] == executed
    recorded = json.loads(recording.read_text())
    assert {c["id"] for c in recorded["checks"]} == {c["id"] for c in run.report["checks"]}  # type: ignore[index]


# -- recordings ---------------------------------------------------------------------------------------
def _documented_changes(old: str, new: str) -> set[str]:
    """The checks whose expectations the spec gives differently for the two releases, and which run on both."""
    spec = load_spec()
    releases = [parse_version(old), parse_version(new)]
    assert None not in releases
    before, after = releases  # type: ignore[misc]
    changed = {
        f"transition[{a}->{b}]"
        for a in spec.statuses
        for b in spec.statuses
        if spec.profile_for_version(before).allows(a, b) != spec.profile_for_version(after).allows(a, b)  # type: ignore[union-attr, arg-type]
    }
    for case in spec.validation_cases:
        check = f"validation[{case.id}]"
        if case.applies(before) and case.applies(after):  # type: ignore[arg-type]
            deviations = [spec.deviation_for(check, release) for release in (before, after)]
            if case.expect_for(before) != case.expect_for(after) or deviations[0] != deviations[1]:  # type: ignore[arg-type]
                changed.add(check)
    # the unchanged checks' setup follows _error, which sets the status only on some releases
    error_sets_status = VersionRange.from_data(spec.raw["unchanged"]["error_sets_status"])
    if (before in error_sets_status) != (after in error_sets_status):
        changed |= {check.id for check in spec.checks if check.kind == "unchanged"}
    return changed


@pytest.fixture(scope="module")
def recording_8_14(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of the embedded 8.14.3 target, made once: the tests only read it."""
    directory = tmp_path_factory.mktemp("recording-8.14.3")
    path = directory / "recording-8.14.3.json"
    run = run_with_report(
        directory, "embedded", "--connector-embedded-version", "8.14.3", "--connector-record", str(path)
    )
    assert run.ret == 0, run.result.stdout.str()
    run.result.stdout.fnmatch_lines([f"recording: {path}"])
    return path


def test_a_recording_of_8_14_replayed_against_9_1_lists_exactly_the_documented_changes(
    recording_8_14: Path, start_target: Start, run_suite: RunSuite
) -> None:
    target = start_target(ReferenceTarget("9.1.0"))
    run = run_suite(target.url, "--connector-expect-from", str(recording_8_14))
    assert run.ret == 0, run.result.stdout.str()
    documented = {c["id"] for c in _section(run)["documented_changes"]}
    expected = _documented_changes("8.14.3", "9.1.0")
    assert {"transition[configured->configured]", "validation[empty-body]", "validation[truncated-json]"} <= expected
    assert documented == expected == _differing(run)
    assert _section(run)["reference"]["source"] == "recording"
    skipped_there = run.check("validation[vendor-media-type-9]")  # applies to 9.x only
    assert (skipped_there["outcome"], skipped_there["differential"]["compared"]) == ("passed", False)
    assert "passed on the target and skipped on the reference" in skipped_there["differential"]["not_compared"]
    assert (
        "CHANGED  transition[configured->configured]: 8.14.3 -> 9.1.0, as the profiles document"
        in run.result.stdout.str()
    )
    assert _left(target) == []


def test_a_recording_replayed_against_a_mutant_fails(
    recording_8_14: Path, start_target: Start, run_suite: RunSuite
) -> None:
    target = start_target(WrongResultWord())
    run = run_suite(target.url, "--connector-expect-from", str(recording_8_14))
    assert run.ret == 1
    assert run.outcome("transition[created->error]") == "failed"


def test_a_recording_holds_no_secret_and_no_run_specific_id(embedded_run: tuple[SuiteRun, Path]) -> None:
    run, path = embedded_run
    text = path.read_text()
    forms = [
        KEY,
        base64.b64encode(f"{KEY_ID}:{KEY}".encode()).decode(),
        REFERENCE_PASSWORD,
        base64.b64encode(f"elastic:{REFERENCE_PASSWORD}".encode()).decode(),
    ]
    outputs = [text, json.dumps(run.report), run.result.stdout.str(), run.result.stderr.str()]
    assert [form for form in forms for output in outputs if form in output] == []
    assert "ccontract-" not in text
    assert "<connector-1>" in text


def _usage_error(run: SuiteRun, *lines: str) -> None:
    assert run.ret == 4, run.result.stdout.str() + run.result.stderr.str()
    run.result.stderr.fnmatch_lines(list(lines))


def test_bad_recordings_and_contradicting_options_are_usage_errors(
    run_suite: RunSuite, tmp_path: Path, recording_8_14: Path
) -> None:
    _usage_error(
        run_suite("embedded", "--connector-reference-url", "embedded", "--connector-expect-from", str(recording_8_14)),
        "*either --connector-reference-url*or --connector-expect-from*",
    )
    missing = tmp_path / "nowhere.json"
    _usage_error(run_suite("embedded", "--connector-expect-from", str(missing)), f"*{missing}: no such file*")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    _usage_error(run_suite("embedded", "--connector-expect-from", str(broken)), f"*{broken}: not JSON*")
    other = tmp_path / "other.json"
    other.write_text(recording_8_14.read_text().replace('"version": "0.', '"version": "99.', 1))
    _usage_error(
        run_suite("embedded", "--connector-expect-from", str(other)), "*recorded by pytest-connector-contract 99.*"
    )
    not_one = tmp_path / "not-one.json"
    not_one.write_text('{"checks": []}')
    _usage_error(run_suite("embedded", "--connector-expect-from", str(not_one)), "*is not a recording*")
    _usage_error(
        run_suite("embedded", "--connector-reference-api-key", "a:b"),
        "*--connector-reference-api-key need(s) --connector-reference-url*",
    )


def test_a_recording_lacking_a_selected_check_names_it(run_suite: RunSuite, tmp_path: Path) -> None:
    path = tmp_path / "part.json"
    assert run_suite("embedded", "--connector-record", str(path), "-k", "transition").ret == 0
    run = run_suite("embedded", "--connector-expect-from", str(path), "-k", "transition or empty-body")
    _usage_error(run, "*has no answers for 1 selected check(s): validation?empty-body?; record them*")
    assert run_suite("embedded", "--connector-expect-from", str(path), "-k", "transition").ret == 0
    under_xdist = run_suite("embedded", "--connector-expect-from", str(path), "-n", "2")
    assert under_xdist.ret == 1  # a worker's failed collection: the controller runs nothing
    others = sum(check.kind != "transition" for check in load_spec().checks)
    assert (
        f"has no answers for {others} selected check(s): validation[unknown-value]" in under_xdist.result.stdout.str()
    )
    assert under_xdist.report is not None
    assert under_xdist.report["summary"]["executed"] == 0


def test_an_unusable_reference_stops_the_run_naming_it(
    start_target: Start, run_suite: RunSuite, quick_retries: tuple[float, ...]
) -> None:
    target = start_target()
    run = run_suite(target.url, "--connector-reference-url", "http://127.0.0.1:9")
    assert run.ret == 2
    run.result.stdout.fnmatch_lines(
        ["*connector-contract: cannot reach the reference cluster http://127.0.0.1:9*Check --connector-reference-url*"]
    )
    assert _left(target) == []


def test_headers_are_compared_as_the_clients_read_them() -> None:
    def answer(content_type: str, allow: str, product: str | None) -> list[dict[str, Any]]:
        headers = {"Content-Type": content_type, "Allow": allow}
        if product is not None:
            headers["X-elastic-product"] = product
        exchange = _exchange("POST", "/_connector/p-1/_status", 405, {"error": "Incorrect HTTP method", "status": 405})
        exchange["response"]["headers"] = headers
        return normalise_exchanges([exchange], "p")

    same = answer("application/json; charset=UTF-8", "PUT, GET", "Elasticsearch")
    assert compare_steps(same, answer("Application/JSON", "GET,PUT", "Elasticsearch"), same_release=True) == []
    differences = compare_steps(same, answer("text/plain", "PUT", None), same_release=True)
    assert [(d["field"], d["target"], d["reference"]) for d in differences] == [
        ("headers.allow", "GET, PUT", "PUT"),
        ("headers.content-type", "application/json", "text/plain"),
        ("headers.x-elastic-product", "Elasticsearch", None),
    ]
