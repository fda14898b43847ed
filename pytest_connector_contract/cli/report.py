"""``connector-contract report A.json [B.json ...] --html FILE --markdown FILE``: saved JSON reports rendered
without re-running anything. One report: its page and its Markdown summary. Several: a compatibility table,
one column per report, one row per check, the rows that differ first."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_connector_contract.reports.table import ReportError, compatibility_html, compatibility_markdown, load_report

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="render saved JSON reports (--connector-json) as a page, a Markdown summary or a compatibility table",
        description="Renders one or more saved conformance reports without re-running anything. With one report, "
        "its page and its Markdown summary; with several, a compatibility table: one column per report "
        "(implementation, release, verdict, score), one row per check, the rows that differ first.",
    )
    report.add_argument(
        "reports", nargs="+", type=Path, metavar="REPORT.json", help="reports written by --connector-json"
    )
    report.add_argument("--html", type=Path, metavar="FILE", help="write the page or table as HTML")
    report.add_argument("--markdown", type=Path, metavar="FILE", help="write the summary or table as Markdown")


def run(args: argparse.Namespace) -> int:
    if args.html is None and args.markdown is None:
        print("connector-contract report: say where to write it: --html FILE and/or --markdown FILE", file=sys.stderr)
        return 2
    try:
        reports = [(str(path), load_report(path)) for path in args.reports]
    except ReportError as exc:
        print(f"connector-contract report: {exc}", file=sys.stderr)
        return 2
    for path, render in ((args.html, compatibility_html), (args.markdown, compatibility_markdown)):
        if path is not None:
            try:
                path.write_text(render(reports), encoding="utf-8")
            except OSError as exc:
                print(f"connector-contract report: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
                return 2
            print(f"{'HTML' if render is compatibility_html else 'Markdown'}: {path}")
    return 0
