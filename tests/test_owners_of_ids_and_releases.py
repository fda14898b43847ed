"""Each domain rule has one owner module that every place needing it calls (design.md, "Layout").

Read from the source: a string literal of code (docstrings and comments are prose and may name anything) or a
call that spells a rule anywhere but its owner is a second copy of it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from pytest_connector_contract.contract.target import MINIMUM_RELEASE

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_connector_contract"
#: modules of the test suite that recognise the ids a run makes (its test data may spell them freely)
TEST_HELPERS = (ROOT / "tests" / "support" / "comparable.py",)


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in [*sorted(PACKAGE.rglob("*.py")), *TEST_HELPERS]:
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _docstrings(tree: ast.Module) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(first.value)
    return found


def _code_strings(tree: ast.Module) -> Iterator[str]:
    """Every string literal that is not a docstring (the literal parts of f-strings included)."""
    prose = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node not in prose:
            yield node.value


def _where(found: Callable[[ast.Module], bool]) -> list[str]:
    return [name for name, tree in _modules() if found(tree)]


def _spells_a_connector_id(tree: ast.Module) -> bool:
    """The run token (8 hex digits), the xdist worker segment, the probe's suffix, or drawing a run token."""
    for text in _code_strings(tree):
        if "[0-9a-f]{8}" in text or r"gw\d" in text or text == "probe" or text.endswith("-probe"):
            return True
    names = ("attr", "id", "name")  # secrets.token_hex, token_hex, from secrets import token_hex
    return any(getattr(node, name, None) == "token_hex" for node in ast.walk(tree) for name in names)


def test_connector_ids_are_made_and_recognised_in_one_module() -> None:
    assert _where(_spells_a_connector_id) == ["pytest_connector_contract/contract/ids.py"]


#: modules that still spell the minimum release, and the change that removes it (each must still need it)
_MINIMUM_PENDING: dict[str, str] = {}


def _spells_the_minimum_release(tree: ast.Module) -> bool:
    literal = re.compile(rf"(?<![\d.]){re.escape(MINIMUM_RELEASE)}(?!\d)")
    return any(literal.search(text) for text in _code_strings(tree))


def test_the_minimum_release_is_written_nowhere_but_derived_from_the_spec_in_one_module() -> None:
    assert MINIMUM_RELEASE == "8.13"
    assert sorted(set(_where(_spells_the_minimum_release)) - set(_MINIMUM_PENDING)) == []
    stale = [name for name in _MINIMUM_PENDING if name not in _where(_spells_the_minimum_release)]
    assert stale == [], "no longer spells the minimum release: remove it from _MINIMUM_PENDING"


def _reads_the_root_document(tree: ast.Module) -> bool:
    """A function that reads ``version`` and ``number`` (GET /'s ``version.number``) other than as the keys
    of a dict it writes (the reference target answers GET /; it does not read it)."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        written = {id(key) for node in ast.walk(function) if isinstance(node, ast.Dict) for key in node.keys}
        read = {
            node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in written
        }
        if {"version", "number"} <= read:
            return True
    return False


def test_the_answer_to_get_root_is_read_in_one_module() -> None:
    assert _where(_reads_the_root_document) == ["pytest_connector_contract/contract/target.py"]
