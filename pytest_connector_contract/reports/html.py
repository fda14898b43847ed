"""The HTML of the pytest-html report: verdict, matrix, state machine, sections beyond the matrix, evidence.

Python computes what to show (outcome classes, counts, the layout of the picture); the Jinja2 templates in
``templates/`` lay it out and escape every value. The stylesheet is package data (``static/report.css``),
inlined in a ``<style>`` block: the report is inline HTML, CSS and SVG and opens with no network. No pytest
here: the glue that hands these fragments to pytest-html is :mod:`pytest_connector_contract.plugin.html_report`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pytest_connector_contract.client.curl import reproduction
from pytest_connector_contract.contract.spec import SUITE_NODE, source_label, source_url, transition_id
from pytest_connector_contract.reports.grid import matrix_grid
from pytest_connector_contract.reports.results import OUTCOMES, official_client_note
from pytest_connector_contract.reports.verdict import PASSING, document_verdict, verdict_words

__all__ = [
    "beyond_html",
    "comparison_html",
    "evidence_html",
    "expectations_html",
    "matrix_html",
    "matrix_section_html",
    "provenance_html",
    "results_header_cells",
    "results_row_cells",
    "state_machine_svg",
    "style_html",
    "summary_html",
]

TITLE = "Connector status API conformance"


def _row_anchor(check_id: str) -> str:
    """pytest-html gives each result row the id of its test: ``connector-contract::<check id>``."""
    return f"#{SUITE_NODE}::{check_id}"


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("pytest_connector_contract.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["row_anchor"] = _row_anchor
    return environment


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


@functools.cache
def _stylesheet() -> str:
    return resources.files("pytest_connector_contract.reports").joinpath("static", "report.css").read_text("utf-8")


def style_html() -> str:
    """The report's stylesheet (package data) in a ``<style>`` block: nothing to fetch."""
    return _render("style.html.j2", css=_stylesheet())


# -- the results table's extra columns -------------------------------------------------------------
_COLUMNS = (("checkId", "Check"), ("category", "Category"), ("expected", "Expected"), ("observed", "Observed"))
_SORTABLE = frozenset({"checkId", "category"})


def results_header_cells() -> list[str]:
    """The header cells of the columns the suite adds to pytest-html's results table."""
    return [
        _render("results_header_cell.html.j2", column=column, text=text, sortable=column in _SORTABLE)
        for column, text in _COLUMNS
    ]


def results_row_cells(data: Mapping[str, Any]) -> list[str]:
    """A check's cells in those columns; the observed one is shortened, with the whole text on hover."""
    observed = str(data.get("observed") or "")
    short = observed if len(observed) <= 160 else observed[:157] + "..."
    cells = {
        "checkId": (str(data.get("id") or ""), _check_title(data)),
        "category": (str(data.get("category") or ""), None),
        "expected": (str(data.get("expected") or ""), None),
        "observed": (short, observed),
    }
    return [
        _render("results_cell.html.j2", column=column, text=text, title=title)
        for column, (text, title) in cells.items()
    ]


# -- the summary block -----------------------------------------------------------------------------
def summary_html(document: Mapping[str, Any]) -> str:
    """Verdict, score, counts, target identity, profile, suite version and time of the run."""
    summary = document["summary"]
    target = document.get("target") or {}
    provenance = document.get("provenance") or {}
    chips = [
        {"outcome": outcome, "count": summary.get(outcome) or 0}
        for outcome in OUTCOMES
        if summary.get(outcome) or outcome in ("passed", "failed")
    ]
    product = " ".join(str(x) for x in (target.get("product") or "unknown product", target.get("version") or ""))
    build = ", ".join(
        f"{label} {target[key]}"
        for key, label in (("build_flavor", "flavor"), ("build_hash", "build"))
        if target.get(key)
    )
    embedded = " (embedded reference target)" if target.get("embedded") else ""
    verdict = document_verdict(document)
    identity = [
        *([("implementation", str(target["implementation"]))] if target.get("implementation") else []),
        ("target", f"{target.get('url') or '?'}{embedded}"),
        ("product", f"{product}" + (f" ({build})" if build else "")),
        ("profile", f"{document.get('profile')} (from {target.get('profile_source')})"),
        ("suite", f"pytest-connector-contract {provenance.get('suite_version') or document['tool']['version']}"),
        ("run", f"{provenance.get('started_at') or document.get('generated_at')} to {provenance.get('finished_at')}"),
    ]
    note = official_client_note(document["checks"])
    if note is not None:
        identity.append(("official client", note))
    baseline = document.get("baseline")
    if baseline:
        identity.append(
            (
                "baseline",
                f"{baseline['path']}: {baseline['entries']} entries, "
                f"{len(baseline['expected_failures'])} expected failures this run",
            )
        )
    rerun = [check["id"] for check in document.get("checks") or [] if check.get("reruns")]
    if rerun:
        shown = ", ".join(rerun[:5]) + (f" and {len(rerun) - 5} more" if len(rerun) > 5 else "")
        identity.append(("reruns", f"{len(rerun)} check(s) run again after an error: {shown}"))
    problems = [p["message"] for p in (baseline or {}).get("problems", [])]
    problems += [f"NOT DELETED {leftover}" for leftover in document.get("leftovers") or []]
    return _render(
        "summary.html.j2",
        verdict=verdict,
        words=verdict_words(verdict),
        passing=verdict in PASSING,
        strict=bool(summary.get("strict")),
        score=f"{summary['score']:.3f}",
        good=summary["passed"] + summary["xfailed"] - summary.get("xfailed_baseline", 0),
        executed=summary["executed"],
        chips=chips,
        identity=identity,
        problems=problems,
    )


# -- the matrix as a grid --------------------------------------------------------------------------
def matrix_html(document: Mapping[str, Any]) -> str:
    """The 5x5 transition matrix: rows are the current status, columns the requested one."""
    return _render("matrix.html.j2", grid=matrix_grid(document))


# -- the state machine as a picture ----------------------------------------------------------------
_NODE_RX, _NODE_RY = 86.0, 24.0
_LAYOUT = {
    "created": (100.0, 110.0),
    "needs_configuration": (295.0, 110.0),
    "configured": (490.0, 110.0),
    "connected": (685.0, 110.0),
    "error": (392.0, 330.0),
}


def _edge_kind(cell: Mapping[str, Any]) -> str | None:
    """How to draw the edge current -> requested, or None when there is nothing to draw.

    The picture is the profile's machine (its accepted transitions) with the departures drawn over it: a cell
    that failed is always a failing edge, even a refused transition answered with the expected 400.
    """
    expected, observed, outcome = cell["expected"], cell.get("observed"), cell.get("outcome")
    wrong = {"accepted": "refused", "refused": "accepted"}.get(expected) == observed
    if outcome == "xfailed":
        return "xfail" if wrong or expected == "accepted" else None
    if wrong:
        return f"wrongly-{observed}"
    if outcome in ("failed", "xpassed") or (outcome == "error" and observed is not None):
        return "failed"
    if expected != "accepted":
        return None
    return "ok" if outcome == "passed" else "untested"


_EDGE_LABEL = {
    "wrongly-accepted": "\u2717 accepted",
    "wrongly-refused": "\u2717 refused",
    "failed": "\u2717 failed",
    "xfail": "xfail",
}


def _boundary(center: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the ray from a node's centre toward a point leaves its ellipse."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    t = 1.0 / math.sqrt((ux / _NODE_RX) ** 2 + (uy / _NODE_RY) ** 2)
    return center[0] + ux * t, center[1] + uy * t


def _edge_path(current: str, requested: str) -> tuple[str, tuple[float, float]]:
    """An SVG path from one node to another (a loop for a self-transition) and a point for its label."""
    x, y = _LAYOUT[current]
    if current == requested:
        up = -1.0 if current != "error" else 1.0
        sx, sy = x - 22, y + up * (_NODE_RY - 3)
        ex, ey = x + 22, y + up * (_NODE_RY - 3)
        c1 = (x - 45, y + up * 75)
        c2 = (x + 45, y + up * 75)
        path = f"M{sx:.1f},{sy:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {ex:.1f},{ey:.1f}"
        return path, (x, y + up * 68)
    tx, ty = _LAYOUT[requested]
    dx, dy = tx - x, ty - y
    distance = math.hypot(dx, dy)
    # Bend every edge to its left: a -> b and b -> a never overlap; long edges arc clear of the nodes between.
    bend = 28.0 + (0.18 * distance if abs(dy) < 1 and distance > 250 else 0.0)
    control = ((x + tx) / 2 + dy / distance * bend, (y + ty) / 2 - dx / distance * bend)
    start = _boundary((x, y), control)
    end = _boundary((tx, ty), control)
    path = f"M{start[0]:.1f},{start[1]:.1f} Q{control[0]:.1f},{control[1]:.1f} {end[0]:.1f},{end[1]:.1f}"
    # The label sits nearer the source than the middle, so labels of edges into one node stay apart.
    t = 0.4
    label = (
        (1 - t) ** 2 * start[0] + 2 * (1 - t) * t * control[0] + t**2 * end[0],
        (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * control[1] + t**2 * end[1],
    )
    return path, label


_EDGE_COLOURS = {
    "ok": "#2da44e",
    "untested": "#8c959f",
    "xfail": "#bf8700",
    "failed": "#e16f24",
    "wrongly-accepted": "#cf222e",
    "wrongly-refused": "#cf222e",
}


def _picture(document: Mapping[str, Any]) -> dict[str, Any]:
    """Where to draw each node and each edge, and how: departures are drawn last, so they are on top."""
    matrix = document.get("matrix") or {}
    order = {"ok": 0, "untested": 0, "xfail": 1, "failed": 2, "wrongly-refused": 3, "wrongly-accepted": 3}
    drawn = []
    for current, row in matrix.items():
        for requested, cell in row.items():
            kind = _edge_kind(cell)
            if kind is not None and current in _LAYOUT and requested in _LAYOUT:
                drawn.append((order[kind], current, requested, kind, cell))
    edges = []
    for _, current, requested, kind, cell in sorted(drawn, key=lambda d: d[0]):
        path, (lx, ly) = _edge_path(current, requested)
        edges.append(
            {
                "current": current,
                "requested": requested,
                "check": cell.get("check") or transition_id(current, requested),
                "kind": kind,
                "path": path,
                "title": f"{current} -> {requested}: expected {cell['expected']}, "
                f"observed {cell.get('observed') or '-'} ({cell.get('outcome')})",
                "label": _EDGE_LABEL.get(kind),
                "label_x": f"{lx:.1f}",
                "label_y": f"{ly + 4:.1f}",
            }
        )
    nodes = [
        {"status": status, "x": x, "y": y, "text_y": y + 5} for status, (x, y) in _LAYOUT.items() if status in matrix
    ]
    return {"colours": _EDGE_COLOURS, "edges": edges, "nodes": nodes, "rx": _NODE_RX, "ry": _NODE_RY}


def state_machine_svg(document: Mapping[str, Any]) -> str:
    """The profile's state machine, and drawn over it what the target did: wrong edges stand out in red."""
    return _render("state_machine.svg.j2", picture=_picture(document))


def matrix_section_html(document: Mapping[str, Any]) -> str:
    """The grid and the picture side by side, with the picture's legend."""
    if not document.get("matrix"):
        return ""
    return _render("transitions.html.j2", grid=matrix_grid(document), picture=_picture(document))


# -- beyond the matrix: exploration, racing clients, privileges -----------------------------------
def beyond_html(document: Mapping[str, Any]) -> str:
    """Sections for the checks the options add, next to the grid; empty when none ran."""
    explore = document.get("explore")
    race = document.get("race")
    privileges = document.get("privileges")
    return _render(
        "beyond.html.j2",
        explore=explore
        and {
            "seed": str(explore.get("seed")),
            "reproduce": str(explore.get("reproduce")),
            "walks": [
                {
                    "id": walk["id"],
                    "outcome": walk["outcome"],
                    "sequences": walk.get("sequences"),
                    "requests": walk.get("requests"),
                    "stopped": str(walk.get("stopped") or ""),
                    "sequence": [
                        {key: str(step.get(key)) for key in ("label", "expected", "observed")}
                        for step in walk.get("sequence") or []
                    ],
                    "replay": str(walk.get("replay") or ""),
                }
                for walk in explore["results"]
            ],
        },
        race=race
        and [
            {
                "id": r["id"],
                "outcome": r["outcome"],
                "rounds": len(r.get("rounds") or []),
                "rounds_planned": r.get("rounds_planned"),
            }
            for r in race["results"]
        ],
        privileges=privileges
        and [
            {"id": r["id"], "outcome": r["outcome"], "observed": str(r.get("observed") or r.get("message") or "")}
            for r in privileges["results"]
        ],
    )


# -- the reference, comparison and provenance -----------------------------------------------------------
def differential_html(section: Mapping[str, Any]) -> str:
    """The comparison with the reference (``--connector-reference-url`` or ``--connector-expect-from``)."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return _render(
        "differential.html.j2",
        reference={key: str(value) for key, value in section["reference"].items()},
        target_release=str(section.get("target_release")),
        compared=section["compared"],
        not_compared=section["not_compared"],
        differing=[
            {
                "id": check["id"],
                "outcome": check["outcome"],
                "differences": [
                    {**row, "target": text(row["target"]), "reference": text(row["reference"])}
                    for row in check["differences"]
                ],
            }
            for check in section["differing"]
        ],
        departures=section["reference_departures"],
        changes=section["documented_changes"],
    )


# -- comparison and provenance ---------------------------------------------------------------------
def comparison_html(comparison: Mapping[str, Any]) -> str:
    previous = comparison["previous"]
    groups = [
        {
            "key": key,
            "title": title,
            "changes": [
                {"id": item["id"], "change": f"{item.get('before', 'absent')} \u2192 {item.get('now', 'absent')}"}
                for item in comparison[key]
            ],
        }
        for key, title in (("regressions", "Regressions"), ("fixes", "Fixes"), ("new", "New checks"), ("gone", "Gone"))
    ]
    return _render(
        "comparison.html.j2",
        previous={
            "path": str(previous.get("path")),
            "generated_at": str(previous.get("generated_at")),
            "target_url": str(previous.get("target_url")),
            "target_version": str(previous.get("target_version") or ""),
            "score": str(previous.get("score")),
        },
        groups=groups,
    )


def provenance_html(document: Mapping[str, Any]) -> str:
    provenance = document.get("provenance") or {}
    rows = [(f"{k}", str(v)) for k, v in provenance.items()]
    rows.append(("profile", str(document.get("profile"))))
    for key, value in (document.get("target") or {}).items():
        rows.append((f"target.{key}", str(value)))
    for key, setting in (document.get("configuration") or {}).items():
        rows.append((f"config.{key}", f"{setting.get('value')} (from {setting.get('source')})"))
    return _render("provenance.html.j2", rows=rows)


def _sources(provenance: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One item per provenance entry: a link to the file at its commit (or the derivation), what it
    establishes, and the releases it backs."""
    items = []
    for entry in provenance:
        url = source_url(entry)
        items.append(
            {
                "url": url,
                "kind": "Elastic test " if entry.get("kind") == "test" else "",
                "label": source_label(entry) if url else None,
                "repo": str(entry["repo"]) if url else None,
                "what": str(entry.get("what") or ""),
                "releases": str(entry["releases"]) if entry.get("releases") else None,
            }
        )
    return items


def _check_title(data: Mapping[str, Any]) -> str:
    """The hover text of a check's id: its statement, then where each expectation comes from."""
    lines = [str(data.get("statement") or "")]
    for entry in data.get("provenance") or []:
        where = source_url(entry) or "derived"
        releases = f" [{entry['releases']}]" if entry.get("releases") else ""
        lines.append(f"{where}: {entry.get('what')}{releases}")
    return "\n".join(line for line in lines if line)


def expectations_html(document: Mapping[str, Any]) -> str:
    """Every check of the run with its statement and provenance, so a reader can judge a verdict."""
    checks = [
        {
            "id": str(check["id"]),
            "statement": str(check.get("statement") or ""),
            "sources": _sources(check.get("provenance") or []),
        }
        for check in document.get("checks") or []
    ]
    return _render("expectations.html.j2", checks=checks)


# -- evidence on a row that did not pass -----------------------------------------------------------
def _pretty(body: str | None) -> str:
    if body is None:
        return "(no body)"
    if body == "":
        return "(empty body)"
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _exchange_text(exchange: Mapping[str, Any]) -> str:
    request = exchange["request"]
    lines = [f"{request['method']} {request['path']}"]
    lines += [f"{name}: {value}" for name, value in (request.get("headers") or {}).items()]
    lines += ["", _pretty(request.get("body")), ""]
    response = exchange.get("response")
    if response is None:
        lines.append(f"(no answer: {exchange.get('error')})")
    else:
        lines.append(f"HTTP {response['status']}")
        lines += [f"{name}: {value}" for name, value in (response.get("headers") or {}).items()]
        lines += ["", _pretty(response.get("body"))]
    return "\n".join(lines)


def evidence_html(data: Mapping[str, Any]) -> str:
    """What a failing row shows: departures, baseline entry, curl reproduction, redacted exchanges."""
    check_id = str(data.get("id"))
    exchanges: Sequence[Mapping[str, Any]] = data.get("exchanges") or []
    last_status = max((i for i, e in enumerate(exchanges) if e["request"]["path"].endswith("/_status")), default=-1)
    return _render(
        "evidence.html.j2",
        check_id=check_id,
        statement=str(data.get("statement") or ""),
        provenance=_sources(data.get("provenance") or []),
        problems=[str(p) for p in data.get("problems") or []],
        blocked_by=str(data["blocked_by"]) if data.get("blocked_by") else None,
        reruns=list(data.get("reruns") or []),
        script=reproduction(check_id, exchanges),
        exchanges=[
            {
                "method": exchange["request"]["method"],
                "path": exchange["request"]["path"],
                "answer": f"HTTP {exchange['response']['status']}" if exchange.get("response") else "no answer",
                "open": index == last_status,
                "text": _exchange_text(exchange),
            }
            for index, exchange in enumerate(exchanges)
        ],
    )


# -- pages of their own (connector-contract report) ------------------------------------------------
def report_page(document: Mapping[str, Any]) -> str:
    """One saved report as a page of its own: the blocks of the pytest-html report's conformance section,
    with the evidence of every check that did not pass."""
    blocks = [summary_html(document), matrix_section_html(document), beyond_html(document)]
    if document.get("differential"):
        blocks.append(differential_html(document["differential"]))
    if document.get("comparison"):
        blocks.append(comparison_html(document["comparison"]))
    blocks += [
        evidence_html(check)
        for check in document.get("checks") or []
        if check["outcome"] != "passed" or check.get("reruns")
    ]
    blocks += [expectations_html(document), provenance_html(document)]
    return _render("page.html.j2", title=TITLE, style=style_html(), blocks=blocks)


def compatibility_page(columns: Sequence[Any], rows: Sequence[tuple[str, list[str], bool]]) -> str:
    """Several saved reports side by side: one column each, one row per check, differing rows first."""
    table = _render(
        "compatibility.html.j2",
        columns=columns,
        rows=rows,
        differing=sum(1 for row in rows if row[2]),
        words=verdict_words,
    )
    return _render("page.html.j2", title=f"{TITLE}: compatibility", style=style_html(), blocks=[table])
