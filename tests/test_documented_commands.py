"""The commands the docs show for the CI options (reruns, strict mode, waiting, naming the implementation) run as
written, against a running reference target in place of the docs' cluster.

Each ``pytest --connector-url ...`` line of docs/reports.md and docs/cluster.md that uses one of these options is
run in a subprocess, as a user runs it; only the URL is swapped for the local target's, and the options that
name a file the example assumes (a CA bundle) are left out. A baseline the example names is written first, as
the docs' own ``--connector-baseline-write`` does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_connector_contract.reference.server import ReferenceServer

REPO = Path(__file__).resolve().parent.parent
OPTIONS = ("--connector-rerun-errors", "--connector-strict", "--connector-wait", "--connector-implementation")
#: options whose value is a file the example assumes exists on the user's machine
_ASSUMED_FILES = ("--connector-ca-certs",)


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in ("reports.md", "cluster.md"):
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        for line in re.findall(r"^pytest --connector-url .*$", text, flags=re.M):
            words = shlex.split(line)
            if any(word in OPTIONS for word in words):
                found.append((page, words))
    return found


COMMANDS = _commands()


def test_the_docs_show_each_option() -> None:
    shown = {word for _, words in COMMANDS for word in words}
    assert set(OPTIONS) <= shown


@pytest.mark.parametrize(("page", "words"), COMMANDS, ids=[" ".join(words[3:]) for _, words in COMMANDS])
def test_a_documented_command_runs_as_written(
    page: str, words: list[str], pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    server = start_target()
    args: list[str] = []
    rest = iter(words[1:])
    for word in rest:
        if word == "--connector-url":
            args += [word, server.url]
            next(rest)
        elif word in _ASSUMED_FILES:
            next(rest)
        else:
            args.append(word)
    if "--connector-baseline" in args:
        baseline = args[args.index("--connector-baseline") + 1]
        written = pytester.runpytest_subprocess("--connector-url", server.url, "--connector-baseline-write", baseline)
        assert written.ret == 0, written.stdout.str()
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == 0, f"{page}: {' '.join(words)}\n{result.stdout.str()}"
    text = result.stdout.str()
    assert "verdict: CONFORMANT" in text
    if "--connector-strict" in args:
        assert "strict: baseline ignored" in text
    if "--connector-implementation" in args:
        assert args[args.index("--connector-implementation") + 1] in text
    if "--connector-json" in args:
        assert (pytester.path / args[args.index("--connector-json") + 1]).is_file()
