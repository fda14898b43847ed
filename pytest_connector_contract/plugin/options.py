"""The plugin's options: the option table of config/settings.py registered with pytest, and resolved from a
pytest config into Settings (a bad value is a pytest usage error)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pytest_connector_contract.config.settings import OPTIONS, Settings, SettingsError, resolve_from

__all__ = ["add_options", "resolve"]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("connector-contract", "connector status API conformance")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}, ini {option.ini}]"
        for flag, arguments in option.arguments(f"connector_{option.dest}", help_text):
            group.addoption(flag, **arguments)
        parser.addini(option.ini, help=option.help, default=None)


def resolve(config: pytest.Config, environ: Mapping[str, str] | None = None) -> Settings:
    """Apply the precedence command line > environment > ini > default; raise UsageError on a bad value."""
    try:
        return resolve_from(
            lambda option: config.getoption(f"connector_{option.dest}"),
            lambda option: config.getini(option.ini),
            environ,
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
