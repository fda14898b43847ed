"""``clients/capture.py``, the maintainers' capture script (not part of the installed package), for the tests.

It is loaded from its file as the docs run it (``python clients/capture.py``), so the tests exercise the same
capturing server, drivers and comparison."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CLIENTS_DIR = Path(__file__).resolve().parents[2] / "clients"

_spec = importlib.util.spec_from_file_location("connector_contract_capture", CLIENTS_DIR / "capture.py")
assert _spec is not None
assert _spec.loader is not None
capture = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = capture  # dataclasses look their module up
_spec.loader.exec_module(capture)


def client_command(name: str) -> list[str]:
    """How to run the driver of the pinned client ``name``; a missing Python client fails the test under
    ``CI=true`` (CI builds it: .ci/run) and skips it elsewhere, with the command that prepares it."""
    import os

    import pytest

    client = capture.CLIENTS[name]
    command = client.command()
    if command is None:
        if client.python and os.environ.get("CI") == "true":
            pytest.fail(f"{client.variable} is not set; CI builds it (.ci/run): {client.build_command()}")
        pytest.skip(f"{name} is not installed here; prepare it with: {client.build_command()}")
    return list(command)
