"""The package's layout holds: a folder per job, no import cycle, and pytest only where the plugin lives."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "pytest_connector_contract"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
#: the subpackages that must import without pytest (a user may run the reference target or the CLI alone)
PYTEST_FREE = ("contract", "client", "config", "checks", "differential", "reference", "reports", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports() -> dict[str, set[str]]:
    """module -> the package modules it imports at run time (anywhere in the file, lazy imports included)."""
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        found: set[str] = set()
        for node in ast.walk(tree):
            if _type_checking_only(node, parents):
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_packages_modules() -> None:
    graph = _imports()
    assert len(graph) > 30
    # Package __init__ modules import nothing, so a cycle can only run through real modules.
    assert _cycles(graph) == []


def _allowed_arrows() -> dict[str, set[str]]:
    """docs/layout.md's table: folder -> the folders it may import."""
    text = (ROOT.parent / "docs" / "layout.md").read_text(encoding="utf-8")
    table = text.split("<!-- folder-arrows -->", 1)[1].split("<!-- /folder-arrows -->", 1)[0]
    allowed = {}
    for line in table.strip().splitlines()[2:]:
        folder, targets = (cell.strip() for cell in line.strip("|").split("|"))
        allowed[folder.strip("`/")] = set(re.findall(r"`(\w+)/`", targets))
    return allowed


def test_the_folders_import_only_what_the_layout_table_allows() -> None:
    allowed = _allowed_arrows()
    folders = {path.name for path in ROOT.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert set(allowed) == folders, "docs/layout.md's table names every folder of the package, and only those"
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in _imports().items()
        if module.count(".") >= 2
        for target in targets
        if target != PACKAGE
        and target.split(".")[1] != module.split(".")[1]
        and target.split(".")[1] not in allowed[module.split(".")[1]]
    )
    assert offenders == []


def test_the_allowed_arrows_have_no_cycle() -> None:
    """The table itself points only down: no folder may reach itself through the folders it may import."""
    allowed = _allowed_arrows()
    assert _cycles(allowed) == []


def test_only_the_plugin_imports_pytest() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.relative_to(ROOT).parts[0] == "plugin":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            pytest_import = any(n.split(".")[0] in ("pytest", "_pytest", "pytest_html") for n in names)
            if pytest_import and not _type_checking_only(node, parents):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("subpackage", PYTEST_FREE)
def test_subpackage_imports_without_pytest_in_a_fresh_interpreter(subpackage: str) -> None:
    modules = sorted(_module_name(p) for p in (ROOT / subpackage).rglob("*.py"))
    modules = [m for m in modules if m != f"{PACKAGE}.checks.explore"]  # needs the optional Hypothesis
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_the_plugin_imports_nothing_heavy_until_a_target_is_set() -> None:
    """A user's unrelated pytest run loads the plugin: it must not pull in the reference target, Hypothesis,
    the HTML templates or the schema compiler."""
    code = f"import json, sys\nimport {PACKAGE}.plugin.hooks\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    heavy = {
        f"{PACKAGE}.reference.server",
        f"{PACKAGE}.checks.explore",
        f"{PACKAGE}.checks.race",
        "hypothesis",
        "jinja2",
    }
    assert sorted(heavy & loaded) == []


def test_the_tests_share_helpers_through_the_support_package_only() -> None:
    """No test imports ``conftest`` or another test module: what tests share lives in ``tests/support/``, loaded
    through ``pytest_plugins`` (a newcomer finds it in one place)."""
    tests = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.name} imports {name}" for name in names if name == "conftest" or name.startswith("test_")
            ]
    assert offenders == []


def test_no_two_modules_share_a_file_name() -> None:
    """A file name says its job: two ``compare.py`` (or ``connectors.py``) in different folders make a reader
    open the wrong one."""
    names: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        if path.name != "__init__.py":
            names.setdefault(path.name, []).append(path.relative_to(ROOT).as_posix())
    assert {name: places for name, places in names.items() if len(places) > 1} == {}
