"""The README's examples run, and its options table matches the options the plugin really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_connector_contract.config.settings import OPTIONS


def _readme(repo_root: Path) -> str:
    return (repo_root / "README.md").read_text(encoding="utf-8")


def test_fixture_example_runs_as_a_users_test(pytester: pytest.Pytester, repo_root: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", _readme(repo_root), flags=re.S)
    assert blocks, "the README shows how to use the fixtures"
    pytester.makepyfile(test_readme_example="\n\n".join(blocks))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=len(re.findall(r"^def test_", "\n".join(blocks), flags=re.M)))


def test_every_option_is_documented_with_its_environment_variable_and_ini_key(repo_root: Path) -> None:
    readme = _readme(repo_root)
    for option in OPTIONS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{option.flag}")), None)
        assert row is not None, f"{option.flag} is missing from the README's options table"
        assert f"`{option.env}`" in row
        assert f"`{option.ini}`" in row
        if option.negation is not None:
            assert f"`{option.negation}`" in row, f"{option.flag}'s row does not give its off form"


def test_ci_runs_the_readme_development_command(repo_root: Path) -> None:
    readme = _readme(repo_root)
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, "the README gives the two set-up commands"
    assert commands[1] in (repo_root / ".ci" / "run").read_text(encoding="utf-8")
