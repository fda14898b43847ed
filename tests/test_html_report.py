"""The pytest-html report, rendered the way a person opens it: a file in headless Chromium, with no network."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.browser import Chromium, Element, parse_html

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
#: the checks a run without options collects: the default suite and the official client's
DEFAULT_RUN = (*SPEC.checks, *official_checks(SPEC))
CELL = "transition[needs_configuration->error]"
GREEN_VERDICT, RED_VERDICT = (0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E)
PASSED_CELL, FAILED_CELL = (0xDA, 0xFB, 0xE1), (0xFF, 0xEB, 0xE9)


@dataclass
class HtmlRun:
    result: pytest.RunResult
    html: Path
    report: dict[str, Any]

    @property
    def page(self) -> Element:
        """The report as written (the summary, grid and picture are static HTML; rows need the script)."""
        return parse_html(self.html.read_text(encoding="utf-8"))


@pytest.fixture
def run_html(pytester: pytest.Pytester) -> Callable[..., HtmlRun]:
    def run(url: str, *args: str) -> HtmlRun:
        html, report = pytester.path / "report.html", pytester.path / "conformance.json"
        result = pytester.runpytest_subprocess(
            "--connector-url", url, "--html", str(html), "--self-contained-html", "--connector-json", str(report), *args
        )
        return HtmlRun(result, html, json.loads(report.read_text()))

    return run


def _cells(page: Element) -> dict[tuple[str, str], Element]:
    return {(td.attrs["data-from"], td.attrs["data-to"]): td for td in page.find_all("td", cls="cc-cell")}


def _kind(td: Element) -> str:
    return next(c for c in td.classes if c.startswith("cc-") and c != "cc-cell")


def test_embedded_report_shows_the_verdict_and_the_grid_in_headless_chromium(
    run_html: Callable[..., HtmlRun], chromium: Chromium, tmp_path: Path
) -> None:
    run = run_html("embedded", "-n", "2")
    assert run.result.ret == 0
    dom = parse_html(chromium.dump_dom(run.html))
    assert dom.find(id="cc-verdict").text().strip() == "CONFORMANT"
    assert dom.find("title").text() == "Connector status API conformance"
    cells = _cells(dom)
    assert len(cells) == 25
    assert {_kind(td) for td in cells.values()} == {"cc-passed"}
    # The script rendered one row per check, and passing rows carry no log.
    rows = [row for row in dom.find_all("tbody", cls="results-table-row") if "id" in row.attrs]
    assert sorted(r.attrs["id"] for r in rows) == sorted(f"connector-contract::{c.id}" for c in DEFAULT_RUN)
    assert not any(row.find_all(cls="log") for row in rows)
    assert not dom.find_all("pre", cls="cc-curl")
    # Visible, not just present: the green verdict banner and the green grid are on the first screen.
    shot = chromium.screenshot(run.html, tmp_path / "embedded.png", width=1400, height=1300)
    assert shot.count(GREEN_VERDICT, bottom=400) > 2000
    assert shot.count(PASSED_CELL) > 25 * 3000
    assert shot.count(RED_VERDICT, bottom=400) == 0


def test_the_report_opens_from_a_file_with_no_network(run_html: Callable[..., HtmlRun]) -> None:
    run = run_html("embedded", "connector-contract::transition[created->")
    text = run.html.read_text(encoding="utf-8")
    # pytest-html's templates hold empty src attributes for media a test may attach; nothing else loads.
    assert not re.search(r"<(script|img|iframe|source|video)\b[^>]*\bsrc=\"(?!data:)[^\"]", text)
    assert not re.search(r"<link\b", text)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert "@import" not in text
    svg = run.page.find("svg", id="cc-state-machine")
    assert svg.attrs["xmlns"] == "http://www.w3.org/2000/svg"  # a namespace name, never fetched


def test_a_wrongly_refused_cell_is_marked_in_the_grid_the_picture_and_its_row(
    start_target: Callable[..., ReferenceServer],
    run_html: Callable[..., HtmlRun],
    chromium: Chromium,
    tmp_path: Path,
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    run = run_html(server.url, "-n", "2")
    assert run.result.ret == 1
    dom = parse_html(chromium.dump_dom(run.html))
    assert dom.find(id="cc-verdict").text().strip() == "NOT CONFORMANT"
    cells = _cells(dom)
    assert _kind(cells["needs_configuration", "error"]) == "cc-failed"
    assert {k: _kind(td) for k, td in cells.items() if _kind(td) != "cc-passed"} == {
        ("needs_configuration", "error"): "cc-failed"
    }
    cell_text = " ".join(cells["needs_configuration", "error"].text().split())
    assert "expected accepted" in cell_text
    assert "observed refused" in cell_text
    # The picture: that edge, and only that one, is drawn as wrongly refused.
    wrong = dom.find_all("g", cls="cc-edge--wrongly-refused")
    assert [(g.attrs["data-from"], g.attrs["data-to"]) for g in wrong] == [("needs_configuration", "error")]
    assert not dom.find_all("g", cls="cc-edge--wrongly-accepted")
    # The cell links to its row, which the script rendered with the check's columns and evidence.
    link = cells["needs_configuration", "error"].find("a")
    row = dom.by_id(link.attrs["href"].removeprefix("#"))
    assert row is not None
    assert row.tag == "tbody"
    assert row.find("td", cls="col-checkId").text() == CELL
    assert row.find("td", cls="col-category").text() == "transition"
    assert row.find("td", cls="col-expected").text().startswith("HTTP 200")
    assert row.find("td", cls="col-observed").text().startswith("HTTP 400 status_exception")
    curl = row.find("pre", cls="cc-curl")
    assert curl.text() == next(c for c in run.report["checks"] if c["id"] == CELL)["reproduction"]
    assert len(row.find_all("details", cls="cc-exchange")) == 7
    assert "400" in row.find("details", cls="cc-exchange", open="").text()  # the request under test is open
    assert row.find_all(cls="log"), "a failing row keeps pytest's failure text"
    # Beside the evidence: the check's statement and where its expectations come from, linked at their commit.
    check = next(c for c in SPEC.checks if c.id == CELL)
    assert row.find("p", cls="cc-statement").text() == check.statement
    links = [a.attrs["href"] for a in row.find("ul", cls="cc-sources").find_all("a")]
    state_machine = next(e for e in check.provenance if e["path"].endswith("ConnectorStateMachine.java"))
    assert f"https://github.com/{state_machine['repo']}/blob/{state_machine['commit']}/{state_machine['path']}" in links
    title = row.find("td", cls="col-checkId").attrs["title"]
    assert title.startswith(check.statement)
    assert state_machine["what"] in title
    # Every check's statement and provenance are listed below the table, each linking to its row.
    expectations = dom.find("details", id="cc-expectations")
    listed = [a.text() for a in expectations.find_all("a") if a.attrs["href"].startswith("#connector-contract::")]
    assert listed == [c.id for c in DEFAULT_RUN]
    assert "derived" in expectations.words()
    shot = chromium.screenshot(run.html, tmp_path / "mutant.png", width=1400, height=1300)
    assert shot.count(RED_VERDICT, bottom=400) > 2000
    assert shot.count(FAILED_CELL) > 3000
    assert shot.count(GREEN_VERDICT, bottom=400) == 0


class RefusesFirstSetupStep:
    """Built lazily: a reference target refusing created -> needs_configuration (blocks three rows)."""

    def __new__(cls) -> Any:
        from pytest_connector_contract.reference.endpoints import ReferenceTarget

        class Target(ReferenceTarget):
            def transition_allowed(self, current: str, requested: str) -> bool:
                return (current, requested) != ("created", "needs_configuration") and super().transition_allowed(
                    current, requested
                )

        return Target()


def test_blocked_cells_look_different_from_failures(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun]
) -> None:
    server = start_target(RefusesFirstSetupStep())
    run = run_html(server.url, "connector-contract::transition[")
    kinds = {k: _kind(td) for k, td in _cells(run.page).items()}
    assert kinds["created", "needs_configuration"] == "cc-failed"
    assert kinds["connected", "error"] == "cc-blocked"
    assert sum(1 for k in kinds.values() if k == "cc-blocked") == 15
    assert "by created->needs_configuration" in _cells(run.page)["connected", "error"].text()


def test_summary_names_target_profile_suite_and_time(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun]
) -> None:
    from pytest_connector_contract.reference.endpoints import ReferenceTarget

    server = start_target(ReferenceTarget("8.14.3"))
    run = run_html(server.url.replace("http://", "http://elastic:s3cr3t-pa55@"))
    summary = run.page.find("section", id="cc-summary")
    text = summary.words()
    assert f"target {server.url}" in text
    assert "product Elasticsearch 8.14.3" in text
    assert "profile 8.13 (from version)" in text
    assert "suite pytest-connector-contract 0.1.0" in text
    assert re.search(r"run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to \d{4}-", text)
    assert "5 xfailed" in text  # the 8.13/8.14 known deviations
    assert (
        "79 passed" in text
    )  # 16 of them client checks (8.x clients), 13 unchanged, method, media-type and name checks
    # validation[vendor-media-type-9], the 16 client checks of 9.x clients, and the official client's checks:
    # the 9.x client is refused by 8.x
    assert f"{17 + len(official_checks(SPEC))} skipped" in text
    assert "official client 9 official client checks skipped: the installed elasticsearch 9.x client" in text
    # An expected failure of stock Elasticsearch is amber, not red.
    assert _kind(_cells(run.page)["created", "created"]) == "cc-passed"
    provenance = run.page.find("details", id="cc-provenance").words()
    assert "spec_sha256" in provenance
    assert "config.url" in provenance
    assert "s3cr3t-pa55" not in run.html.read_text(encoding="utf-8")


def test_a_report_of_the_users_own_tests_gets_no_conformance_block(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_one(connector_target):\n    assert connector_target.version\n")
    html = pytester.path / "mine.html"
    result = pytester.runpytest_subprocess("--html", str(html), "--self-contained-html")
    assert result.ret == 0
    text = html.read_text(encoding="utf-8")
    assert "col-checkId" not in text
    assert "cc-verdict" not in text


def test_a_baseline_expected_failure_is_amber_in_the_grid_and_the_picture(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    server = start_target(RefusesAllowedTransition())
    baseline = tmp_path / "baseline.toml"
    baseline.write_text(f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "our proxy; INFRA-123"\n', encoding="utf-8")
    run = run_html(server.url, "--connector-baseline", str(baseline), "connector-contract::transition[")  # the grid
    assert run.result.ret == 0
    page = run.page
    assert (
        page.find(id="cc-verdict").words() == "CONFORMANT WITH ACCEPTED DEVIATIONS"
    )  # every failure is excused by the baseline
    assert _kind(_cells(page)["needs_configuration", "error"]) == "cc-xfailed-baseline"
    (edge,) = page.find_all("g", data_from="needs_configuration", data_to="error")
    assert edge.attrs["data-kind"] == "xfail"
    assert not page.find_all("g", cls="cc-edge--wrongly-refused")
    assert "1 entries, 1 expected failures this run" in page.find("section", id="cc-summary").words()


class PersistsRefusedTransition:
    """Built lazily: a reference target answering 400 to created -> connected, yet storing connected."""

    def __new__(cls) -> Any:
        from pytest_connector_contract.reference.endpoints import Document, ReferenceTarget
        from pytest_connector_contract.reference.messages import Response

        class Target(ReferenceTarget):
            def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
                if (current, requested) == ("created", "connected"):
                    self.apply_status(doc, requested)
                return super().reject_transition(doc, current, requested)

        return Target()


FAILING_EDGES = {"failed", "wrongly-accepted", "wrongly-refused"}


def test_a_cell_refused_as_expected_that_changed_the_connector_is_a_failing_edge(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun]
) -> None:
    server = start_target(PersistsRefusedTransition())
    run = run_html(server.url, "connector-contract::transition[")
    page = run.page
    cells = _cells(page)
    # The answer was the expected 400, but the status persisted: the grid shows the cell failed.
    assert {k for k, td in cells.items() if _kind(td) != "cc-passed"} == {("created", "connected")}
    assert _kind(cells["created", "connected"]) == "cc-failed"
    assert "observed refused" in " ".join(cells["created", "connected"].text().split())
    # Every failed cell is a failing edge in the picture, whatever made it fail.
    edges = {(g.attrs["data-from"], g.attrs["data-to"]): g for g in page.find_all("g", cls="cc-edge")}
    failing = {k for k, g in edges.items() if g.attrs["data-kind"] in FAILING_EDGES}
    assert failing == {k for k, td in cells.items() if _kind(td) == "cc-failed"}
    edge = edges["created", "connected"]
    assert edge.classes == ["cc-edge", "cc-edge--failed"]
    assert edge.find("title").text() == "created -> connected: expected refused, observed refused (failed)"
    assert edge.find("path").attrs["marker-end"] == "url(#cc-arrow-failed)"
    (label,) = page.find_all("text", cls="cc-edge-label", data_from="created", data_to="connected")
    assert label.text() == "\u2717 failed"
    # Refused cells that passed still draw nothing: the picture is the profile's machine plus departures.
    assert ("created", "configured") not in edges


PAYLOAD = (
    '<script>document.title=\'pwned\'</script><img src="data:," onerror="document.body.dataset.pwned=\'yes\'"> & "q"'
)


class RefusesWithMarkup:
    """Built lazily: a reference target whose refusal reason is markup, quotes and an ampersand."""

    def __new__(cls) -> Any:
        from pytest_connector_contract.reference.endpoints import Document, ReferenceTarget
        from pytest_connector_contract.reference.messages import Response

        class Target(ReferenceTarget):
            def reject_transition(self, doc: Document, current: str, requested: str) -> Response:
                return self.error(400, "status_exception", f"{PAYLOAD} from [{current}] to [{requested}]")

        return Target()


def test_markup_in_the_targets_answers_is_shown_as_text(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun], chromium: Chromium
) -> None:
    server = start_target(RefusesWithMarkup())
    run = run_html(server.url, "connector-contract::transition[created->connected]")
    assert run.result.ret == 1
    dom = parse_html(chromium.dump_dom(run.html))
    # Nothing the target said ran or became an element.
    assert dom.find("title").text() == "Connector status API conformance"
    assert "data-pwned" not in dom.find("body").attrs
    assert not [img for img in dom.find_all("img") if "onerror" in img.attrs]
    assert not [s for s in dom.find_all("script") if "pwned" in s.text()]
    # It is shown as the text it was: in the observed column, its hover text and the evidence.
    row = dom.by_id("connector-contract::transition[created->connected]")
    assert row is not None
    observed = row.find("td", cls="col-observed")
    reason = f"HTTP 400 status_exception: {PAYLOAD} from [created] to [connected]"
    assert observed.text().startswith(f"HTTP 400 status_exception: {PAYLOAD}")  # shortened to 160 characters
    assert observed.attrs["title"] == reason
    departures = row.find("ul", cls="cc-departures").text()  # quotes the reason with repr()
    assert "<script>document.title=" in departures
    assert '<img src="data:," onerror=' in departures
    assert any("<script>document.title='pwned'</script>" in pre.text() for pre in row.find_all("pre"))


def test_the_rendering_imports_neither_pytest_nor_pytest_html() -> None:
    """The markup is rendered in reports/html.py; only the glue in plugin/html_report.py speaks to pytest-html."""
    import ast

    from pytest_connector_contract.reports import html as render

    tree = ast.parse(Path(render.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("pytest", "pytest_html")}


def test_a_check_that_differs_from_the_reference_shows_both_answers_side_by_side(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun]
) -> None:
    from support.mutants import WrongResultWord

    target, reference = start_target(WrongResultWord()), start_target()
    run = run_html(target.url, "--connector-reference-url", reference.url, "connector-contract::transition[created->")
    section = run.page.find("section", id="cc-differential")
    text = section.words()
    assert f"live reference cluster {reference.url}: Elasticsearch 9.1.0, release 9.1.0" in text
    table = next(
        t for t in section.find_all("table", cls="cc-differences") if "transition[created->error]" in t.words()
    )
    rows = [row.words() for row in table.find_all("tr")]
    assert any(row.endswith("body.result ok updated") for row in rows), rows  # target, then reference
    assert "The reference departs from the suite's expectation (0)" in text


def test_a_failed_cell_says_in_a_few_words_what_went_wrong(
    start_target: Callable[..., ReferenceServer], run_html: Callable[..., HtmlRun]
) -> None:
    """A target that refuses a transition but still changes the connector: expected and observed agree, so the
    cell itself says why it failed (the first problem, shortened), not only the row below the grid."""
    from support.mutants import RefusalTouchesConnector

    server = start_target(RefusalTouchesConnector())
    run = run_html(server.url, "connector-contract::transition[")
    cell = _cells(run.page)["created", "created"]
    assert _kind(cell) == "cc-failed"
    why = cell.find("span", cls="cc-cell-why").words()
    assert why.startswith("field 'error' changed from None to"), why
    assert len(why) <= 72
    assert _cells(run.page)["created", "needs_configuration"].find_all("span", cls="cc-cell-why") == []
