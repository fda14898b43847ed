"""Every mutant of the reference target fails the run, caught by the check named for it, and a run with one
check at a time reports the same as the default run with checks in flight together.

A suite whose checks pass against a broken target is broken: each deviation below must make the run
non-conformant (exit status 1), with the named check failed for the named reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.comparable import comparable, differences
from support.mutants import MISSED_BY_COMPARISON, MUTANTS, Mutant

from pytest_connector_contract.reference.server import ReferenceServer


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught_by_its_check(
    mutant: Mutant, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., object]
) -> None:
    server = start_target(mutant.target(mutant.es_version))
    run = run_suite(server.url, *mutant.args)  # checks in flight together (the default)
    assert run.ret == 1, run.result.stdout.str()
    assert run.report is not None
    assert run.report["summary"]["conformant"] is False
    check = run.check(mutant.caught_by)
    assert check["outcome"] == "failed", (mutant.caught_by, check)
    assert any(mutant.because in problem for problem in check["problems"]), check["problems"]
    assert f"FAILED connector-contract::{mutant.caught_by} " in run.result.stdout.str()
    # Whatever else failed, the run left nothing behind on the target.
    assert not server.target.connectors, sorted(server.target.connectors)
    # One check at a time, against a fresh target, the run reports the very same, check by check.
    serial = run_suite(start_target(mutant.target(mutant.es_version)).url, "--connector-concurrency", "1", *mutant.args)
    assert serial.ret == run.ret
    assert differences(comparable(serial.report), comparable(run.report)) == []  # type: ignore[arg-type]


def test_there_are_at_least_fifteen_mutants_each_with_its_own_deviation() -> None:
    assert len(MUTANTS) >= 15
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    assert len({m.target for m in MUTANTS}) == len(MUTANTS)


def render_mutant_table() -> str:
    lines = [
        "# Mutants: the deviations the suite proves it catches",
        "",
        "Each row is a fault-injected variant of the reference target (`tests/support/mutants.py`). The project's",
        "tests run the whole suite against each one and require the run to fail, with the named check",
        "failed for the named reason (`tests/test_mutants.py`). This file is generated from that table:",
        "`python tests/test_mutants.py > docs/mutants.md`.",
        "",
        "The last rows need the options that enable the checks beyond the matrix (exploration, racing",
        "clients, privileges); without them the default suite passes those mutants.",
        "",
        "| mutant | deviation | caught by | failure contains |",
        "|---|---|---|---|",
    ]
    for mutant in MUTANTS:
        because = mutant.because.replace("|", "\\|")
        caught_by = f"`{mutant.caught_by}`".replace("|", "\\|")
        if mutant.args:
            caught_by += f" with `{' '.join(_shown(mutant.args))}`"
        lines.append(f"| `{mutant.name}` | {mutant.description} | {caught_by} | {because} |")
    caught = len(MUTANTS) - len(MISSED_BY_COMPARISON)
    lines += [
        "",
        "## Caught by the comparison with a reference alone",
        "",
        "`tests/test_differential.py` also runs the suite against each mutant with the faithful reference target",
        "of the same release as the reference cluster (`--connector-reference-url`), and requires the check named",
        "above to answer unlike the reference: the comparison alone catches the mutant, without the suite's own",
        f"expectations. It catches {caught} of the {len(MUTANTS)} mutants. It misses these, each for a reason:",
        "",
        "| mutant | why the comparison misses it |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {reason} |" for name, reason in MISSED_BY_COMPARISON.items()]
    return "\n".join(lines) + "\n"


def _shown(args: tuple[str, ...]) -> list[str]:
    """Options as the docs show them: key values replaced by a placeholder."""
    shown: list[str] = []
    for arg in args:
        shown.append("KEY" if shown and shown[-1].endswith("-api-key") else arg)
    return shown


def test_published_mutant_table_is_current(repo_root: Path) -> None:
    published = (repo_root / "docs" / "mutants.md").read_text(encoding="utf-8")
    assert published == render_mutant_table(), "regenerate: python tests/test_mutants.py > docs/mutants.md"


if __name__ == "__main__":
    print(render_mutant_table(), end="")
