"""Every install line a user reads installs something that exists: in the README and the docs, and in the messages
the suite prints (``install_hint``).

A line installs either this checkout (``pip install .``, ``'.[extra]'``: the extras must exist) or packages
from the public index, which must be the requirements of one of the package's extras as pyproject declares them
(so a page cannot drift from the metadata) and which the index must serve: each such line is run, as
``pip install --dry-run --no-deps``, which asks the index without installing anything. Never the suite's own
name from an index, which serves it only once it is published (the action and the wheel install it today).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pytest_connector_contract.config.extras import DISTRIBUTION, extra_requirements, install_hint

REPO = Path(__file__).resolve().parent.parent
#: an install command as written on a page: up to the end of the line, a comment, a backtick or "&&"
_COMMAND = re.compile(r"pip install (?P<args>[^`#\n&(]+)")
_LOCAL = re.compile(r"^(-e\s+)?'?\.(\[(?P<extras>[\w,-]+)\])?'?$")


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    return extras


def _pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _lines() -> list[tuple[str, str]]:
    """(where, the words after ``pip install``) for every install command of the pages and the hints."""
    found = []
    for page in _pages():
        if page.name == "performance.md":
            continue  # the benchmark's own set-up, on a development checkout
        for match in _COMMAND.finditer(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(REPO).as_posix(), match["args"].strip().rstrip(")").strip()))
    for extra in ("explore", "clients", "xdist"):
        hint = install_hint(extra)
        found.append((f"install_hint({extra!r})", hint.removeprefix("pip install ").split(" (the ")[0]))
    return found


LINES = _lines()


def _normalised(requirement: str) -> tuple[str, frozenset[str]]:
    """A requirement as its name and set of version clauses, however the clauses are ordered."""
    parsed = Requirement(requirement)
    return parsed.name.lower(), frozenset(str(clause) for clause in parsed.specifier)


@pytest.mark.parametrize(("where", "args"), LINES, ids=[f"{where}: {args}" for where, args in LINES])
def test_an_install_line_installs_something_that_exists(where: str, args: str) -> None:
    extras = _extras()
    local = _LOCAL.match(args)
    if local is not None:  # this checkout, with extras it declares
        named = (local["extras"] or "").split(",") if local["extras"] else []
        assert set(named) <= set(extras), f"{where}: {args} names an extra pyproject does not declare"
        return
    words = shlex.split(args)
    assert not any(word.lower().startswith(DISTRIBUTION) for word in words), (
        f"{where}: {args} installs {DISTRIBUTION} from an index, which does not serve it yet"
    )
    declared = {_normalised(requirement) for requirements in extras.values() for requirement in requirements}
    for word in words:
        assert _normalised(word) in declared, f"{where}: {word} is none of the extras' requirements in pyproject"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet", *words],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{where}: pip install {args} fails: {done.stderr[-2000:]}"


def test_every_page_install_line_was_found() -> None:
    """The pattern above reads the lines it should: the pages name the three extras users may want."""
    words = " ".join(args for _, args in LINES)
    for extra in ("explore", "clients", "xdist"):
        for requirement in extra_requirements(extra):
            assert requirement in words, f"no install line names {requirement} (the {extra} extra)"
