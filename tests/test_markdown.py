"""The verdict where people look: the Markdown job summary, workflow annotations and the badge, drawn from the JSON
report of real runs (the plugin in a subprocess against the reference target and against mutants), and the
Markdown read back through a real CommonMark renderer with GitHub's table extension."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from support.markdown import rendered

from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reports.markdown import (
    ANNOTATIONS_PER_KIND,
    badge,
    summary_markdown,
    workflow_annotations,
)
from pytest_connector_contract.reports.verdict import VERDICTS, verdict


@pytest.fixture
def document_of(report_of: Callable[[ReferenceTarget], dict[str, Any]]) -> Callable[..., Any]:
    """The report of the default suite against ``target`` (the reference by default), run once per kind of
    target for the module (``report_of``): three tests read the same mutant's."""

    def run(target: ReferenceTarget | None = None) -> dict[str, Any]:
        return report_of(target if target is not None else ReferenceTarget())

    return run


def test_a_conformant_run_reads_conformant_with_the_matrix_as_a_table(document_of: Callable[..., Any]) -> None:
    document = document_of()
    markdown = summary_markdown(document)
    assert markdown.startswith("## \u2705 Connector status API conformance: CONFORMANT\n")
    page = rendered(markdown)
    identity, matrix = page.tables
    assert ["answers as", "Elasticsearch 9.1.0 (default)"] in identity
    assert matrix[0] == ["from \\ to", "created", "needs_configuration", "configured", "connected", "error"]
    assert [row[0] for row in matrix[1:]] == ["created", "needs_configuration", "configured", "connected", "error"]
    assert all(len(row) == 6 for row in matrix)
    assert matrix[1][2] == "\u2705 ok: accepted / accepted"
    assert page.summaries == []  # nothing failed: nothing folded
    assert badge(document) == {
        "schemaVersion": 1,
        "label": "connector conformance",
        "message": "conformant 100%",
        "color": "brightgreen",
    }
    assert workflow_annotations(document) == []


def test_each_failing_check_is_folded_with_its_reason_and_reproduction(document_of: Callable[..., Any]) -> None:
    from support.mutants import RefusalTouchesConnector

    document = document_of(RefusalTouchesConnector())
    failing = [c for c in document["checks"] if c["outcome"] == "failed"]
    assert failing
    markdown = summary_markdown(document)
    assert markdown.startswith("## \u274c Connector status API conformance: NOT CONFORMANT\n")
    page = rendered(markdown)
    assert len(page.summaries) == len(failing)
    first = failing[0]
    assert page.summaries[0].startswith(f"{first['id']} (failed): field 'error' changed from None to")
    assert "curl " in markdown.split("<summary>", 2)[1]  # the first fold holds its curl reproduction
    # a cell whose expected and observed agree still says what went wrong
    cell = rendered(markdown).tables[1][1][1]
    assert cell.startswith("\u274c FAILED: refused / refused: field 'error' changed from None to"), cell


def test_the_summary_stays_under_its_limit_and_counts_what_it_leaves_out(document_of: Callable[..., Any]) -> None:
    from support.mutants import RefusalTouchesConnector

    document = document_of(RefusalTouchesConnector())
    failing = sum(1 for c in document["checks"] if c["outcome"] == "failed")
    markdown = summary_markdown(document, limit=9000)
    assert len(markdown.encode()) <= 9000
    shown = len(rendered(markdown).summaries)
    assert 0 < shown < failing
    assert f"And {failing - shown} more failing checks: see the JSON or HTML report." in markdown


def test_annotations_are_capped_escaped_and_stale_baseline_entries_warn(document_of: Callable[..., Any]) -> None:
    from support.mutants import RefusalTouchesConnector

    document = document_of(RefusalTouchesConnector())
    failing = [c for c in document["checks"] if c["outcome"] == "failed"]
    assert len(failing) > ANNOTATIONS_PER_KIND
    lines = workflow_annotations(document)
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == ANNOTATIONS_PER_KIND + 1
    assert (
        errors[-1]
        == f"::error title=and {len(failing) - 10} more::{len(failing) - 10} more failing checks: see the job summary"
    )
    # a check id holds ':' and ',' only escaped in the title; a message's line breaks and '%' are escaped
    tricky = copy.deepcopy(document)
    tricky["checks"] = [dict(failing[0], id="validation[a,b:c]", message="50% off\nsecond line\r")]
    tricky["baseline"] = {
        "path": "b.toml",
        "entries": 1,
        "expected_failures": [],
        "problems": [{"check": "transition[x->y]", "kind": "passes", "message": "remove it"}],
    }
    assert workflow_annotations(tricky) == [
        "::error title=validation[a%2Cb%3Ac]::50%25 off%0Asecond line%0D",
        "::warning title=transition[x->y]::remove it",
    ]


@pytest.mark.parametrize(
    ("counts", "conformant", "expected"),
    [
        ({"passed": 3, "executed": 3}, True, "conformant"),
        (
            {"passed": 2, "xfailed": 1, "xfailed_baseline": 1, "executed": 3},
            True,
            "conformant_with_accepted_deviations",
        ),
        ({"passed": 2, "error": 1, "executed": 3}, False, "inconclusive"),
        ({"passed": 1, "blocked": 2, "executed": 3}, False, "inconclusive"),
        ({"skipped": 3, "executed": 0}, False, "inconclusive"),
        ({"passed": 1, "failed": 1, "error": 1, "executed": 3}, False, "not_conformant"),
        ({"passed": 2, "xpassed": 1, "executed": 3}, False, "not_conformant"),
        ({"passed": 3, "executed": 3}, False, "not_conformant"),  # an expired baseline entry
    ],
)
def test_the_verdict(counts: dict[str, int], conformant: bool, expected: str) -> None:
    assert verdict({**counts, "conformant": conformant}) == expected
    assert expected in VERDICTS
