"""The verdict of a run where people read it (JSON, terminal, HTML, JUnit) and its exit status: conformant,
conformant with accepted deviations (the baseline), inconclusive (errors but no failure, from answers a
gateway drops) and not conformant; ``--connector-strict`` ignores the baseline; ``--connector-implementation``
names what was tested behind a gateway that answers ``GET /`` with its backend's identity."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import parse_html
from support.gateway import Gateway
from support.markdown import rendered
from support.runs import SuiteRun, run_with_report

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reports.markdown import summary_markdown

CELL = "transition[needs_configuration->error]"


def _properties(path: Path) -> dict[str, str]:
    root = ET.parse(path).getroot()
    return {p.attrib["name"]: p.attrib["value"] for p in root.iter("property")}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    """The default suite against the embedded target, with its JUnit and HTML reports, run once: several tests
    read it, none changes it. Yields the run and the directory of its reports."""
    directory = tmp_path_factory.mktemp("clean")
    xml, page = directory / "junit.xml", directory / "report.html"
    return (
        run_with_report(directory, "embedded", f"--junitxml={xml}", f"--html={page}", "--self-contained-html"),
        directory,
    )


def test_a_clean_run_is_conformant_everywhere(clean_run: tuple[SuiteRun, Path]) -> None:
    run, directory = clean_run
    xml, page = directory / "junit.xml", directory / "report.html"
    assert run.report is not None
    assert run.ret == 0
    summary = run.report["summary"]
    assert (summary["verdict"], summary["conformant"], summary["strict"]) == ("conformant", True, False)
    assert run.report["schema_version"] == schemas.report_schema_version() == 2
    run.result.stdout.fnmatch_lines(["*verdict: CONFORMANT   score: 1.000*"])
    assert _properties(xml)["connector_contract.verdict"] == "conformant"
    verdict = parse_html(page.read_text(encoding="utf-8")).find(id="cc-verdict")
    assert verdict.words() == "CONFORMANT"
    assert "cc-verdict--conformant" in verdict.attrs["class"]


def _baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baseline.toml"
    path.write_text(f'[[expected_failure]]\ncheck = "{CELL}"\nreason = "our proxy forbids this"\n', encoding="utf-8")
    return path


def test_failures_the_baseline_accepts_are_a_conformant_verdict_with_accepted_deviations_unless_strict(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    url = start_target(RefusesAllowedTransition()).url
    baseline = _baseline(tmp_path)
    xml, page = tmp_path / "junit.xml", tmp_path / "report.html"
    accepted = run_suite(url, "--connector-baseline", str(baseline), f"--junitxml={xml}", f"--html={page}")
    assert accepted.ret == 0, accepted.result.stdout.str()
    assert accepted.report["summary"]["verdict"] == "conformant_with_accepted_deviations"
    accepted.result.stdout.fnmatch_lines(["*verdict: CONFORMANT WITH ACCEPTED DEVIATIONS   score:*"])
    assert _properties(xml)["connector_contract.verdict"] == "conformant_with_accepted_deviations"
    shown = parse_html(page.read_text(encoding="utf-8")).find(id="cc-verdict")
    assert shown.words() == "CONFORMANT WITH ACCEPTED DEVIATIONS"
    assert "cc-verdict--conformant_with_accepted_deviations" in shown.attrs["class"]

    strict = run_suite(url, "--connector-baseline", str(baseline), "--connector-strict", f"--junitxml={xml}")
    assert strict.ret == 1
    summary = strict.report["summary"]
    assert (summary["verdict"], summary["strict"], summary["conformant"]) == ("not_conformant", True, False)
    assert strict.outcome(CELL) == "failed"
    assert strict.report["baseline"] is None  # ignored: not read at all
    strict.result.stdout.fnmatch_lines(
        ["*strict mode: the baseline is ignored*", "*verdict: NOT CONFORMANT (strict: baseline ignored)*"]
    )
    assert _properties(xml)["connector_contract.strict"] == "true"


def test_the_environment_turns_strict_mode_on(
    start_target: Callable[..., ReferenceServer], pytester: pytest.Pytester, tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    url = start_target(RefusesAllowedTransition()).url
    pytester.makeini("[pytest]\nconnector_baseline = " + str(_baseline(tmp_path)) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONNECTOR_STRICT", "true")
        # the baseline's cell and the other transitions from its state: strict mode is about that entry
        result = pytester.runpytest_subprocess(
            "--connector-url", url, "connector-contract::transition[needs_configuration->"
        )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*verdict: NOT CONFORMANT (strict: baseline ignored)*"])


def test_errors_without_a_failure_are_inconclusive_and_do_not_pass_the_gate(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], quick_retries: object, tmp_path: Path
) -> None:
    """A gateway that drops every 9th status update: the checks it hits end in error, correctly, and none
    fails; the run is neither conformant nor shown to depart from Elasticsearch. (quick_retries: a dropped setup
    update is tried again after 10 ms; the backoff is not what this is about.)"""
    gate = gateway(drop_every=9)
    xml = tmp_path / "junit.xml"
    run = run_suite(gate.url, "--connector-concurrency", "1", f"--junitxml={xml}")
    assert run.ret == 1
    summary = run.report["summary"]
    assert summary["error"] > 0
    assert summary["failed"] == 0
    assert (summary["verdict"], summary["conformant"]) == ("inconclusive", False)
    errors = [check for check in run.report["checks"] if check["outcome"] == "error"]
    assert all("Remote end closed connection without response" in check["message"] for check in errors)
    run.result.stdout.fnmatch_lines(
        [
            "*verdict: INCONCLUSIVE   score:*",
            "*no check failed, but some could not be judged (* error): the gate does not pass; "
            "--connector-rerun-errors N runs them again",
        ]
    )
    assert _properties(xml)["connector_contract.verdict"] == "inconclusive"
    assert summary_markdown(run.report).startswith("## \u274c Connector status API conformance: INCONCLUSIVE")


def test_the_implementation_option_names_what_a_gateway_hides(
    gateway: Callable[..., Gateway], run_suite: Callable[..., Any], clean_run: tuple[SuiteRun, Path], tmp_path: Path
) -> None:
    gate = gateway()
    xml, page = tmp_path / "junit.xml", tmp_path / "report.html"
    run = run_suite(gate.url, "--connector-implementation", "acme-gateway@2.4.1", f"--junitxml={xml}", f"--html={page}")
    assert run.ret == 0, run.result.stdout.str()
    target = run.report["target"]
    assert (target["implementation"], target["product"], target["version"]) == (
        "acme-gateway@2.4.1",
        "Elasticsearch",
        "9.1.0",
    )
    run.result.stdout.fnmatch_lines(
        [
            "connector-contract: implementation under test acme-gateway@2.4.1",
            f"target: acme-gateway@2.4.1 at {gate.url}  Elasticsearch 9.1.0",
        ]
    )
    assert _properties(xml)["connector_contract.target.implementation"] == "acme-gateway@2.4.1"
    identity = parse_html(page.read_text(encoding="utf-8")).find("table", cls="cc-identity")
    assert "acme-gateway@2.4.1" in identity.words()
    (table,) = [
        t for t in rendered(summary_markdown(run.report)).tables if ["implementation", "acme-gateway@2.4.1"] in t
    ]
    assert table
    saved = tmp_path / "gateway.json"
    saved.write_text(json.dumps(run.report), encoding="utf-8")
    other, _ = clean_run
    (tmp_path / "plain.json").write_text(json.dumps(other.report), encoding="utf-8")
    done = _report(saved, tmp_path / "plain.json", "--markdown", tmp_path / "t.md")
    assert done.returncode == 0, done.stderr
    (header, *_) = rendered((tmp_path / "t.md").read_text(encoding="utf-8")).tables[0]
    assert header == ["check", "acme-gateway@2.4.1 9.1.0", "Elasticsearch 9.1.0"]


@pytest.mark.parametrize("value", ["acme-gateway", "acme gateway@1", "a@b@c", "@1.0", "acme@"])
def test_an_implementation_that_is_not_name_at_version_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", f"--connector-implementation={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not NAME@VERSION: name what was tested and its version*"])


def _report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "report", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_report_command_still_reads_a_schema_1_report(clean_run: tuple[SuiteRun, Path], tmp_path: Path) -> None:
    """Schema 1 had no verdict, no strict flag, no implementation and no reruns: the verdict is implied by the
    summary, as it was then."""
    document = copy.deepcopy(clean_run[0].report)
    assert document is not None
    del document["summary"]["verdict"], document["summary"]["strict"], document["target"]["implementation"]
    document["schema_version"] = 1
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document), encoding="utf-8")
    done = _report(old, "--html", tmp_path / "old.html", "--markdown", tmp_path / "old.md")
    assert done.returncode == 0, done.stderr
    assert parse_html((tmp_path / "old.html").read_text(encoding="utf-8")).find(id="cc-verdict").words() == "CONFORMANT"
    assert (
        (tmp_path / "old.md")
        .read_text(encoding="utf-8")
        .startswith("## \u2705 Connector status API conformance: CONFORMANT")
    )


def test_docs_name_every_verdict_with_its_words_and_exit_status(repo_root: Path) -> None:
    from pytest_connector_contract.reports.verdict import PASSING, VERDICTS

    page = (repo_root / "docs" / "reports.md").read_text(encoding="utf-8")
    rows = [line.split(" | ") for line in page.splitlines() if line.startswith("| `")]
    table = {cells[0].strip("| `"): (cells[1], cells[-1].strip(" |")) for cells in rows if len(cells) == 4}
    assert table == {name: (words, "0" if name in PASSING else "1") for name, words in VERDICTS.items()}
