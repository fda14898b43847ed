"""The documentation's examples run, and the README's set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def _readme(repo_root: Path) -> str:
    return (repo_root / "README.md").read_text(encoding="utf-8")


def _pages(repo_root: Path) -> list[Path]:
    """The README and every page of the documentation site."""
    return [repo_root / "README.md", *sorted((repo_root / "docs").rglob("*.md"))]


def test_python_examples_run_as_a_users_tests(pytester: pytest.Pytester, repo_root: Path) -> None:
    blocks = [
        block
        for page in _pages(repo_root)
        for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    ]
    assert blocks, "the docs show how to use the fixtures"
    pytester.makepyfile(test_docs_examples="\n\n".join(blocks))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=len(re.findall(r"^def test_", "\n".join(blocks), flags=re.M)))


def test_ci_runs_the_readme_development_command(repo_root: Path) -> None:
    readme = _readme(repo_root)
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, "the README gives the two set-up commands"
    assert commands[1] in (repo_root / ".ci" / "run").read_text(encoding="utf-8")
