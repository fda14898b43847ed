"""The checks beyond the matrix (exploration, races, privileges): when they run.

None of them is part of the default suite. Each kind is collected only under the option that enables it
(``--connector-explore N``, ``--connector-race``, ``--connector-readonly-api-key``) or when its id is named
on the command line, so a default run, its score and its report stay exactly as they were. The runners
live in ``explore.py``, ``race.py`` and ``checks.check_privileges``; this module only decides. Their report
sections are ``reports/``'s (``results.beyond_sections``, ``terminal``, ``html.beyond_html``).
"""

from __future__ import annotations

import importlib.util
import secrets
import shlex
from collections.abc import Sequence

from pytest_connector_contract.checks.preflight import TargetInfo
from pytest_connector_contract.config.settings import Settings, SettingsError
from pytest_connector_contract.contract.spec import Check, Spec, selects

__all__ = [
    "check_settings",
    "enabled_checks",
    "header_lines",
    "reproduce_command",
    "run_seed",
]


def check_settings(settings: Settings) -> None:
    """Usage errors for the options of this module, before anything runs."""
    # find_spec looks Hypothesis up without importing it: a run that does not explore never pays for it.
    if settings.explore and not _installed("hypothesis"):
        raise SettingsError("--connector-explore needs Hypothesis: pip install 'pytest-connector-contract[explore]'")
    has_credentials = settings.authorization() is not None
    if settings.readonly_api_key is not None and (settings.url is None or settings.embedded) and not has_credentials:
        raise SettingsError(
            "--connector-readonly-api-key with the embedded target needs the run's own credentials too "
            "(for example --connector-api-key ID:KEY): only a secured target can refuse a read-only key"
        )


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def run_seed(settings: Settings) -> int | None:
    """The seed of the exploration walks: the one given, or a fresh one printed for reproduction."""
    if not settings.explore:
        return settings.seed
    return settings.seed if settings.seed is not None else secrets.randbelow(2**32)


def reproduce_command(settings: Settings, target: TargetInfo, walks: int, seed: int | None) -> str:
    """The command line that runs the same walks against the same target again (no credentials in it)."""
    url = "embedded" if settings.embedded or target.embedded else target.url
    parts = ["pytest", "--connector-url", url]
    if url == "embedded" and settings.embedded_version:
        parts += ["--connector-embedded-version", settings.embedded_version]
    if settings.sources.get("profile", "default") != "default":
        parts += ["--connector-profile", settings.profile]
    parts += ["--connector-explore", str(walks), "--connector-seed", str(seed)]
    if settings.explore_steps != 20:
        parts += ["--connector-explore-steps", str(settings.explore_steps)]
    return shlex.join(parts)


def header_lines(settings: Settings, target: TargetInfo, seed: int | None) -> list[str]:
    lines = []
    if settings.explore:
        command = reproduce_command(settings, target, settings.explore, seed)
        lines.append(f"connector-contract: exploration seed {seed}; reproduce with: {command}")
    if settings.race:
        lines.append(f"connector-contract: racing clients, {settings.race_rounds} rounds per race check")
    return lines


def enabled_checks(spec: Spec, settings: Settings, selection: Sequence[str] | None, seed: int | None) -> list[Check]:
    """The checks beyond the default suite that this run collects, in catalogue order."""
    checks: list[Check] = []
    if settings.explore and seed is not None:
        checks.extend(spec.explore_checks(settings.explore, seed))
    for check in spec.optional_checks:
        enabled = (check.kind == "race" and settings.race) or (
            check.kind == "privileges" and settings.readonly_api_key is not None
        )
        named = any(selects(s, check.id) for s in selection or ())
        if enabled or named:
            checks.append(check)
    return checks
