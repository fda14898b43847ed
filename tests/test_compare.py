"""--connector-compare: regressions, fixes, and checks new or gone since a previous report."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import parse_html

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reports.previous import compare

CELL = "transition[needs_configuration->error]"


def _report(**outcomes: str) -> dict[str, Any]:
    return {"generated_at": "2026-01-01T00:00:00Z", "checks": [{"id": i, "outcome": o} for i, o in outcomes.items()]}


def test_compare_sorts_changes_into_regressions_fixes_new_and_gone() -> None:
    previous = _report(a="passed", b="failed", c="passed", d="passed", e="xfailed", g="passed")
    current = [
        {"id": "a", "outcome": "failed"},
        {"id": "b", "outcome": "passed"},
        {"id": "c", "outcome": "passed"},
        {"id": "d", "outcome": "blocked"},
        {"id": "e", "outcome": "passed"},
        {"id": "f", "outcome": "failed"},
    ]
    result = compare(previous, current, path="prev.json")
    assert result["regressions"] == [
        {"id": "a", "before": "passed", "now": "failed"},
        {"id": "d", "before": "passed", "now": "blocked"},
    ]
    assert result["fixes"] == [
        {"id": "b", "before": "failed", "now": "passed"},
        {"id": "e", "before": "xfailed", "now": "passed"},
    ]
    assert result["new"] == [{"id": "f", "now": "failed"}]
    assert result["gone"] == [{"id": "g", "before": "passed"}]
    assert result["previous"]["path"] == "prev.json"


def test_the_mutant_run_compared_with_the_embedded_run_names_exactly_the_regression(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], pytester: pytest.Pytester
) -> None:
    from support.mutants import RefusesAllowedTransition

    good = run_suite("embedded")
    assert good.ret == 0
    previous = pytester.path / "previous.json"
    shutil.copy(pytester.path / "conformance.json", previous)
    server = start_target(RefusesAllowedTransition())
    html = pytester.path / "report.html"
    bad = run_suite(server.url, "--connector-compare", str(previous), "--html", str(html), "--self-contained-html")
    assert bad.ret == 1
    assert schemas.problems("conformance-report", bad.report) == []
    comparison = bad.report["comparison"]
    assert comparison["regressions"] == [{"id": CELL, "before": "passed", "now": "failed"}]
    assert (comparison["fixes"], comparison["new"], comparison["gone"]) == ([], [], [])
    assert comparison["previous"]["target_url"] == good.report["target"]["url"]
    bad.result.stdout.fnmatch_lines(
        [
            f"compared with {previous} (*): 1 regressions, 0 fixes, 0 new, 0 gone",
            "REGRESSION transition?needs_configuration->error?: passed -> failed",
        ]
    )
    section = parse_html(html.read_text(encoding="utf-8")).find("section", id="cc-comparison")
    regressions = section.find("div", cls="cc-compare--regressions")
    assert regressions.words() == f"Regressions (1) {CELL} : passed \u2192 failed"
    assert regressions.find("a").attrs["href"] == f"#connector-contract::{CELL}"
    # And the other way round, the same check is the fix.
    failing = pytester.path / "failing.json"
    shutil.copy(pytester.path / "conformance.json", failing)
    again = run_suite("embedded", "--connector-compare", str(failing))
    assert [f["id"] for f in again.report["comparison"]["fixes"]] == [CELL]
    assert again.report["comparison"]["regressions"] == []


def test_checks_outside_the_previous_selection_are_new(
    run_suite: Callable[..., Any], pytester: pytest.Pytester
) -> None:
    run_suite("embedded", "connector-contract::validation[")
    previous = pytester.path / "previous.json"
    shutil.copy(pytester.path / "conformance.json", previous)
    run = run_suite("embedded", "connector-contract::transition[created->", "--connector-compare", str(previous))
    comparison = run.report["comparison"]
    assert [n["id"] for n in comparison["new"]] == [f"transition[created->{s}]" for s in run.report["matrix"]]
    assert len(comparison["gone"]) == len(load_spec().validation_cases)
    assert comparison["regressions"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such report"), ("{not json", "not a JSON report"), (json.dumps({"checks": 3}), "no checks[]")],
    ids=["missing", "not-json", "not-a-report"],
)
def test_an_unusable_previous_report_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "previous.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-compare", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --connector-compare: *{message}*"])
