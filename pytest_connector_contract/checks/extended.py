"""The checks beyond the matrix (exploration, races, privileges, the official client): when they run.

The first three are not part of the default suite. Each kind is collected only under the option that enables
it (``--connector-explore N``, ``--connector-race``, ``--connector-readonly-api-key``) or when its id is named
on the command line, so a default run, its score and its report stay exactly as they were. The official
client's checks are always collected: they run when the ``clients`` extra is installed and are skipped, saying
how to install it, when not; their ids name the client's major only when two majors are installed
(``official_client.official_checks``). The runners live in ``explore.py``, ``race.py``,
``checks.check_privileges`` and ``official_client.py``; this module only decides. Their report sections are
``reports/``'s (``results.beyond_sections``, ``terminal``, ``html.beyond_html``).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.config.settings import Settings
from pytest_connector_contract.contract.spec import Check, Spec, selects
from pytest_connector_contract.contract.target import TargetInfo

__all__ = [
    "enabled_checks",
    "header_lines",
    "reproduce_command",
    "run_seed",
]


def run_seed(settings: Settings) -> int | None:
    """The seed of the exploration walks: the one given, or a fresh one printed for reproduction."""
    if not settings.explore:
        return settings.seed
    return settings.seed if settings.seed is not None else secrets.randbelow(2**32)


def reproduce_command(settings: Settings, target: TargetInfo, walks: int, seed: int | None) -> str:
    """The command line that runs the same walks against the same target again (no credentials in it)."""
    url = "embedded" if settings.target.embedded or target.embedded else target.url
    parts = ["pytest", "--connector-url", url]
    if url == "embedded" and settings.target.embedded_version:
        parts += ["--connector-embedded-version", settings.target.embedded_version]
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
    """The checks beyond the default suite that this run collects: the official client's (always), then those
    of the options, in catalogue order."""
    checks: list[Check] = list(official_checks(spec))
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
