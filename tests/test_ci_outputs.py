"""The verdict where people look, wired into the run: ``--connector-markdown``, ``--connector-badge``, the job
summary appended to ``GITHUB_STEP_SUMMARY`` and the workflow annotations under ``GITHUB_ACTIONS=true``, each
through pytest in a subprocess against the reference target or a mutant, as a CI job runs it."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from support.markdown import rendered
from support.mutants import RefusalTouchesConnector
from support.runs import SuiteRun

from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.security import ApiKey, Security
from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reports.markdown import ANNOTATIONS_PER_KIND, SUMMARY_LIMIT, badge, summary_markdown

HEADING = "## \u274c Connector status API conformance: NOT CONFORMANT\n"
#: the transitions from 'created' (some of which the default mutant fails): for the tests whose claim is about
#: what a run writes for GitHub at all, not about how many checks it lists
FROM_CREATED = "connector-contract::transition[created->"


@pytest.fixture
def github_run(
    tmp_path: Path,
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., SuiteRun],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[SuiteRun, Path]]:
    """A run against ``target`` (a mutant with more than ten failing checks by default) in a GitHub Actions
    step: ``GITHUB_STEP_SUMMARY`` set (the file holding ``before``), ``GITHUB_ACTIONS`` as ``actions`` says
    (None: unset)."""

    def run(
        *args: str, target: ReferenceTarget | None = None, before: str = "", actions: str | None = "true"
    ) -> tuple[SuiteRun, Path]:
        server = start_target(target or RefusalTouchesConnector())
        step_summary = tmp_path / "step_summary.md"
        step_summary.write_text(before, encoding="utf-8")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
        if actions is None:
            monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        else:
            monkeypatch.setenv("GITHUB_ACTIONS", actions)
        result = run_suite(server.url, *args)
        assert result.ret == 1, result.result.stdout.str()[-3000:]  # the target fails checks
        return result, step_summary

    return run


def _annotations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("::error ", "::warning "))]


def test_a_conformant_run_writes_the_markdown_summary_and_the_badge_and_nothing_for_github(
    tmp_path: Path, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target()
    markdown, badge_file = tmp_path / "out" / "summary.md", tmp_path / "out" / "badge.json"
    run = run_suite(server.url, "--connector-markdown", str(markdown), "--connector-badge", str(badge_file))
    assert run.ret == 0
    assert run.report is not None
    text = markdown.read_text(encoding="utf-8")
    assert text == summary_markdown(run.report)  # drawn from the JSON document, nothing else
    assert text.startswith("## \u2705 Connector status API conformance: CONFORMANT\n")
    identity, matrix = rendered(text).tables
    assert ["target", server.url] in identity
    assert [len(row) for row in matrix] == [6] * 6
    assert json.loads(badge_file.read_text(encoding="utf-8")) == badge(run.report)
    assert json.loads(badge_file.read_text(encoding="utf-8"))["message"] == "conformant 100%"
    stdout = run.result.stdout.str()
    assert f"Markdown summary: {markdown}" in stdout
    assert f"badge: {badge_file}" in stdout
    assert _annotations(stdout) == []  # not under GitHub Actions: no workflow commands


def test_the_comparisons_check_ids_read_as_they_are(
    tmp_path: Path, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun]
) -> None:
    before = run_suite(start_target().url)
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps(before.report), encoding="utf-8")
    markdown = tmp_path / "summary.md"
    args = ("--connector-compare", str(previous), "--connector-markdown", str(markdown))
    after = run_suite(start_target(RefusalTouchesConnector()).url, *args)
    regressions = (after.report or {})["comparison"]["regressions"]
    assert regressions
    page = MarkdownIt("commonmark", {"html": True}).render(markdown.read_text(encoding="utf-8"))
    for item in regressions:  # ids hold '>': shown as they are, not as an escaped entity
        assert f"<code>{html.escape(item['id'], quote=False)}</code>" in page
    assert "&amp;gt;" not in page


class AnswersInMarkdown(ReferenceTarget):
    """Refuses a transition with a reason written in Markdown (a link, an image, emphasis, a table separator):
    the job page must show it as text, not render what the target wrote."""

    REASON = "see [the docs](https://example.invalid/x) ![pixel](https://example.invalid/p.png) **now** | `x`"

    def reject_transition(self, doc: Any, current: str, requested: str) -> Any:
        return self.error(400, "status_exception", self.REASON)


def test_a_targets_markdown_is_shown_as_text(
    tmp_path: Path, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun]
) -> None:
    markdown = tmp_path / "summary.md"
    run_suite(start_target(AnswersInMarkdown()).url, "--connector-markdown", str(markdown))
    text = markdown.read_text(encoding="utf-8")
    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for rendered_markdown in ("<a ", "<img", "<strong>now", "<code>x</code>"):
        assert rendered_markdown not in page
    assert [len(row) for row in rendered(text).tables[1]] == [6] * 6  # no cell split by the reason's '|'
    assert html.escape(AnswersInMarkdown.REASON, quote=False) in page  # in the observed answer, as written


def test_under_github_actions_the_summary_is_appended_and_the_failures_annotated(
    github_run: Callable[..., tuple[SuiteRun, Path]],
) -> None:
    # no --connector-markdown: the job summary is written without being asked
    run, step_summary = github_run(before="## Earlier in this step\n")
    assert run.report is not None
    written = step_summary.read_text(encoding="utf-8")
    assert written == "## Earlier in this step\n\n" + summary_markdown(run.report)
    page = rendered(written)
    failing = [c for c in run.report["checks"] if c["outcome"] == "failed"]
    assert len(page.summaries) == len(failing)  # each failing check folded in <details>
    assert HEADING in written
    errors = [line for line in _annotations(run.result.stdout.str()) if line.startswith("::error ")]
    assert len(failing) > ANNOTATIONS_PER_KIND
    assert len(errors) == ANNOTATIONS_PER_KIND + 1
    assert errors[0].startswith(f"::error title={failing[0]['id']}::field 'error' changed from None to")
    more = len(failing) - ANNOTATIONS_PER_KIND
    assert errors[-1] == f"::error title=and {more} more::{more} more failing checks: see the job summary"


def test_a_baseline_entry_no_longer_needed_is_a_warning_annotation(
    tmp_path: Path, github_run: Callable[..., tuple[SuiteRun, Path]]
) -> None:
    baseline = tmp_path / "baseline.toml"
    entries = ["transition[created->needs_configuration]", "transition[created->error]"]  # both pass
    baseline.write_text(
        "".join(f'[[expected_failure]]\ncheck = "{check}"\nreason = "accepted for now"\n' for check in entries),
        encoding="utf-8",
    )
    run, _ = github_run("--connector-baseline", str(baseline), FROM_CREATED, target=ReferenceTarget())
    warnings = [line for line in _annotations(run.result.stdout.str()) if line.startswith("::warning ")]
    assert [line.split("::")[1] for line in warnings] == [f"warning title={check}" for check in entries]


def test_without_github_actions_true_no_annotation_is_printed(github_run: Callable[..., tuple[SuiteRun, Path]]) -> None:
    for actions in ("false", None):
        run, step_summary = github_run(FROM_CREATED, actions=actions)
        assert _annotations(run.result.stdout.str()) == []
        assert step_summary.read_text(encoding="utf-8").startswith(HEADING)


def test_the_appended_summary_keeps_the_step_summary_under_githubs_limit(
    tmp_path: Path, github_run: Callable[..., tuple[SuiteRun, Path]]
) -> None:
    earlier = "x" * (SUMMARY_LIMIT - 9000) + "\n"  # what the step wrote before leaves 9000 bytes
    run, step_summary = github_run("--connector-markdown", str(tmp_path / "whole.md"), before=earlier)
    written = step_summary.read_text(encoding="utf-8")
    assert written.startswith(earlier)
    assert len(written.encode()) <= SUMMARY_LIMIT < 1024 * 1024
    appended = written[len(earlier) :]
    assert HEADING in appended
    failing = sum(1 for c in (run.report or {})["checks"] if c["outcome"] == "failed")
    shown = len(rendered(appended).summaries)
    assert 0 < shown < failing
    assert f"And {failing - shown} more failing checks: see the JSON or HTML report." in appended
    # the Markdown file is not cut short by what the job summary already held
    assert len(rendered((tmp_path / "whole.md").read_text(encoding="utf-8")).summaries) == failing


def test_a_step_summary_already_full_is_left_as_it_is(github_run: Callable[..., tuple[SuiteRun, Path]]) -> None:
    run, step_summary = github_run(FROM_CREATED, before="x" * SUMMARY_LIMIT)
    assert step_summary.read_text(encoding="utf-8") == "x" * SUMMARY_LIMIT
    run.result.stdout.fnmatch_lines([f"job summary: not appended, {step_summary} already holds {SUMMARY_LIMIT} bytes*"])


KEY_ID, KEY = "ci-key", "zZ9-api-key-in-a-failing-answer-7321"


class EchoesItsApiKey(ReferenceTarget):
    """A target secured with an API key that refuses a transition with a reason echoing that key (a debugging
    build, a careless gateway): the key reaches the evidence of a failing check."""

    def __init__(self) -> None:
        super().__init__(security=Security(api_keys=[ApiKey(KEY_ID, KEY)]))

    def reject_transition(self, doc: Any, current: str, requested: str) -> Any:
        return self.error(400, "status_exception", f"refused for the key {KEY_ID}:{KEY}")


def test_a_secret_in_a_failing_answer_reaches_neither_the_markdown_nor_the_badge_nor_the_annotations(
    tmp_path: Path, github_run: Callable[..., tuple[SuiteRun, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_API_KEY", f"{KEY_ID}:{KEY}")
    markdown, badge_file = tmp_path / "summary.md", tmp_path / "badge.json"
    args = ("--connector-markdown", str(markdown), "--connector-badge", str(badge_file))
    run, step_summary = github_run(*args, target=EchoesItsApiKey())  # the echoing refusals fail their checks
    annotations = _annotations(run.result.stdout.str())
    outputs = {
        "Markdown": markdown.read_text(encoding="utf-8"),
        "job summary": step_summary.read_text(encoding="utf-8"),
        "badge": badge_file.read_text(encoding="utf-8"),
        "annotations": "\n".join(annotations),
    }
    assert annotations
    assert "<redacted>" in html.unescape(outputs["Markdown"])
    assert "<redacted>" in outputs["annotations"]
    for where, text in outputs.items():
        for secret in (KEY, base64.b64encode(f"{KEY_ID}:{KEY}".encode()).decode()):
            assert secret not in html.unescape(text), f"the API key reached the {where}"
