"""The HTML of the pytest-html report: verdict, matrix, state machine, sections beyond the matrix, evidence.

Everything is inline HTML, CSS and SVG: the file opens with no network. No pytest here: the glue that hands
these fragments to pytest-html is :mod:`pytest_connector_contract.plugin.html`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pytest_connector_contract.plugin.suite import SUITE_NODE
from pytest_connector_contract.reports.curl import reproduction
from pytest_connector_contract.reports.results import OUTCOMES

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


def _a(check_id: str, content: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<a{cls} href="{escape(_row_anchor(check_id))}">{content}</a>'


def style_html() -> str:
    return f"<style>{_CSS}</style>"


# -- the results table's extra columns -------------------------------------------------------------
def results_header_cells() -> list[str]:
    return [
        '<th class="sortable" data-column-type="checkId">Check</th>',
        '<th class="sortable" data-column-type="category">Category</th>',
        "<th>Expected</th>",
        "<th>Observed</th>",
    ]


def results_row_cells(data: Mapping[str, Any]) -> list[str]:
    observed = str(data.get("observed") or "")
    short = observed if len(observed) <= 160 else observed[:157] + "..."
    return [
        f'<td class="col-checkId" title="{escape(_check_title(data))}">{escape(str(data.get("id") or ""))}</td>',
        f'<td class="col-category">{escape(str(data.get("category") or ""))}</td>',
        f'<td class="col-expected">{escape(str(data.get("expected") or ""))}</td>',
        f'<td class="col-observed" title="{escape(observed)}">{escape(short)}</td>',
    ]


# -- the summary block -----------------------------------------------------------------------------
def _counts_html(summary: Mapping[str, Any]) -> str:
    chips = []
    for outcome in OUTCOMES:
        count = summary.get(outcome) or 0
        if count or outcome in ("passed", "failed"):
            colour = f" cc-{outcome}" if count else ""
            chips.append(f'<li class="cc-chip{colour}">{count} {outcome}</li>')
    return f'<ul class="cc-counts">{"".join(chips)}</ul>'


def summary_html(document: Mapping[str, Any]) -> str:
    """Verdict, score, counts, target identity, profile, suite version and time of the run."""
    summary = document["summary"]
    target = document.get("target") or {}
    provenance = document.get("provenance") or {}
    conformant = bool(summary["conformant"])
    verdict = "CONFORMANT" if conformant else "NOT CONFORMANT"
    good = summary["passed"] + summary["xfailed"] - summary.get("xfailed_baseline", 0)
    score = (
        f'<p class="cc-score">score <b>{summary["score"]:.3f}</b>: {good} of {summary["executed"]} executed '
        f"checks behave as Elasticsearch does</p>"
    )
    product = " ".join(str(x) for x in (target.get("product") or "unknown product", target.get("version") or ""))
    build = ", ".join(
        f"{label} {target[key]}"
        for key, label in (("build_flavor", "flavor"), ("build_hash", "build"))
        if target.get(key)
    )
    embedded = " (embedded reference target)" if target.get("embedded") else ""
    rows = [
        ("target", f"{target.get('url') or '?'}{embedded}"),
        ("product", f"{product}" + (f" ({build})" if build else "")),
        ("profile", f"{document.get('profile')} (from {target.get('profile_source')})"),
        ("suite", f"pytest-connector-contract {provenance.get('suite_version') or document['tool']['version']}"),
        ("run", f"{provenance.get('started_at') or document.get('generated_at')} to {provenance.get('finished_at')}"),
    ]
    baseline = document.get("baseline")
    if baseline:
        rows.append(
            (
                "baseline",
                f"{baseline['path']}: {baseline['entries']} entries, "
                f"{len(baseline['expected_failures'])} expected failures this run",
            )
        )
    identity = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    problems = [p["message"] for p in (baseline or {}).get("problems", [])]
    problems += [f"NOT DELETED {leftover}" for leftover in document.get("leftovers") or []]
    problem_html = (
        '<ul class="cc-problems">' + "".join(f"<li>{escape(p)}</li>" for p in problems) + "</ul>" if problems else ""
    )
    css = "cc-verdict--pass" if conformant else "cc-verdict--fail"
    return (
        f'<section id="cc-summary"><div id="cc-verdict" class="cc-verdict {css}">{verdict}</div>'
        f'{score}{_counts_html(summary)}<table class="cc-identity">{identity}</table>{problem_html}</section>'
    )


# -- the matrix as a grid --------------------------------------------------------------------------
def _cell_kind(cell: Mapping[str, Any], check: Mapping[str, Any] | None) -> str:
    outcome = str(cell.get("outcome") or "not_run")
    if outcome == "xfailed":
        return "xfailed-baseline" if check and check.get("baseline") else "xfailed-es"
    return outcome


_CELL_LABEL = {
    "passed": "ok",
    "failed": "FAILED",
    "error": "ERROR",
    "blocked": "blocked",
    "skipped": "skipped",
    "xfailed-baseline": "xfail (baseline)",
    "xfailed-es": "xfail (as stock ES)",
    "xpassed": "XPASS",
    "not_run": "not run",
}


def _breakable(status: str) -> str:
    return escape(status).replace("_", "_<wbr>")


def matrix_html(document: Mapping[str, Any]) -> str:
    """The 5x5 transition matrix: rows are the current status, columns the requested one."""
    matrix = document.get("matrix") or {}
    checks = {c["id"]: c for c in document.get("checks") or []}
    statuses = list(matrix)
    head = "".join(f'<th scope="col">{_breakable(s)}</th>' for s in statuses)
    body = []
    for current in statuses:
        cells = []
        for requested in statuses:
            cell = matrix[current][requested]
            check_id = cell.get("check") or f"transition[{current}->{requested}]"
            kind = _cell_kind(cell, checks.get(check_id))
            lines = [
                f'<span class="cc-cell-outcome">{_CELL_LABEL.get(kind, kind)}</span>',
                f'<span class="cc-cell-line">expected <b>{escape(cell["expected"])}</b></span>',
                f'<span class="cc-cell-line">observed <b>{escape(cell.get("observed") or "-")}</b></span>',
            ]
            if cell.get("blocked_by"):
                by = str(cell["blocked_by"]).removeprefix("transition[").removesuffix("]")
                lines.append(f'<span class="cc-cell-line">by {escape(by)}</span>')
            title = f"{check_id}: expected {cell['expected']}, observed {cell.get('observed') or '-'}, {kind}"
            cells.append(
                f'<td class="cc-cell cc-{kind}" data-from="{escape(current)}" data-to="{escape(requested)}" '
                f'data-outcome="{escape(str(cell.get("outcome")))}" title="{escape(title)}">'
                f"{_a(check_id, ''.join(lines), 'cc-cell-link')}</td>"
            )
        body.append(f'<tr><th scope="row">{_breakable(current)}</th>{"".join(cells)}</tr>')
    return (
        '<table id="cc-matrix" class="cc-matrix"><caption>rows: current status; columns: requested status</caption>'
        f'<thead><tr><th class="cc-corner">from \\ to</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


# -- the state machine as a picture ----------------------------------------------------------------
_NODE_RX, _NODE_RY = 86.0, 24.0
_LAYOUT = {
    "created": (100.0, 110.0),
    "needs_configuration": (295.0, 110.0),
    "configured": (490.0, 110.0),
    "connected": (685.0, 110.0),
    "error": (392.0, 330.0),
}


def _edge_kind(cell: Mapping[str, Any], check: Mapping[str, Any] | None) -> str | None:
    """How to draw the edge current -> requested, or None when there is nothing to draw."""
    expected, observed, outcome = cell["expected"], cell.get("observed"), cell.get("outcome")
    if expected == "refused" and observed == "accepted":
        return "xfail" if outcome == "xfailed" else "wrongly-accepted"
    if expected != "accepted":
        return None
    if observed == "refused":
        return "xfail" if outcome == "xfailed" else "wrongly-refused"
    if outcome == "passed":
        return "ok"
    if outcome == "xfailed":
        return "xfail"
    if outcome in ("failed", "xpassed") or (outcome == "error" and observed is not None):
        return "failed"
    return "untested"


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


def state_machine_svg(document: Mapping[str, Any]) -> str:
    """The profile's state machine, and drawn over it what the target did: wrong edges stand out in red."""
    matrix = document.get("matrix") or {}
    checks = {c["id"]: c for c in document.get("checks") or []}
    markers = "".join(
        f'<marker id="cc-arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        f'markerWidth="12" markerHeight="12" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for kind, colour in _EDGE_COLOURS.items()
    )
    edges, labels = [], []
    # Draw the expected machine first and the departures last, so they are on top.
    order = {"ok": 0, "untested": 0, "xfail": 1, "failed": 2, "wrongly-refused": 3, "wrongly-accepted": 3}
    drawn = []
    for current, row in matrix.items():
        for requested, cell in row.items():
            check_id = cell.get("check") or f"transition[{current}->{requested}]"
            kind = _edge_kind(cell, checks.get(check_id))
            if kind is not None and current in _LAYOUT and requested in _LAYOUT:
                drawn.append((order[kind], current, requested, kind, check_id, cell))
    for _, current, requested, kind, check_id, cell in sorted(drawn, key=lambda d: d[0]):
        path, (lx, ly) = _edge_path(current, requested)
        title = (
            f"{current} -> {requested}: expected {cell['expected']}, observed {cell.get('observed') or '-'}"
            f" ({cell.get('outcome')})"
        )
        edges.append(
            f'<a href="{escape(_row_anchor(check_id))}"><g class="cc-edge cc-edge--{kind}" data-from="{current}" '
            f'data-to="{requested}" data-kind="{kind}"><title>{escape(title)}</title>'
            f'<path d="{path}" fill="none" stroke="{_EDGE_COLOURS[kind]}" marker-end="url(#cc-arrow-{kind})"/></g></a>'
        )
        if kind in _EDGE_LABEL:
            labels.append(
                f'<text class="cc-edge-label cc-edge-label--{kind}" x="{lx:.1f}" y="{ly + 4:.1f}" '
                f'text-anchor="middle" data-from="{current}" data-to="{requested}">'
                f"{escape(_EDGE_LABEL[kind])}</text>"
            )
    nodes = "".join(
        f'<g class="cc-node" data-status="{status}"><ellipse cx="{x}" cy="{y}" rx="{_NODE_RX}" ry="{_NODE_RY}"/>'
        f'<text x="{x}" y="{y + 5}" text-anchor="middle">{escape(status)}</text></g>'
        for status, (x, y) in _LAYOUT.items()
        if status in matrix
    )
    return (
        '<svg id="cc-state-machine" class="cc-state-machine" xmlns="http://www.w3.org/2000/svg" '
        'viewBox="0 0 790 420" width="560" height="298" role="img" '
        'aria-label="Status state machine: expected transitions and what the target did">'
        f"<defs>{markers}</defs>{''.join(edges)}{nodes}{''.join(labels)}</svg>"
    )


def _legend_html() -> str:
    items = [
        ("ok", "accepted as expected"),
        ("wrongly-refused", "refused, but Elasticsearch accepts it (dashed)"),
        ("wrongly-accepted", "accepted, but Elasticsearch refuses it"),
        ("failed", "accepted, but the check failed"),
        ("xfail", "expected failure"),
        ("untested", "expected, not tested (blocked or not run)"),
    ]
    return (
        '<ul class="cc-legend">'
        + "".join(f'<li><span class="cc-swatch cc-swatch--{kind}"></span>{escape(text)}</li>' for kind, text in items)
        + "</ul>"
    )


def matrix_section_html(document: Mapping[str, Any]) -> str:
    if not document.get("matrix"):
        return ""
    return (
        '<section id="cc-transitions"><h2>Transition matrix</h2>'
        '<p class="cc-hint">Each cell is one check; click it for its row in the results below. '
        "The picture is the profile's state machine with what the target did drawn over it.</p>"
        f'<div class="cc-transitions">{matrix_html(document)}<figure class="cc-figure">'
        f"{state_machine_svg(document)}<figcaption>{_legend_html()}</figcaption></figure></div></section>"
    )


# -- beyond the matrix: exploration, racing clients, privileges -----------------------------------
def beyond_html(document: Mapping[str, Any]) -> str:
    """Sections for the checks the options add, next to the grid; empty when none ran."""
    parts: list[str] = []
    explore = document.get("explore")
    if explore:
        rows = []
        for walk in explore["results"]:
            stopped = escape(str(walk.get("stopped") or ""))
            rows.append(
                f'<tr><td>{_a(walk["id"], escape(walk["id"]))}</td><td class="cc-out-{escape(walk["outcome"])}">'
                f"{escape(walk['outcome'])}</td><td>{walk.get('sequences')}</td><td>{walk.get('requests')}</td>"
                f"<td>{stopped}</td></tr>"
            )
            if walk.get("sequence"):
                steps = "".join(
                    f"<li>{escape(str(step.get('label')))}: expected {escape(str(step.get('expected')))}, "
                    f"observed {escape(str(step.get('observed')))}</li>"
                    for step in walk["sequence"]
                )
                rows.append(
                    f'<tr><td colspan="5"><p>Shortest failing sequence ({len(walk["sequence"])} steps):</p>'
                    f"<ol>{steps}</ol><pre>{escape(str(walk.get('replay') or ''))}</pre></td></tr>"
                )
        parts.append(
            '<section id="cc-explore"><h2>Exploration</h2>'
            f'<p class="cc-hint">seed {escape(str(explore.get("seed")))}; reproduce with '
            f"<code>{escape(str(explore.get('reproduce')))}</code></p>"
            "<table><tr><th>walk</th><th>outcome</th><th>sequences</th><th>requests</th><th>stopped</th></tr>"
            f"{''.join(rows)}</table></section>"
        )
    race = document.get("race")
    if race:
        rows = [
            f'<tr><td>{_a(r["id"], escape(r["id"]))}</td><td class="cc-out-{escape(r["outcome"])}">'
            f"{escape(r['outcome'])}</td><td>{len(r.get('rounds') or [])} of {r.get('rounds_planned')}</td></tr>"
            for r in race["results"]
        ]
        parts.append(
            '<section id="cc-race"><h2>Racing clients</h2><p class="cc-hint">Conflicting _status requests for one '
            "connector sent at the same moment; Elasticsearch does not promise that exactly one wins.</p>"
            f"<table><tr><th>check</th><th>outcome</th><th>rounds run</th></tr>{''.join(rows)}</table></section>"
        )
    privileges = document.get("privileges")
    if privileges:
        rows = [
            f'<tr><td>{_a(r["id"], escape(r["id"]))}</td><td class="cc-out-{escape(r["outcome"])}">'
            f"{escape(r['outcome'])}</td><td>{escape(str(r.get('observed') or r.get('message') or ''))}</td></tr>"
            for r in privileges["results"]
        ]
        parts.append(
            '<section id="cc-privileges"><h2>Privileges</h2>'
            f"<table><tr><th>check</th><th>outcome</th><th>observed</th></tr>{''.join(rows)}</table></section>"
        )
    return "".join(parts)


# -- comparison and provenance ---------------------------------------------------------------------
def comparison_html(comparison: Mapping[str, Any]) -> str:
    previous = comparison["previous"]
    parts = [
        '<section id="cc-comparison"><h2>Compared with the previous report</h2>',
        f'<p class="cc-hint">{escape(str(previous.get("path")))}, generated {escape(str(previous.get("generated_at")))}'
        f" against {escape(str(previous.get('target_url')))} {escape(str(previous.get('target_version') or ''))}"
        f", score {escape(str(previous.get('score')))}</p>",
    ]
    for key, title in (("regressions", "Regressions"), ("fixes", "Fixes"), ("new", "New checks"), ("gone", "Gone")):
        items = comparison[key]
        lines = []
        for item in items:
            change = f"{item.get('before', 'absent')} \u2192 {item.get('now', 'absent')}"
            lines.append(f"<li>{_a(item['id'], escape(item['id']))}: {escape(change)}</li>")
        parts.append(
            f'<div class="cc-compare cc-compare--{key}"><h3>{title} ({len(items)})</h3>'
            f"<ul>{''.join(lines) or '<li>none</li>'}</ul></div>"
        )
    parts.append("</section>")
    return "".join(parts)


def provenance_html(document: Mapping[str, Any]) -> str:
    provenance = document.get("provenance") or {}
    rows = [(f"{k}", str(v)) for k, v in provenance.items()]
    rows.append(("profile", str(document.get("profile"))))
    for key, value in (document.get("target") or {}).items():
        rows.append((f"target.{key}", str(value)))
    for key, setting in (document.get("configuration") or {}).items():
        rows.append((f"config.{key}", f"{setting.get('value')} (from {setting.get('source')})"))
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return (
        '<details id="cc-provenance"><summary>Provenance: suite, contract data, target and settings '
        f'(secrets redacted)</summary><table class="cc-identity">{table}</table></details>'
    )


def source_url(entry: Mapping[str, Any]) -> str | None:
    """The file at its commit on GitHub, for a source or test entry; None for a derived one."""
    if entry.get("kind") == "derived" or not entry.get("repo"):
        return None
    return f"https://github.com/{entry['repo']}/blob/{entry['commit']}/{entry['path']}"


def sources_html(provenance: Sequence[Mapping[str, Any]]) -> str:
    """One item per provenance entry: a link to the file at its commit (or the derivation), what it
    establishes, and the releases it backs."""
    items = []
    for entry in provenance:
        url = source_url(entry)
        releases = (
            f' <span class="cc-releases">[{escape(str(entry["releases"]))}]</span>' if entry.get("releases") else ""
        )
        if url is None:
            head = "<b>derived</b>"
        else:
            kind = "Elastic test " if entry.get("kind") == "test" else ""
            label = f"{entry['path'].rsplit('/', 1)[-1]}@{str(entry['commit'])[:8]}"
            head = f'{kind}<a href="{escape(url)}">{escape(label)}</a> ({escape(str(entry["repo"]))})'
        items.append(f"<li>{head}: {escape(str(entry.get('what') or ''))}{releases}</li>")
    return f'<ul class="cc-sources">{"".join(items)}</ul>'


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
    rows = []
    for check in document.get("checks") or []:
        rows.append(
            f"<tr><td>{_a(str(check['id']), escape(str(check['id'])))}</td>"
            f"<td>{escape(str(check.get('statement') or ''))}</td>"
            f"<td>{sources_html(check.get('provenance') or [])}</td></tr>"
        )
    return (
        '<details id="cc-expectations"><summary>Expectations: what each check asserts and where it comes from'
        '</summary><table class="cc-expectations"><tr><th>check</th><th>statement</th><th>provenance</th></tr>'
        f"{''.join(rows)}</table></details>"
    )


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
    parts = ['<div class="cc-evidence">']
    if data.get("statement"):
        parts.append(f'<p class="cc-statement">{escape(str(data["statement"]))}</p>')
    if data.get("provenance"):
        parts.append(f"<h4>Where this expectation comes from</h4>{sources_html(data['provenance'])}")
    problems = data.get("problems") or []
    if problems:
        parts.append(
            '<h4>Where the target departs from Elasticsearch</h4><ul class="cc-departures">'
            + "".join(f"<li>{escape(str(p))}</li>" for p in problems)
            + "</ul>"
        )
    if data.get("blocked_by"):
        parts.append(f"<p>Blocked by {_a(str(data['blocked_by']), escape(str(data['blocked_by'])))}.</p>")
    script = reproduction(check_id, exchanges)
    if script:
        parts.append(
            "<h4>Reproduce with curl</h4><p>Set <code>CONNECTOR_URL</code> (and <code>CONNECTOR_AUTH</code> where "
            "the script asks for it), then run:</p>"
            f'<pre class="cc-curl" data-check="{escape(check_id)}">{escape(script)}</pre>'
        )
    if exchanges:
        last_status = max((i for i, e in enumerate(exchanges) if e["request"]["path"].endswith("/_status")), default=-1)
        parts.append("<h4>Requests and responses (credentials redacted)</h4>")
        for index, exchange in enumerate(exchanges):
            request, response = exchange["request"], exchange.get("response")
            answer = f"HTTP {response['status']}" if response else "no answer"
            opened = " open" if index == last_status else ""
            parts.append(
                f'<details class="cc-exchange"{opened}><summary>{index + 1}. {escape(request["method"])} '
                f"{escape(request['path'])} \u2192 {escape(answer)}</summary>"
                f"<pre>{escape(_exchange_text(exchange))}</pre></details>"
            )
    parts.append("</div>")
    return "".join(parts)


_CSS = """
body { display: flex; flex-direction: column; color: #24292f; }
body > * { flex: none; }
#title { order: -3; }
#title + p { order: -2; }
body > .summary { order: -1; flex-wrap: wrap; }
.additional-summary.postfix { flex: 1 1 100%; }
#environment { align-self: flex-start; }
#cc-summary { width: 720px; margin: 4px 0 12px; }
.cc-verdict { display: inline-block; font-size: 26px; font-weight: bold; padding: 8px 22px; border-radius: 6px;
  color: #fff; letter-spacing: 0.04em; }
.cc-verdict--pass { background: #1a7f37; }
.cc-verdict--fail { background: #cf222e; }
.cc-score { font-size: 15px; margin: 8px 0; }
.cc-counts { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 6px; }
.cc-chip { padding: 2px 8px; border-radius: 10px; border: 1px solid #d0d7de; font-size: 12px; color: #24292f; }
.cc-identity { border-collapse: collapse; margin: 6px 0; font-size: 12px; color: #24292f; }
.cc-identity th { text-align: left; padding: 2px 12px 2px 0; color: #57606a; font-weight: normal; vertical-align: top; }
.cc-identity td { padding: 2px 0; font-family: monospace; word-break: break-all; }
.cc-problems { color: #cf222e; font-weight: bold; font-size: 13px; }
.cc-departures { color: #82071e; font-size: 12px; }
li.cc-chip.cc-xfailed { background: #fff8c5; border-color: #d4a72c; color: #7d4e00; }
#cc-transitions { width: 100%; color: #24292f; }
.cc-hint { color: #57606a; }
.cc-transitions { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.cc-matrix { border-collapse: separate; border-spacing: 3px; table-layout: fixed; }
.cc-matrix caption { caption-side: bottom; color: #57606a; padding-top: 4px; }
.cc-matrix th { font-size: 12px; color: #24292f; padding: 4px; width: 112px; }
.cc-matrix th[scope=row] { text-align: right; width: 120px; }
.cc-cell { width: 112px; height: 64px; padding: 0; border: 2px solid transparent; border-radius: 4px;
  vertical-align: top; font-size: 11px; }
.cc-cell-link { display: block; height: 100%; padding: 4px 6px; color: inherit; text-decoration: none; }
.cc-cell-line { display: block; white-space: nowrap; }
.cc-cell-outcome { display: block; font-weight: bold; font-size: 12px; }
.cc-passed { background: #dafbe1; border-color: #4ac26b; color: #116329; }
.cc-failed { background: #ffebe9; border-color: #cf222e; color: #82071e; }
.cc-error { background: #ffebe9; border: 2px dashed #a40e26; color: #82071e; }
.cc-xpassed { background: #fbefff; border-color: #8250df; color: #512a97; }
.cc-blocked { background: repeating-linear-gradient(45deg, #eaeef2, #eaeef2 6px, #f6f8fa 6px, #f6f8fa 12px);
  border: 2px dashed #8c959f; color: #57606a; }
.cc-xfailed-baseline { background: repeating-linear-gradient(135deg, #fff8c5, #fff8c5 6px, #fff1a8 6px, #fff1a8 12px);
  border: 2px dashed #bf8700; color: #7d4e00; }
.cc-xfailed-es { background: #fff8c5; border-color: #d4a72c; color: #7d4e00; }
.cc-skipped, .cc-not_run { background: #f6f8fa; border: 2px dotted #d0d7de; color: #8c959f; }
li.cc-chip.cc-passed, li.cc-chip.cc-failed, li.cc-chip.cc-error, li.cc-chip.cc-xpassed { border-width: 1px; }
.cc-figure { margin: 0; width: 560px; }
.cc-state-machine .cc-node ellipse { fill: #f6f8fa; stroke: #24292f; stroke-width: 1.5; }
.cc-state-machine .cc-node text { font: bold 14px Helvetica, Arial, sans-serif; fill: #24292f; }
.cc-state-machine path { stroke-width: 2; }
.cc-edge--untested path { stroke-dasharray: 2 4; }
.cc-edge--wrongly-accepted path { stroke-width: 4.5; }
.cc-edge--wrongly-refused path { stroke-width: 4.5; stroke-dasharray: 9 5; }
.cc-edge--failed path { stroke-width: 3.5; }
.cc-edge--xfail path { stroke-width: 3; stroke-dasharray: 6 3; }
.cc-edge-label { font: bold 15px Helvetica, Arial, sans-serif; paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.cc-edge-label--wrongly-accepted, .cc-edge-label--wrongly-refused { fill: #cf222e; }
.cc-edge-label--failed { fill: #bc4c00; }
.cc-edge-label--xfail { fill: #7d4e00; }
.cc-legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; color: #24292f; }
.cc-swatch { display: inline-block; width: 26px; height: 0; margin-right: 6px; vertical-align: middle;
  border-top: 3px solid; }
.cc-swatch--ok { border-color: #2da44e; }
.cc-swatch--wrongly-refused { border-top: 4px dashed #cf222e; }
.cc-swatch--wrongly-accepted { border-top: 4px solid #cf222e; }
.cc-swatch--failed { border-color: #e16f24; }
.cc-swatch--xfail { border-top: 3px dashed #bf8700; }
.cc-swatch--untested { border-top: 3px dotted #8c959f; }
#cc-comparison { width: 100%; color: #24292f; }
.cc-compare h3 { font-size: 13px; margin: 8px 0 2px; }
.cc-compare--regressions li { color: #cf222e; font-weight: bold; }
.cc-compare--fixes li { color: #1a7f37; }
#cc-provenance, #cc-expectations { width: 100%; margin: 10px 0; color: #24292f; }
#cc-expectations summary { cursor: pointer; font-weight: bold; }
.cc-expectations td { vertical-align: top; padding: 2px 8px; }
.cc-sources { margin: 2px 0; padding-left: 18px; }
.cc-releases { color: #57606a; }
#cc-provenance summary { cursor: pointer; font-weight: bold; }
.cc-evidence { color: #24292f; padding: 4px 0; }
.cc-evidence h4 { margin: 8px 0 4px; }
.cc-evidence pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 6px; white-space: pre-wrap;
  word-break: break-all; max-height: 420px; overflow: auto; }
.cc-exchange summary { cursor: pointer; font-family: monospace; }
td.col-expected, td.col-observed { max-width: 320px; font-size: 11px; }
"""
