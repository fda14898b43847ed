"""Saved JSON reports rendered without re-running anything (``connector-contract report``).

With one report: that report's page (the same blocks as the pytest-html report's conformance section, with
every failing check's evidence) and its Markdown summary. With several: a compatibility table, one column per
report (implementation, release, verdict, score), one row per check, the outcome in each cell, the rows whose
outcome differs between the reports first. For a gateway vendor's "works with 8.15, 8.19 and 9.1" table, and
for a platform team's fleet.

Reports of schema versions 1 to the one this version writes are read; a newer one is refused with a message that
says to upgrade.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.reports import html
from pytest_connector_contract.reports.markdown import summary_markdown
from pytest_connector_contract.reports.verdict import document_verdict, verdict_words

__all__ = ["Column", "ReportError", "compatibility_html", "compatibility_markdown", "load_report"]


class ReportError(ValueError):
    """A file that is not a conformance report this version can read; the message names the file."""


def load_report(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("schema_version"), int):
        raise ReportError(f"{path} is not a conformance report (written with --connector-json): no schema_version")
    version, newest = document["schema_version"], schemas.report_schema_version()
    if version > newest:
        tool = (document.get("tool") or {}).get("version", "a newer version")
        raise ReportError(
            f"{path} was written by pytest-connector-contract {tool} (report schema {version}); this version reads "
            f"schemas up to {newest}: upgrade pytest-connector-contract to render it"
        )
    for key in ("summary", "checks", "target", "tool"):
        if key not in document:
            raise ReportError(f"{path} is not a conformance report: it has no {key!r}")
    return document


@dataclass(frozen=True)
class Column:
    """One report in the table."""

    path: str
    implementation: str
    release: str
    verdict: str
    score: float

    @classmethod
    def of(cls, path: str, document: Mapping[str, Any]) -> Column:
        target = document.get("target") or {}
        product = target.get("implementation") or target.get("product") or "unknown"
        return cls(
            path=path,
            implementation=str(product),
            release=str(target.get("version") or "?"),
            verdict=document_verdict(document),
            score=float(document["summary"]["score"]),
        )


def _rows(documents: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str], bool]]:
    """(check id, outcome per report, differs) in catalogue order, the differing rows first."""
    order: dict[str, None] = {}
    outcomes: list[dict[str, str]] = []
    for document in documents:
        by_id = {check["id"]: str(check["outcome"]) for check in document["checks"]}
        order.update(dict.fromkeys(by_id))
        outcomes.append(by_id)
    rows = []
    for check_id in order:
        cells = [by_id.get(check_id, "not run") for by_id in outcomes]
        rows.append((check_id, cells, len(set(cells)) > 1))
    return [row for row in rows if row[2]] + [row for row in rows if not row[2]]


def compatibility_markdown(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    if len(reports) == 1:
        return summary_markdown(reports[0][1])
    columns = [Column.of(path, document) for path, document in reports]
    rows = _rows([document for _, document in reports])
    differing = sum(1 for row in rows if row[2])
    lines = [
        "## Connector status API: compatibility across targets",
        "",
        f"{len(rows)} checks, {differing} with outcomes that differ between the {len(columns)} reports (listed first).",
        "",
        "| check | " + " | ".join(f"{c.implementation} {c.release}" for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
        "| **verdict** | " + " | ".join(verdict_words(c.verdict) for c in columns) + " |",
        "| **score** | " + " | ".join(f"{c.score:.3f}" for c in columns) + " |",
    ]
    lines += [f"| `{check_id}` | " + " | ".join(cells) + " |" for check_id, cells, _ in rows]
    return "\n".join(lines) + "\n"


def compatibility_html(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    if len(reports) == 1:
        return html.report_page(reports[0][1])
    return html.compatibility_page(
        [Column.of(path, document) for path, document in reports], _rows([document for _, document in reports])
    )
