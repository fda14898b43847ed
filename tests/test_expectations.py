"""Every expectation names where it comes from, and docs/expectations.md lists them all.

The page is generated from spec.json: ``python tests/test_expectations.py > docs/expectations.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_connector_contract.contract.spec import Check, Provenance, load_spec, source_label, source_url

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec()


def every_check() -> tuple[Check, ...]:
    """The default suite, the optional checks, one exploration walk (all walks share one statement) and the
    official client's checks."""
    return (*SPEC.checks, *SPEC.optional_checks, *SPEC.explore_checks(1, 0), *SPEC.official_client_checks())


class _Citations:
    """Each source and each piece of reasoning is written out once, in the page's last section, under an
    anchor; a row cites it by a short link (a check cites the same sources as its neighbours, 25 rows over)."""

    def __init__(self) -> None:
        self.names = {_identity(entry): name for name, entry in SPEC.raw["sources"].items()}
        self.cited: dict[tuple[str, ...], tuple[str, dict[str, str]]] = {}
        self.derived = 0

    def cite(self, entry: dict[str, str]) -> str:
        key = _identity(entry)
        if key not in self.cited:
            name = self.names.get(key)
            if name is None:  # reasoning has no name in spec.json: numbered as it is first cited
                self.derived += 1
                name = f"derived-{self.derived}"
            self.cited[key] = (name, {k: v for k, v in entry.items() if k != "releases"})
        anchor = self.cited[key][0]
        if entry["kind"] == "derived":
            text = f"[derived {anchor.removeprefix('derived-')}](#{anchor})"
        else:
            kind = "Elastic test " if entry["kind"] == "test" else ""
            text = f"{kind}[`{source_label(entry)}`](#{anchor})"
        if "releases" in entry:
            text += f" *[{entry['releases']}]*"
        return text

    def section(self) -> list[str]:
        lines = ["", "## Sources", ""]
        for anchor, entry in self.cited.values():
            if entry["kind"] == "derived":
                lines.append(f'- <a id="{anchor}"></a>**derived {anchor.removeprefix("derived-")}**: {entry["what"]}')
            else:
                kind = "Elastic test " if entry["kind"] == "test" else ""
                lines.append(
                    f'- <a id="{anchor}"></a>**{anchor}**: {kind}[`{source_label(entry)}`]({source_url(entry)}) '
                    f"({entry['repo']}): {entry['what']}"
                )
        return lines


def _identity(entry: dict[str, str]) -> tuple[str, ...]:
    return tuple(f"{key}={value}" for key, value in sorted(entry.items()) if key != "releases")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _releases(check: Check) -> str:
    """The releases a check applies to, and how older releases answer where they differ."""
    if check.kind == "transition":
        return "; ".join(f"profile {p.name}: {p.applies_to.text()}" for p in SPEC.profiles.values())
    if check.kind == "client" and check.params["capture"][1] > SPEC.minimum_version[0]:
        return f"{check.params['capture'][1]}.0.0 and later, Serverless (a later major's client is refused)"
    if check.kind != "validation":
        return "all"
    case = next(c for c in SPEC.validation_cases if c.id == check.params["case"])
    parts = [case.applies_to.text() if case.applies_to else "all"]
    for entry in case.by_release:
        expect = entry.expect
        answer = " ".join(str(expect[k]) for k in ("http", "error_type") if k in expect)
        if "caused_by" in expect:
            answer += f" caused by {expect['caused_by']['type']}"
        parts.append(f"{entry.applies_to.text()}: {answer}")
    for deviation in SPEC.known_deviations:
        if deviation.check == check.id:
            parts.append(f"{deviation.applies_to.text()}: {deviation.observed_http} (known deviation, xfail)")
    return "; ".join(parts)


def render_expectations() -> str:
    lines = [
        "# Expectations: what each check asserts, for which releases, and where it comes from",
        "",
        "Generated from `pytest_connector_contract/contract/spec.json`: "
        "`python tests/test_expectations.py > docs/expectations.md`.",
        "A source is an Elasticsearch (or official client) file at the commit that was read; a test is one",
        "of Elastic's own; *derived* gives the reasoning where no single file says it. The same entries appear",
        "next to each check in the JSON report (`checks[].provenance`) and the HTML report. Each is written out",
        "once, under [Sources](#sources); a row links to it, in brackets the releases it applies to.",
        "",
        "| check | statement | releases | provenance |",
        "|---|---|---|---|",
    ]
    citations = _Citations()
    for check in every_check():
        check_id = "explore[N]" if check.kind == "explore" else check.id
        provenance = "<br>".join(_cell(citations.cite(entry)) for entry in check.provenance)
        lines.append(f"| `{check_id}` | {_cell(check.statement)} | {_cell(_releases(check))} | {provenance} |")
    lines += ["", "## Known deviations of Elasticsearch itself", "", "| check | releases | answer | provenance |"]
    lines.append("|---|---|---|---|")
    for deviation in SPEC.known_deviations:
        provenance = "<br>".join(_cell(citations.cite(entry)) for entry in deviation.provenance)
        lines.append(
            f"| `{deviation.check}` | {deviation.applies_to.text()} | HTTP {deviation.observed_http}: "
            f"{_cell(deviation.reason)} | {provenance} |"
        )
    lines += citations.section()
    return "\n".join(lines) + "\n"


def _names(entries: list[object]) -> list[str]:
    return [entry for entry in entries if isinstance(entry, str)]


def _written_names() -> list[str]:
    """Every source name spec.json cites, wherever it is cited."""
    raw = SPEC.raw
    names: list[str] = []
    for section in (
        "transition",
        "validation",
        "not_found",
        "response",
        "unchanged",
        "client",
        "explore",
        "race",
        "privileges",
        "official_client",
    ):
        names += _names(raw[section]["provenance"])
        for case in raw[section].get("cases", []):
            names += _names(case.get("provenance", []))
    for requirement in raw["client"]["requirements"]:
        names += _names(requirement["provenance"])
    for entry in (*raw["official_client"]["options"], *raw["official_client"]["tolerated_warnings"]):
        names += _names(entry.get("provenance", []))
    for profile in raw["profiles"].values():
        names += _names(profile["provenance"])
    for case in raw["validation_cases"]:
        names += _names(case.get("provenance", []))
        for entry in case.get("by_release", []):
            names += _names(entry["provenance"])
    for deviation in raw["known_deviations"]:
        names += _names(deviation["provenance"])
    return names


def _well_formed(provenance: Provenance) -> list[str]:
    problems = []
    for entry in provenance:
        if entry["kind"] == "derived":
            if len(entry["what"]) < 10:
                problems.append(f"a derived entry without its reasoning: {entry!r}")
        elif not all(entry.get(key) for key in ("repo", "path", "commit", "what")):
            problems.append(f"a {entry['kind']} entry without repo, path, commit and what: {entry!r}")
    return problems


@pytest.mark.parametrize("check", every_check(), ids=lambda check: check.id)
def test_every_check_names_its_provenance(check: Check) -> None:
    assert check.provenance, f"{check.id} has no provenance in spec.json"
    assert not _well_formed(check.provenance)
    assert check.source, "the one-line form of the provenance is empty"


@pytest.mark.parametrize("deviation", SPEC.known_deviations, ids=lambda d: f"{d.check}@{d.applies_to.text()}")
def test_every_known_deviation_names_its_provenance(deviation: object) -> None:
    provenance = deviation.provenance  # type: ignore[attr-defined]
    assert provenance
    assert not _well_formed(provenance)


def test_every_cited_source_exists_and_every_source_is_cited() -> None:
    cited = set(_written_names())
    listed = set(SPEC.raw["sources"])
    assert sorted(cited - listed) == [], "cited but missing from spec.json sources"
    assert sorted(listed - cited) == [], "listed in spec.json sources but cited nowhere"


def test_release_specific_expectations_name_their_releases() -> None:
    truncated = next(c for c in every_check() if c.id == "validation[truncated-json]")
    releases = [entry.get("releases") for entry in truncated.provenance]
    assert "8.13.0 to before 8.15.0" in releases
    assert "known deviation of 8.15.0 to before 8.15.2" in releases


def test_the_expectations_page_is_current() -> None:
    published = (REPO / "docs" / "expectations.md").read_text(encoding="utf-8")
    assert published == render_expectations(), "regenerate: python tests/test_expectations.py > docs/expectations.md"


if __name__ == "__main__":
    sys.stdout.write(render_expectations())
