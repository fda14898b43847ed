"""``connector-contract report``: saved JSON reports of real runs rendered as a page, a Markdown summary and a
compatibility table, run as a user runs the command (a subprocess)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import parse_html
from support.markdown import rendered

from pytest_connector_contract.reference.endpoints import ReferenceTarget


def report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "report", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def saved(report_of: Callable[[ReferenceTarget], dict[str, Any]], tmp_path: Path) -> Callable[..., Path]:
    """Save the report of a run against ``target`` as ``tmp_path / NAME.json``."""

    def save(name: str, target: ReferenceTarget) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(report_of(target)), encoding="utf-8")
        return path

    return save


def test_several_reports_make_a_compatibility_table_with_the_differing_rows_first(
    saved: Callable[..., Path], tmp_path: Path
) -> None:
    from support.mutants import RefusesAllowedTransition

    newest, older, broken = (
        saved("newest", ReferenceTarget("9.1.0")),
        saved("older", ReferenceTarget("8.14.3")),
        saved("broken", RefusesAllowedTransition()),
    )
    done = report(newest, older, broken, "--html", tmp_path / "t.html", "--markdown", tmp_path / "t.md")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"HTML: {tmp_path / 't.html'}", f"Markdown: {tmp_path / 't.md'}"]
    (table,) = rendered((tmp_path / "t.md").read_text(encoding="utf-8")).tables
    assert table[0] == ["check", "Elasticsearch 9.1.0", "Elasticsearch 8.14.3", "Elasticsearch 9.1.0"]
    assert table[1] == ["verdict", "CONFORMANT", "CONFORMANT", "NOT CONFORMANT"]
    assert table[2][:2] == ["score", "1.000"]
    rows = table[3:]
    differing = [row for row in rows if len(set(row[1:])) > 1]
    assert rows[: len(differing)] == differing, "the rows that differ come first"
    assert ["transition[needs_configuration->error]", "passed", "passed", "failed"] in differing
    assert ["validation[empty-body]", "passed", "xfailed", "passed"] in differing  # 8.14: a known 500
    page = parse_html((tmp_path / "t.html").read_text(encoding="utf-8"))
    body_rows = page.find("table", cls="cc-compatibility").find("tbody").find_all("tr")
    assert len(body_rows) == len(rows)
    assert [tr.attrs["class"] for tr in body_rows[: len(differing)]] == ["cc-differs"] * len(differing)


def test_one_report_renders_its_own_page_and_summary(saved: Callable[..., Path], tmp_path: Path) -> None:
    path = saved("one", ReferenceTarget())
    done = report(path, "--html", tmp_path / "one.html", "--markdown", tmp_path / "one.md")
    assert done.returncode == 0, done.stderr
    page = parse_html((tmp_path / "one.html").read_text(encoding="utf-8"))
    assert page.find(id="cc-verdict").words() == "CONFORMANT"
    assert len(page.find_all("td", cls="cc-cell")) == 25
    assert (
        (tmp_path / "one.md")
        .read_text(encoding="utf-8")
        .startswith("## \u2705 Connector status API conformance: CONFORMANT")
    )


def test_a_report_from_a_newer_version_is_refused_with_what_to_do(saved: Callable[..., Path], tmp_path: Path) -> None:
    path = saved("new", ReferenceTarget())
    document = json.loads(path.read_text(encoding="utf-8"))
    document["schema_version"] = 99
    document["tool"]["version"] = "7.0.0"
    path.write_text(json.dumps(document), encoding="utf-8")
    done = report(path, "--markdown", tmp_path / "x.md")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"connector-contract report: {path} was written by pytest-connector-contract 7.0.0 (report schema 99); "
        "this version reads schemas up to 2: upgrade pytest-connector-contract to render it"
    )
    assert not (tmp_path / "x.md").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"checks": []}', "is not a conformance report (written with --connector-json): no schema_version"),
        ('{"schema_version": 1}', "is not a conformance report: it has no 'summary'"),
    ],
)
def test_a_file_that_is_no_report_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content, encoding="utf-8")
    done = report(path, "--html", tmp_path / "x.html")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") == 1


def test_nothing_to_write_is_a_usage_error(tmp_path: Path) -> None:
    done = report(tmp_path / "r.json")
    assert (done.returncode, done.stderr.strip()) == (
        2,
        "connector-contract report: say where to write it: --html FILE and/or --markdown FILE",
    )


def test_the_documented_commands_run_as_written(saved: Callable[..., Path], tmp_path: Path, repo_root: Path) -> None:
    """docs/reports.md's examples, run as written from a folder holding the reports they name."""
    page = (repo_root / "docs" / "reports.md").read_text(encoding="utf-8")
    section = page.split("## Saved reports side by side", 1)[1].split("\n## ", 1)[0]
    commands = [shlex.split(line) for line in re.findall(r"^connector-contract report .*$", section, flags=re.M)]
    assert len(commands) == 2
    for command in commands:
        for name in (word for word in command if word.endswith(".json")):
            saved(name.removesuffix(".json"), ReferenceTarget(name.removeprefix("es-").removesuffix(".json") + ".0"))
        done = subprocess.run(
            [sys.executable, "-m", "pytest_connector_contract.cli.main", *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        for written in (word for word in command if word.endswith((".html", ".md"))):
            assert (tmp_path / written).stat().st_size > 0, written
    (table,) = rendered((tmp_path / "table.md").read_text(encoding="utf-8")).tables
    assert table[0] == ["check", "Elasticsearch 8.15.0", "Elasticsearch 8.19.0", "Elasticsearch 9.1.0"]
