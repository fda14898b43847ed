"""The reference target stays split by job (issue 10): every module of reference/ a few hundred lines, and
none of them imports pytest, so that the target can run outside a test session (``connector-contract serve``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pytest_connector_contract.reference

REFERENCE = Path(pytest_connector_contract.reference.__file__).parent
MODULES = sorted(path.stem for path in REFERENCE.glob("*.py") if path.stem != "__init__")
MAX_LINES = 700


def test_the_reference_is_split_by_job() -> None:
    assert {"rest", "reader", "endpoints", "messages", "security", "server"} <= set(MODULES)
    assert "target" not in MODULES  # split up, not kept as a shim


@pytest.mark.parametrize("path", sorted(REFERENCE.glob("*.py")), ids=lambda path: path.name)
def test_each_module_is_a_few_hundred_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"reference/{path.name} has {lines} lines"


def test_the_reference_never_imports_pytest() -> None:
    modules = ["pytest_connector_contract.reference"] + [f"pytest_connector_contract.reference.{m}" for m in MODULES]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'pytest' or m.startswith(('pytest.', '_pytest')))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"importing the reference target loaded {done.stdout.strip()}"
