"""Options, environment variables and ini keys, resolved into one immutable ``Settings``.

Every option exists in three places with one documented order of precedence:
command line > environment variable > ini key > default.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

EMBEDDED = "embedded"
PROFILES = ("auto", "8.13", "8.15")
DEFAULT_TIMEOUT = 10.0
DEFAULT_ID_PREFIX = "ccontract"


def parse_url(value: str) -> str:
    """``embedded`` or an http(s) URL with a host; returned without a trailing slash."""
    value = value.strip()
    if value == EMBEDDED:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{redact_url(value)!r} is not a target: give an http(s) URL such as "
            f"https://es.example:9200, or {EMBEDDED!r} for the bundled reference target"
        )
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r}: {exc}") from None
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r}: a target URL takes no query string or fragment")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def redact_url(url: str) -> str:
    """The URL with any user name and password removed: the only form of it that may be shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_profile(value: str) -> str:
    value = value.strip()
    if value not in PROFILES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a profile: choose one of {', '.join(PROFILES)}")
    return value


def parse_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r}: a timeout must be more than 0 and at most 3600 s")
    return seconds


_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def parse_id_prefix(value: str) -> str:
    """Ids (and the index names derived from them) must be valid lower-case index names."""
    value = value.strip()
    if not _PREFIX.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an id prefix: use 1-40 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean: use true or false")


def parse_path(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(value)


def parse_es_version(value: str) -> str:
    from .spec import load_spec, parse_version

    version = parse_version(value)
    if version is None or version < load_spec().minimum_version:
        raise argparse.ArgumentTypeError(
            f"{value!r}: the reference target emulates Elasticsearch 8.13.0 or newer (for example 9.1.0)"
        )
    return value.strip()


@dataclass(frozen=True)
class Option:
    """One setting, as a command-line flag, an environment variable and an ini key."""

    dest: str
    flag: str
    env: str
    ini: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    is_flag: bool = False
    metavar: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option(
        "url",
        "--connector-url",
        "CONNECTOR_URL",
        "connector_url",
        "Target to test: an http(s) URL of an Elasticsearch-compatible server, or 'embedded' for the "
        "bundled reference target. With a target and no test path, pytest runs the bundled suite.",
        parse_url,
        metavar="URL",
    ),
    Option(
        "profile",
        "--connector-profile",
        "CONNECTOR_PROFILE",
        "connector_profile",
        "Expected behaviour: 'auto' (from the target's version), '8.13' (8.13-8.14) or '8.15' (8.15+, 9.x).",
        parse_profile,
        default="auto",
        metavar="PROFILE",
    ),
    Option(
        "json",
        "--connector-json",
        "CONNECTOR_JSON",
        "connector_json",
        "Write the machine-readable conformance report to this file.",
        parse_path,
        metavar="PATH",
    ),
    Option(
        "timeout",
        "--connector-timeout",
        "CONNECTOR_TIMEOUT",
        "connector_timeout",
        "Seconds to wait for each HTTP request (connect and read).",
        parse_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
    ),
    Option(
        "id_prefix",
        "--connector-id-prefix",
        "CONNECTOR_ID_PREFIX",
        "connector_id_prefix",
        "Prefix of every connector id the run creates; a random per-run token is appended.",
        parse_id_prefix,
        default=DEFAULT_ID_PREFIX,
        metavar="PREFIX",
    ),
    Option(
        "keep",
        "--connector-keep",
        "CONNECTOR_KEEP",
        "connector_keep",
        "Leave the connectors the run created in place (for debugging).",
        parse_bool,
        default=False,
        is_flag=True,
    ),
    Option(
        "embedded_version",
        "--connector-embedded-version",
        "CONNECTOR_EMBEDDED_VERSION",
        "connector_embedded_version",
        "Elasticsearch version the embedded reference target emulates (8.13.0 or newer).",
        parse_es_version,
        metavar="VERSION",
    ),
    Option(
        "baseline",
        "--connector-baseline",
        "CONNECTOR_BASELINE",
        "connector_baseline",
        "TOML file of known deviations accepted for now: a listed check that fails is an expected failure; "
        "one that passes, or an expired entry, fails the run.",
        parse_path,
        metavar="FILE",
    ),
    Option(
        "baseline_write",
        "--connector-baseline-write",
        "CONNECTOR_BASELINE_WRITE",
        "connector_baseline_write",
        "Write a baseline listing the checks that failed in this run (each with a reason to fill in).",
        parse_path,
        metavar="FILE",
    ),
    Option(
        "compare",
        "--connector-compare",
        "CONNECTOR_COMPARE",
        "connector_compare",
        "A previous --connector-json report: list regressions, fixes, and checks new or gone since then.",
        parse_path,
        metavar="PREVIOUS.json",
    ),
)


@dataclass(frozen=True)
class Settings:
    url: str | None = None
    profile: str = "auto"
    json: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    id_prefix: str = DEFAULT_ID_PREFIX
    keep: bool = False
    embedded_version: str | None = None
    baseline: Path | None = None
    baseline_write: Path | None = None
    compare: Path | None = None
    #: where each value came from (``cli``, ``env``, ``ini``, ``default``), for provenance in reports
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.url == EMBEDDED

    def describe(self) -> dict[str, Any]:
        """The effective configuration, safe to print: no secret is part of it."""
        values = {
            "url": redact_url(self.url) if self.url else None,
            "profile": self.profile,
            "json": str(self.json) if self.json else None,
            "timeout": self.timeout,
            "id_prefix": self.id_prefix,
            "keep": self.keep,
            "embedded_version": self.embedded_version,
            "baseline": str(self.baseline) if self.baseline else None,
            "baseline_write": str(self.baseline_write) if self.baseline_write else None,
            "compare": str(self.compare) if self.compare else None,
        }
        return {key: {"value": value, "source": self.sources.get(key, "default")} for key, value in values.items()}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("connector-contract", "connector status API conformance")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}, ini {option.ini}]"
        if option.is_flag:
            group.addoption(
                option.flag,
                action="store_const",
                const=True,
                default=None,
                dest=f"connector_{option.dest}",
                help=help_text,
            )
        else:
            group.addoption(
                option.flag,
                type=option.parse,
                default=None,
                metavar=option.metavar,
                dest=f"connector_{option.dest}",
                help=help_text,
            )
        parser.addini(option.ini, help=option.help, default=None)


def resolve(config: pytest.Config, environ: Mapping[str, str] | None = None) -> Settings:
    """Apply the precedence command line > environment > ini > default; raise UsageError on a bad value."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        value = config.getoption(f"connector_{option.dest}")
        source = "cli"
        if value is None:
            for source, name, raw in (
                ("env", option.env, environ.get(option.env)),
                ("ini", option.ini, config.getini(option.ini)),
            ):
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    continue
                try:
                    value = option.parse(str(raw))
                except argparse.ArgumentTypeError as exc:
                    where = f"environment variable {name}" if source == "env" else f"ini key {name}"
                    raise pytest.UsageError(f"{where}: {exc}") from None
                break
        if value is None:
            value, source = option.default, "default"
        values[option.dest] = value
        sources[option.dest] = source
    return Settings(**values, sources=sources)
