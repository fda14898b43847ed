"""Each rule of the contract has one owner: the places that used to write it again in their own words do not.

A rule written twice drifts: the check ids, the answer a transition must get, how a case of the spec is sent
and how a check's end becomes its outcome each live in one function, and these tests read the package's source
to hold every other module to calling it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "pytest_connector_contract"
SPEC_MODULE = "contract/spec.py"
#: the kinds of checks, whose ids read ``kind[case]``
KINDS = ("transition", "validation", "not_found", "response", "unchanged", "client", "explore", "race", "privileges")


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _template(node: ast.JoinedStr) -> str:
    """An f-string with each replacement field written ``{}``."""
    return "".join(str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values)


def _reads_key(node: ast.AST, keys: tuple[str, ...]) -> str | None:
    """The key, when ``node`` reads one of ``keys`` from a mapping (``x["key"]`` or ``x.get("key", ...)``)."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value in keys:
        return str(node.slice.value)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in keys
    ):
        return str(node.args[0].value)
    return None


def test_check_ids_are_written_by_the_spec_alone() -> None:
    """``transition[a->b]`` and every other id come from ``spec.check_id`` / ``spec.transition_id``."""
    built = re.compile(rf"(^|\W)({'|'.join(KINDS)})\[\{{\}}")
    offenders = [
        f"{name}:{node.lineno} {_template(node)!r}"
        for name, tree in _trees()
        if name != SPEC_MODULE
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr) and built.search(_template(node))
    ]
    assert offenders == []


def test_the_answer_a_transition_must_get_is_read_from_the_spec_in_one_place() -> None:
    """``spec.expect_transition`` reads the spec's ``transition`` section; the checks, the walks and the reports
    ask it rather than the profile's table (the reference target, which plays Elasticsearch, decides on its own)."""
    offenders = []
    for name, tree in _trees():
        if name == SPEC_MODULE:
            continue
        for node in ast.walk(tree):
            if _reads_key(node, ("transition",)) is not None:
                offenders.append(f"{name}:{getattr(node, 'lineno', 0)} reads the transition section")
            if isinstance(node, ast.Attribute) and node.attr == "allows" and not name.startswith("reference/"):
                offenders.append(f"{name}:{node.lineno} asks the profile's table")
    assert offenders == []


def test_a_case_request_is_read_by_case_request_alone() -> None:
    """How spec.json writes a request (``json`` or ``raw`` body) is read by ``spec.case_request`` only, and the
    checks send what it returns through ``checks.run.send_case``."""
    offenders = [
        f"{name}:{getattr(node, 'lineno', 0)} reads {key!r}"
        for name, tree in _trees()
        if name != SPEC_MODULE
        for node in ast.walk(tree)
        if (key := _reads_key(node, ("json", "raw"))) is not None
    ]
    assert offenders == []


@pytest.mark.parametrize("exception", ["CheckFailed", "CheckSkipped", "ExpectedFailure", "PreconditionFailed"])
def test_how_a_check_ended_is_translated_by_outcome_of_alone(exception: str) -> None:
    """No ``except`` clause (nor pytest's ``errisinstance``) turns a check's end into an outcome of its own:
    ``checks.run.outcome_of`` does, for the execution, the plugin and the reports alike."""
    offenders = []
    for name, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None and exception in ast.unparse(node.type):
                offenders.append(f"{name}:{node.lineno} except {ast.unparse(node.type)}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "errisinstance"
                and exception in ast.unparse(node)
            ):
                offenders.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_no_check_module_holds_a_spec_of_its_own() -> None:
    """A check reads the run's spec (``run.spec``), never one loaded at import."""
    offenders = [
        f"{name}:{node.lineno}"
        for name, tree in _trees()
        if name.startswith("checks/")
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and "load_spec(" in ast.unparse(node)
    ]
    assert offenders == []
