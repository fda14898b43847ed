"""Each domain rule has one owner: the module that decides it, which every other place calls.

Found by reading the package's source (text and syntax trees), so a second copy of a rule fails here before it
can drift from the first.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_connector_contract.config.settings import OPTIONS

ROOT = Path(__file__).resolve().parent.parent / "pytest_connector_contract"
CREDENTIALS = "config/credentials.py"
SETTINGS = "config/settings.py"


def _sources(*suffixes: str) -> Iterator[tuple[str, str]]:
    for path in sorted(ROOT.rglob("*")):
        if path.suffix in suffixes:
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _functions() -> Iterator[tuple[str, ast.AST]]:
    """Every function of the package (and each module's top level), by module."""
    for name, text in _sources(".py"):
        tree = ast.parse(text)
        yield name, tree
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield name, node


def _owners(matches: Callable[[ast.AST], bool]) -> set[str]:
    """The modules with a function in which ``matches`` holds for some node (top-level code included)."""
    found = set()
    for module, scope in _functions():
        nodes = ast.walk(scope) if not isinstance(scope, ast.Module) else iter(scope.body)
        if any(matches(node) for node in nodes):
            found.add(module)
    return found


def _colon_test(node: ast.AST) -> bool:
    """``":" in x`` or ``":" not in x``."""
    return (
        isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Constant)
        and node.left.value == ":"
        and isinstance(node.ops[0], ast.In | ast.NotIn)
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def test_the_redacted_token_is_spelled_in_one_module() -> None:
    spelled = {name for name, text in _sources(".py", ".j2", ".js", ".json") if "<redacted>" in text}
    assert spelled == {CREDENTIALS}


def test_an_api_key_with_a_colon_is_id_key_in_one_module() -> None:
    """Telling ``id:api_key`` from the encoded form (a colon test next to base64 or an API key) is decided by
    ``api_key_forms`` alone; everyone else asks it."""

    def decides(function: ast.AST) -> bool:
        names = _names(function)
        about_keys = any("b64" in n or "api_key" in n.lower() or n in ("key", "ApiKey") for n in names)
        return about_keys and any(_colon_test(node) for node in ast.walk(function))

    deciding = {
        module for module, function in _functions() if not isinstance(function, ast.Module) and decides(function)
    }
    assert deciding == {CREDENTIALS}


def test_credentials_become_authorization_headers_in_one_module() -> None:
    """``ApiKey ...``, ``Basic ...`` and ``Bearer ...`` header values are built in one place."""

    def builds_header(node: ast.AST) -> bool:
        if not isinstance(node, ast.JoinedStr) or not node.values:
            return False
        first = node.values[0]
        return isinstance(first, ast.Constant) and str(first.value).startswith(("ApiKey ", "Basic ", "Bearer "))

    assert _owners(builds_header) == {CREDENTIALS}


def test_no_url_means_the_embedded_target_in_one_module() -> None:
    """``url is None or ... embedded`` is decided by ``Access.embedded``; everyone else asks it."""

    def decides(node: ast.AST) -> bool:
        if not isinstance(node, ast.BoolOp) or not isinstance(node.op, ast.Or):
            return False
        url_is_none = any(
            isinstance(value, ast.Compare)
            and isinstance(value.ops[0], ast.Is)
            and isinstance(value.comparators[0], ast.Constant)
            and value.comparators[0].value is None
            and "url" in ast.unparse(value.left).lower()
            for value in node.values
        )
        return url_is_none and "embedded" in ast.unparse(node).lower()

    assert _owners(decides) == {SETTINGS}


@pytest.mark.parametrize("module", ["config/settings.py", "config/values.py", "config/credentials.py"])
def test_the_configuration_spells_no_flag_environment_variable_or_ini_key(module: str) -> None:
    """Every name follows from the option's declared name: no string in config/ spells one out (docstrings
    aside), so each is written once, in its declaration."""
    names = {name for option in OPTIONS for name in (option.flag, option.env, option.ini)}
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
    assert not [text for text in strings for name in names if name in text]


def test_every_access_option_of_the_target_is_one_of_the_reference_cluster_too() -> None:
    target = {option.attribute for option in OPTIONS if option.block == "target"}
    reference = {option.attribute for option in OPTIONS if option.block == "reference"}
    assert target == reference
    assert {"url", "api_key", "user", "password", "bearer_token", "ca_certs", "insecure", "proxy"} <= target
