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
