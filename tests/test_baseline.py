"""The baseline: accepted deviations keep a run green, and the baseline can only shrink."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.mutants import MUTANTS, Mutant

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reports.baseline import REASON_TO_FILL, BaselineError, parse, render

SPEC = load_spec()
CELL = "transition[needs_configuration->error]"
PASSING = "transition[created->error]"
#: the checks a gate test needs where its claim is about one entry, not the whole run: the failing cell and the
#: other transitions from its state (one of them passing), not the 110 checks of the suite
AROUND_CELL = "connector-contract::transition[needs_configuration->"
TODAY = dt.date(2026, 6, 1)


def _parse(text: str) -> Any:
    return parse(text, SPEC, path="b.toml", today=TODAY)


def _error(text: str) -> str:
    with pytest.raises(BaselineError) as info:
        _parse(text)
    return str(info.value)


# -- reading ---------------------------------------------------------------------------------------
def test_a_full_entry_is_read_with_its_date() -> None:
    baseline = _parse(
        f"""
        [[expected_failure]]
        check = "{CELL}"   # a check id
        reason = "our proxy forbids this; INFRA-123"
        link = "https://tracker.example/INFRA-123"
        expires = 2027-03-01

        [[expected_failure]]
        check = "{PASSING}"
        reason = "another"
        """
    )
    first, second = baseline.entries
    assert (first.check, first.reason, first.link, first.expires) == (
        CELL,
        "our proxy forbids this; INFRA-123",
        "https://tracker.example/INFRA-123",
        dt.date(2027, 3, 1),
    )
    assert (second.link, second.expires) == (None, None)
    assert set(baseline.applied()) == {CELL, PASSING}
    assert first.line == 2


def test_an_empty_file_is_an_empty_baseline() -> None:
    assert _parse("").entries == ()


def test_an_entry_expires_on_its_date() -> None:
    text = f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\nexpires = {{}}\n'
    assert _parse(text.format("2026-06-02")).expired() == []
    assert [e.check for e in _parse(text.format("2026-06-01")).expired()] == [CELL]
    assert _parse(text.format("2026-06-01")).applied() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f'\n\n[[expected_failure]]\ncheck = "{CELL}"\n',
            f"b.toml:3: expected_failure[0] ({CELL}): 'reason' is a required",
        ),
        (
            f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\n\n[[expected_failure]]\ncheck = "{PASSING}"\n'
            'reason = "  "\n',
            f"b.toml:7: expected_failure[1] ({PASSING}): reason must say why",
        ),
        (
            f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\nowner = "me"\n',
            "b.toml:4: expected_failure[0] (transition[needs_configuration->error]): Additional properties",
        ),
        (
            f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\nexpires = 2027-03-01T10:00:00\n',
            "b.toml:4: expected_failure[0] (transition[needs_configuration->error]): expires must be a date",
        ),
        (f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\nexpires = "2027-13-01"\n', "b.toml:4:"),
        ('[[expected_failure]]\ncheck = "created->error"\nreason = "r"\n', "b.toml:2: expected_failure[0]"),
        ('title = "x"\n\n[[expected_failures]]\ncheck = "a[b]"\n', "b.toml:1: Additional properties"),
        ('[[expected_failure]]\ncheck = "a[b]\nreason = "r"\n', "b.toml:2: not valid TOML"),
        (
            '[[expected_failure]]\ncheck = "transition[created->paused]"\nreason = "r"\n',
            "b.toml:1: expected_failure[0] names 'transition[created->paused]', which is not a check of the suite",
        ),
        (
            f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "r"\n'
            f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "s"\n',
            f"b.toml:4: '{CELL}' is listed twice (first on line 1)",
        ),
    ],
    ids=[
        "no-reason",
        "blank-reason",
        "unknown-key",
        "date-time",
        "bad-date",
        "not-an-id",
        "unknown-table",
        "bad-toml",
        "unknown-check",
        "duplicate",
    ],
)
def test_a_bad_baseline_names_the_file_and_line(text: str, message: str) -> None:
    assert message in _error(text)


# -- writing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reason",
    ["plain", 'quote " and backslash \\ and # hash', "new\nline\ttab", "control \x01\x1f\x7f", "unicode é ✓ 🚀", "'"],
)
def test_what_is_written_parses_back_and_validates(reason: str) -> None:
    entries = [
        {"check": CELL, "reason": reason, "link": "https://t.example/1?a=b#c", "expires": "2027-03-01", "note": reason},
        {"check": PASSING, "note": "failed: HTTP 400\nsecond line"},
    ]
    text = render(entries, header="from a run\nwith two lines")
    data = tomllib.loads(text)
    instance = json.loads(json.dumps(data, default=str))
    assert schemas.problems("baseline", instance) == []
    assert data["expected_failure"][0] == {
        "check": CELL,
        "reason": reason,
        "link": "https://t.example/1?a=b#c",
        "expires": dt.date(2027, 3, 1),
    }
    assert data["expected_failure"][1] == {"check": PASSING, "reason": REASON_TO_FILL}
    assert [e.check for e in _parse(text).entries] == [CELL, PASSING]


# -- the gate, run as users run it -----------------------------------------------------------------
def _write(path: Path, *entries: str) -> Path:
    path.write_text("".join(entries), encoding="utf-8")
    return path


def _entry(check: str, reason: str = "our proxy forbids this; INFRA-123", extra: str = "") -> str:
    return f'[[expected_failure]]\ncheck = "{check}"\nreason = "{reason}"\n{extra}\n'


@pytest.mark.parametrize("parallel", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_baseline_listing_the_failing_cell_makes_the_run_green(
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., Any],
    tmp_path: Path,
    parallel: tuple[str, ...],
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    baseline = _write(tmp_path / "baseline.toml", _entry(CELL, extra='link = "https://tracker.example/INFRA-123"'))
    run = run_suite(server.url, "--connector-baseline", str(baseline), *parallel)
    assert run.ret == 0, run.result.stdout.str()
    assert schemas.problems("conformance-report", run.report) == []
    assert run.not_passed() == {CELL: "xfailed"}
    check = run.check(CELL)
    assert check["baseline"] == {
        "check": CELL,
        "reason": "our proxy forbids this; INFRA-123",
        "link": "https://tracker.example/INFRA-123",
        "expires": None,
    }
    assert check["reproduction"]  # the evidence stays on an accepted deviation
    summary = run.report["summary"]
    assert summary["conformant"] is True
    assert (summary["xfailed"], summary["xfailed_baseline"]) == (1, 1)
    total = len(SPEC.checks) + len(official_checks(SPEC))  # the official client's checks pass too
    assert summary["score"] == round((total - 1) / total, 6)  # accepted, but still not conformance
    assert run.report["baseline"]["expected_failures"] == [CELL]
    run.result.stdout.fnmatch_lines([f"*{total - 1} passed, 1 xfailed*"])
    run.result.stdout.fnmatch_lines(["XFAIL    transition?needs_configuration->error?: baseline: our proxy forbids*"])


@pytest.mark.parametrize("target", ["mutant", "embedded"])
def test_a_baseline_listing_a_passing_check_fails_the_run(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path, target: str
) -> None:
    from support.mutants import RefusesAllowedTransition

    url = start_target(RefusesAllowedTransition()).url if target == "mutant" else "embedded"
    entries = [_entry(PASSING, "was broken once")] + ([_entry(CELL)] if target == "mutant" else [])
    baseline = _write(tmp_path / "baseline.toml", *entries)
    parallel = ("-n", "2") if target == "mutant" else ()
    selected = [f"connector-contract::{check}" for check in (PASSING, CELL)]
    run = run_suite(url, "--connector-baseline", str(baseline), *parallel, *selected)
    assert run.ret == 1, run.result.stdout.str()
    assert run.outcome(PASSING) == "xpassed"
    assert run.report["summary"]["conformant"] is False
    (problem,) = run.report["baseline"]["problems"]
    assert problem["check"] == PASSING
    assert problem["kind"] == "passes"
    assert "remove the entry" in problem["message"]
    run.result.stdout.fnmatch_lines(
        ["BASELINE baseline entry transition?created->error? no longer fails: the check passes now; remove the entry *"]
    )


def test_an_expired_entry_no_longer_applies_and_fails_the_run(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    baseline = _write(tmp_path / "baseline.toml", _entry(CELL, extra="expires = 2020-01-01"))
    run = run_suite(server.url, "--connector-baseline", str(baseline), AROUND_CELL)
    assert run.ret == 1
    assert run.outcome(CELL) == "failed"
    run.result.stdout.fnmatch_lines(
        ["BASELINE baseline entry transition?needs_configuration->error? expired on 2020-01-01 (reason: our proxy*"]
    )


def test_an_expired_entry_fails_even_a_run_where_everything_passes(
    run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    baseline = _write(tmp_path / "baseline.toml", _entry(CELL, extra="expires = 2020-01-01"))
    run = run_suite("embedded", "--connector-baseline", str(baseline), AROUND_CELL)
    assert run.ret == 1
    assert run.not_passed() == {}
    assert [p["kind"] for p in run.report["baseline"]["problems"]] == ["expired"]


def test_an_entry_not_yet_expired_applies(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    baseline = _write(tmp_path / "baseline.toml", _entry(CELL, extra="expires = 2999-01-01"))
    run = run_suite(server.url, "--connector-baseline", str(baseline), AROUND_CELL)
    assert run.ret == 0
    assert run.check(CELL)["baseline"]["expires"] == "2999-01-01"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            _entry("transition[created->paused]"),
            "baseline.toml:1: expected_failure?0? names 'transition?created->paused?'",
        ),
        ('[[expected_failure]]\ncheck = "transition[created->error]"\n', "baseline.toml:1: *'reason' is a required"),
        (None, "no such baseline file"),
    ],
    ids=["unknown-check", "schema", "missing-file"],
)
def test_an_unusable_baseline_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-baseline", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --connector-baseline: *{message}*"])


def test_the_baseline_can_come_from_the_environment(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path, monkeypatch: Any
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    monkeypatch.setenv("CONNECTOR_BASELINE", str(_write(tmp_path / "b.toml", _entry(CELL))))
    run = run_suite(server.url, AROUND_CELL)
    assert run.ret == 0
    assert run.report["configuration"]["baseline"] == {"value": str(tmp_path / "b.toml"), "source": "env"}


def test_a_written_baseline_lists_the_failures_and_turns_the_same_run_green(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    written = tmp_path / "new-baseline.toml"
    first = run_suite(server.url, "--connector-baseline-write", str(written), AROUND_CELL)
    assert first.ret == 1
    first.result.stdout.fnmatch_lines([f"baseline written: {written} (1 entries; write the reason for each*"])
    text = written.read_text(encoding="utf-8")
    assert tomllib.loads(text) == {"expected_failure": [{"check": CELL, "reason": REASON_TO_FILL}]}
    assert "# failed: expected HTTP 200, got HTTP 400 status_exception" in text
    second = run_suite(server.url, "--connector-baseline", str(written), AROUND_CELL)
    assert second.ret == 0
    # Writing again from a run with the baseline keeps the entry and its reason.
    third = run_suite(
        server.url, "--connector-baseline", str(written), "--connector-baseline-write", str(written), AROUND_CELL
    )
    assert third.ret == 0
    assert tomllib.loads(written.read_text(encoding="utf-8"))["expected_failure"][0]["reason"] == REASON_TO_FILL


# -- every kind of check round-trips ---------------------------------------------------------------
def _one_of_each_kind() -> dict[str, str]:
    """A check id of every kind: the default catalogue's, the optional ones' and an exploration walk's."""
    ids: dict[str, str] = {}
    for check in (*SPEC.checks, *SPEC.optional_checks, *SPEC.explore_checks(3, seed=1)):
        ids.setdefault(check.kind, check.id)
    return ids


KIND_IDS = _one_of_each_kind()


def test_every_kind_of_check_has_an_id_to_try() -> None:
    assert set(KIND_IDS) == {
        "transition", "validation", "not_found", "response", "unchanged", "client", "explore", "race", "privileges",
    }  # fmt: skip


@pytest.mark.parametrize("kind", sorted(KIND_IDS))
def test_a_baseline_may_name_a_check_of_every_kind(kind: str) -> None:
    check_id = KIND_IDS[kind]
    baseline = _parse(render([{"check": check_id, "reason": "accepted for now"}]))
    assert list(baseline.applied()) == [check_id]


@pytest.mark.parametrize("check_id", ["explore[0]", "explore[01]", "explore[x]", "race[no-such-case]"])
def test_a_baseline_naming_no_possible_check_is_refused(check_id: str) -> None:
    assert "which is not a check of the suite" in _error(_entry(check_id))


OPTIONAL_MUTANTS = [m for m in MUTANTS if m.args]


@pytest.mark.parametrize("mutant", OPTIONAL_MUTANTS, ids=[m.name for m in OPTIONAL_MUTANTS])
def test_a_written_baseline_of_an_optional_check_is_read_back_by_the_gate(
    mutant: Mutant, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    server = start_target(mutant.target(mutant.es_version))
    written = tmp_path / "baseline.toml"
    # The checks of the catching check's kind, from the same state where it is a transition: enough for the
    # round trip, which does not need the other 100 checks of the default suite.
    kind, _, case = mutant.caught_by.partition("[")
    selected = f"connector-contract::{kind}[" + (case.partition("->")[0] + "->" if kind == "transition" else "")
    first = run_suite(server.url, *mutant.args, "--connector-baseline-write", str(written), selected)
    assert first.ret == 1, first.result.stdout.str()
    failed = first.not_passed()
    assert failed[mutant.caught_by] == "failed"
    listed = [e["check"] for e in tomllib.loads(written.read_text(encoding="utf-8"))["expected_failure"]]
    assert sorted(listed) == sorted(failed)
    second = run_suite(server.url, *mutant.args, "--connector-baseline", str(written), selected)
    assert second.ret == 0, second.result.stdout.str() + second.result.stderr.str()
    assert second.not_passed() == dict.fromkeys(failed, "xfailed")
    assert second.report is not None
    assert sorted(second.report["baseline"]["expected_failures"]) == sorted(failed)
    assert second.report["summary"]["conformant"] is True
