"""Options, environment variables and ini keys, resolved into one immutable ``Settings``.

Every option exists in three places with one documented order of precedence:
command line > environment variable > ini key > default.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pytest_connector_contract.client.secrets import (
    Secret,
    decode_api_key,
    encode_api_key,
    free_text_forms,
    redact_url,
    url_secrets,
)

EMBEDDED = "embedded"


class SettingsError(ValueError):
    """The options of a run contradict each other or name something unusable; the message says how to fix it.
    The plugin reports it as a pytest usage error, the command line tools as their own."""


PROFILES = ("auto", "8.13", "8.15")
DEFAULT_TIMEOUT = 10.0
DEFAULT_ID_PREFIX = "ccontract"
#: checks in flight at once in one process by default against a target over the network (README, "Checks in
#: flight together": why this number); the embedded target runs one at a time by default (see Settings.in_flight)
DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 256


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


def parse_proxy(value: str) -> str:
    """An http(s) proxy URL, ``http://[user:password@]host[:port]``; returned without a trailing slash."""
    value = value.strip()
    example = "give an http(s) URL such as http://proxy.example:3128 (user:password@ may precede the host)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} is not a proxy ({exc}): {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} is not a proxy: {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r}: a proxy URL takes no path, query or fragment")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def parse_profile(value: str) -> str:
    value = value.strip()
    if value not in PROFILES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a profile: choose one of {', '.join(PROFILES)}")
    return value


def parse_number(value: str, unit: str, *, minimum: float, maximum: float, exclusive: bool = True) -> float:
    """A float within ``(minimum, maximum]`` (or ``[minimum, maximum]`` when not ``exclusive``)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of {unit}") from None
    low_ok = number > minimum if exclusive else number >= minimum
    if not (low_ok and number <= maximum):
        bound = "more than" if exclusive else "at least"
        raise argparse.ArgumentTypeError(f"{value!r}: {unit} must be {bound} {minimum:g} and at most {maximum:g}")
    return number


def parse_timeout(value: str) -> float:
    return parse_number(value, "seconds", minimum=0, maximum=3600)


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
    from pytest_connector_contract.contract.spec import load_spec, parse_version

    version = parse_version(value)
    if version is None or version < load_spec().minimum_version:
        raise argparse.ArgumentTypeError(
            f"{value!r}: the reference target emulates Elasticsearch 8.13.0 or newer (for example 9.1.0)"
        )
    return value.strip()


def parse_secret(value: str) -> Secret:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty secret")
    return Secret(value.strip())


def parse_file(value: str) -> Path:
    path = Path(value.strip()).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value!r}: no such file")
    return path


def parse_rate(value: str) -> float:
    return parse_number(value, "requests per second", minimum=0, maximum=100_000)


def parse_user(value: str) -> str:
    if not value.strip() or ":" in value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a user name (it may not be empty or contain ':')")
    return value.strip()


def decode_cloud_id(cloud_id: str) -> str:
    """An Elastic Cloud id (``name:base64(host$es_uuid$kibana_uuid)``) -> the deployment's HTTPS URL."""
    _, _, encoded = cloud_id.strip().rpartition(":")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise argparse.ArgumentTypeError("not an Elastic Cloud id: the part after ':' is not base64") from None
    parts = decoded.split("$")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("not an Elastic Cloud id: expected host$elasticsearch-uuid$...")
    host, _, port = parts[0].partition(":")
    es_uuid, _, es_port = parts[1].partition(":")
    return f"https://{es_uuid}.{host}:{es_port or port or '443'}"


def parse_cloud_id(value: str) -> str:
    decode_cloud_id(value)  # validates
    return value.strip()


def _parse_int(value: str, what: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"{value!r}: {what} must be from {low} to {high}")
    return number


def parse_walks(value: str) -> int:
    return _parse_int(value, "a number of walks", 0, 10_000)


def parse_seed(value: str) -> int:
    return _parse_int(value, "a seed (a whole number)", 0, 2**64 - 1)


def parse_steps(value: str) -> int:
    return _parse_int(value, "a number of steps", 1, 1_000)


def parse_rounds(value: str) -> int:
    return _parse_int(value, "a number of rounds", 1, 10_000)


def parse_concurrency(value: str) -> int:
    return _parse_int(value, "a number of checks in flight", 1, MAX_CONCURRENCY)


def parse_budget(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{value!r}: a time budget must be more than 0 s")
    return seconds


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
    #: a credential: never echoed, and the ini key is discouraged in the docs
    secret: bool = False

    @property
    def negation(self) -> str | None:
        """``--no-connector-keep`` for a boolean option: turns it off over the environment and the ini key."""
        return f"--no-{self.flag.removeprefix('--')}" if self.is_flag else None

    def arguments(self, dest: str, help_text: str) -> list[tuple[str, dict[str, Any]]]:
        """The command-line arguments of this option, as ``(flag, keyword arguments)`` for argparse's
        ``add_argument`` or pytest's ``addoption``: a boolean gets its ``--no-`` form, the last one given wins.

        Every form defaults to None, meaning "not on the command line", so the environment and ini key apply.
        """
        if self.negation is None:
            return [
                (
                    self.flag,
                    {"dest": dest, "default": None, "help": help_text, "type": self.parse, "metavar": self.metavar},
                )
            ]
        off = f"Turn {self.flag} off, whatever {self.env} or the ini key say."
        return [
            (self.flag, {"dest": dest, "default": None, "help": help_text, "action": "store_const", "const": True}),
            (self.negation, {"dest": dest, "default": None, "help": off, "action": "store_const", "const": False}),
        ]


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
        "api_key",
        "--connector-api-key",
        "CONNECTOR_API_KEY",
        "connector_api_key",
        "Elasticsearch API key: the encoded form, or id:api_key. Sent as 'Authorization: ApiKey ...'.",
        parse_secret,
        metavar="KEY",
        secret=True,
    ),
    Option(
        "user",
        "--connector-user",
        "CONNECTOR_USER",
        "connector_user",
        "User name for basic authentication (with --connector-password).",
        parse_user,
        metavar="NAME",
    ),
    Option(
        "password",
        "--connector-password",
        "CONNECTOR_PASSWORD",
        "connector_password",
        "Password for basic authentication; prefer the environment variable.",
        parse_secret,
        metavar="PASSWORD",
        secret=True,
    ),
    Option(
        "bearer_token",
        "--connector-bearer-token",
        "CONNECTOR_BEARER_TOKEN",
        "connector_bearer_token",
        "Bearer token (for example from the token API or a service account).",
        parse_secret,
        metavar="TOKEN",
        secret=True,
    ),
    Option(
        "cloud_id",
        "--connector-cloud-id",
        "CONNECTOR_CLOUD_ID",
        "connector_cloud_id",
        "Elastic Cloud id of the deployment; decoded to the target URL (instead of --connector-url).",
        parse_cloud_id,
        metavar="CLOUD_ID",
    ),
    Option(
        "ca_certs",
        "--connector-ca-certs",
        "CONNECTOR_CA_CERTS",
        "connector_ca_certs",
        "PEM file of the CA certificates that signed the target's certificate (a private CA).",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "client_cert",
        "--connector-client-cert",
        "CONNECTOR_CLIENT_CERT",
        "connector_client_cert",
        "PEM client certificate for TLS client authentication.",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "client_key",
        "--connector-client-key",
        "CONNECTOR_CLIENT_KEY",
        "connector_client_key",
        "PEM private key of --connector-client-cert (if not in the same file).",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "insecure",
        "--connector-insecure",
        "CONNECTOR_INSECURE",
        "connector_insecure",
        "Do not verify the target's TLS certificate (the run warns loudly).",
        parse_bool,
        default=False,
        is_flag=True,
    ),
    Option(
        "proxy",
        "--connector-proxy",
        "CONNECTOR_PROXY",
        "connector_proxy",
        "HTTP proxy for every request to the target, http or https (https through CONNECT): "
        "http://[user:password@]host:port. Overrides HTTPS_PROXY, HTTP_PROXY and NO_PROXY, which apply "
        "without it. Credentials in it are never shown. Not used for the embedded target.",
        parse_proxy,
        metavar="URL",
    ),
    Option(
        "max_rps",
        "--connector-max-rps",
        "CONNECTOR_MAX_RPS",
        "connector_max_rps",
        "At most this many requests per second for the whole run (shared by xdist workers).",
        parse_rate,
        metavar="N",
    ),
    Option(
        "concurrency",
        "--connector-concurrency",
        "CONNECTOR_CONCURRENCY",
        "connector_concurrency",
        f"Checks in flight at once in each pytest process (each xdist worker too); 1 runs them one after "
        f"another. Default: {DEFAULT_CONCURRENCY}, and 1 for the embedded target. Exploration walks and race "
        "checks always run one at a time.",
        parse_concurrency,
        metavar="N",
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
    Option(
        "explore",
        "--connector-explore",
        "CONNECTOR_EXPLORE",
        "connector_explore",
        "Add N random walks (explore[1]..explore[N]): sequences of valid, invalid and malformed _status "
        "requests on one connector, checked step by step against the profile's state machine "
        "(needs pip install 'pytest-connector-contract[explore]').",
        parse_walks,
        default=0,
        metavar="N",
    ),
    Option(
        "seed",
        "--connector-seed",
        "CONNECTOR_SEED",
        "connector_seed",
        "Seed of the exploration walks; the same seed against the same target gives the same walks. "
        "Default: a new random seed, printed in the report header.",
        parse_seed,
        metavar="SEED",
    ),
    Option(
        "explore_steps",
        "--connector-explore-steps",
        "CONNECTOR_EXPLORE_STEPS",
        "connector_explore_steps",
        "At most this many _status requests in one sequence of a walk.",
        parse_steps,
        default=20,
        metavar="N",
    ),
    Option(
        "explore_budget",
        "--connector-explore-budget",
        "CONNECTOR_EXPLORE_BUDGET",
        "connector_explore_budget",
        "Seconds one walk may take, shrinking included; a walk that runs out stops early.",
        parse_budget,
        default=60.0,
        metavar="SECONDS",
    ),
    Option(
        "race",
        "--connector-race",
        "CONNECTOR_RACE",
        "connector_race",
        "Add the race[...] checks: conflicting _status requests for one connector sent at the same moment.",
        parse_bool,
        default=False,
        is_flag=True,
    ),
    Option(
        "race_rounds",
        "--connector-race-rounds",
        "CONNECTOR_RACE_ROUNDS",
        "connector_race_rounds",
        "Rounds of each race check, each on a fresh connector.",
        parse_rounds,
        default=10,
        metavar="N",
    ),
    Option(
        "readonly_api_key",
        "--connector-readonly-api-key",
        "CONNECTOR_READONLY_API_KEY",
        "connector_readonly_api_key",
        "An API key holding only monitor_connector (encoded, or id:api_key): adds privileges[readonly-status], "
        "which requires _status to refuse it with 403.",
        parse_secret,
        metavar="KEY",
        secret=True,
    ),
    Option(
        "reference_url",
        "--connector-reference-url",
        "CONNECTOR_REFERENCE_URL",
        "connector_reference_url",
        "A reference cluster to judge the target against as well (an http(s) URL of Elasticsearch, or "
        "'embedded' for the bundled reference target): each check also runs there, on connectors of its "
        "own, and the two runs are compared.",
        parse_url,
        metavar="URL",
    ),
    Option(
        "reference_embedded_version",
        "--connector-reference-embedded-version",
        "CONNECTOR_REFERENCE_EMBEDDED_VERSION",
        "connector_reference_embedded_version",
        "Elasticsearch version the embedded reference cluster emulates (with --connector-reference-url embedded).",
        parse_es_version,
        metavar="VERSION",
    ),
    Option(
        "reference_api_key",
        "--connector-reference-api-key",
        "CONNECTOR_REFERENCE_API_KEY",
        "connector_reference_api_key",
        "API key for the reference cluster: the encoded form, or id:api_key.",
        parse_secret,
        metavar="KEY",
        secret=True,
    ),
    Option(
        "reference_user",
        "--connector-reference-user",
        "CONNECTOR_REFERENCE_USER",
        "connector_reference_user",
        "User name for basic authentication to the reference cluster (with --connector-reference-password).",
        parse_user,
        metavar="NAME",
    ),
    Option(
        "reference_password",
        "--connector-reference-password",
        "CONNECTOR_REFERENCE_PASSWORD",
        "connector_reference_password",
        "Password for basic authentication to the reference cluster; prefer the environment variable.",
        parse_secret,
        metavar="PASSWORD",
        secret=True,
    ),
    Option(
        "reference_bearer_token",
        "--connector-reference-bearer-token",
        "CONNECTOR_REFERENCE_BEARER_TOKEN",
        "connector_reference_bearer_token",
        "Bearer token for the reference cluster.",
        parse_secret,
        metavar="TOKEN",
        secret=True,
    ),
    Option(
        "reference_ca_certs",
        "--connector-reference-ca-certs",
        "CONNECTOR_REFERENCE_CA_CERTS",
        "connector_reference_ca_certs",
        "PEM file of the CA certificates that signed the reference cluster's certificate.",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "reference_client_cert",
        "--connector-reference-client-cert",
        "CONNECTOR_REFERENCE_CLIENT_CERT",
        "connector_reference_client_cert",
        "PEM client certificate for TLS client authentication to the reference cluster.",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "reference_client_key",
        "--connector-reference-client-key",
        "CONNECTOR_REFERENCE_CLIENT_KEY",
        "connector_reference_client_key",
        "PEM private key of --connector-reference-client-cert (if not in the same file).",
        parse_file,
        metavar="FILE",
    ),
    Option(
        "reference_insecure",
        "--connector-reference-insecure",
        "CONNECTOR_REFERENCE_INSECURE",
        "connector_reference_insecure",
        "Do not verify the reference cluster's TLS certificate (the run warns loudly).",
        parse_bool,
        default=False,
        is_flag=True,
    ),
    Option(
        "record",
        "--connector-record",
        "CONNECTOR_RECORD",
        "connector_record",
        "Write what the target answered to every check (normalised, no secrets) to this JSON file, "
        "to replay later with --connector-expect-from.",
        parse_path,
        metavar="FILE",
    ),
    Option(
        "expect_from",
        "--connector-expect-from",
        "CONNECTOR_EXPECT_FROM",
        "connector_expect_from",
        "A recording (--connector-record) to judge the target against instead of a live reference cluster.",
        parse_path,
        metavar="FILE",
    ),
    Option(
        "request_log",
        "--connector-request-log",
        "CONNECTOR_REQUEST_LOG",
        "connector_request_log",
        "Write one JSON line per HTTP request the run sends (check, method, path, body, status, timing; "
        "never credentials) to this file, from every process of the run.",
        parse_path,
        metavar="PATH",
    ),
)


def _default(name: str) -> Any:
    """A setting's default, as the option table declares it (the one place defaults are written)."""
    return next(option.default for option in OPTIONS if option.dest == name)


@dataclass(frozen=True)
class Settings:
    url: str | None = _default("url")
    profile: str = _default("profile")
    json: Path | None = _default("json")
    timeout: float = _default("timeout")
    id_prefix: str = _default("id_prefix")
    keep: bool = _default("keep")
    embedded_version: str | None = _default("embedded_version")
    api_key: Secret | None = _default("api_key")
    user: str | None = _default("user")
    password: Secret | None = _default("password")
    bearer_token: Secret | None = _default("bearer_token")
    cloud_id: str | None = _default("cloud_id")
    ca_certs: Path | None = _default("ca_certs")
    client_cert: Path | None = _default("client_cert")
    client_key: Path | None = _default("client_key")
    insecure: bool = _default("insecure")
    proxy: str | None = _default("proxy")
    max_rps: float | None = _default("max_rps")
    concurrency: int | None = _default("concurrency")
    baseline: Path | None = _default("baseline")
    baseline_write: Path | None = _default("baseline_write")
    compare: Path | None = _default("compare")
    explore: int = _default("explore")
    seed: int | None = _default("seed")
    explore_steps: int = _default("explore_steps")
    explore_budget: float = _default("explore_budget")
    race: bool = _default("race")
    race_rounds: int = _default("race_rounds")
    readonly_api_key: Secret | None = _default("readonly_api_key")
    request_log: Path | None = _default("request_log")
    reference_url: str | None = _default("reference_url")
    reference_embedded_version: str | None = _default("reference_embedded_version")
    reference_api_key: Secret | None = _default("reference_api_key")
    reference_user: str | None = _default("reference_user")
    reference_password: Secret | None = _default("reference_password")
    reference_bearer_token: Secret | None = _default("reference_bearer_token")
    reference_ca_certs: Path | None = _default("reference_ca_certs")
    reference_client_cert: Path | None = _default("reference_client_cert")
    reference_client_key: Path | None = _default("reference_client_key")
    reference_insecure: bool = _default("reference_insecure")
    record: Path | None = _default("record")
    expect_from: Path | None = _default("expect_from")
    #: where each value came from (``cli``, ``env``, ``ini``, ``default``), for provenance in reports
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        return self.url == EMBEDDED

    @property
    def in_flight(self) -> int:
        """Checks in flight at once in one process: ``--connector-concurrency``, or else
        :data:`DEFAULT_CONCURRENCY` against a target over the network and 1 for the embedded one, which
        answers at once from this very process: with no network to wait for, more checks at a time only
        share one interpreter lock, and measured slower (docs/performance.md)."""
        if self.concurrency is not None:
            return self.concurrency
        return 1 if self.url is None or self.embedded else DEFAULT_CONCURRENCY

    def authorization(self) -> Secret | None:
        """The ``Authorization`` header value for the configured credentials, if any."""
        if self.api_key is not None:
            key = self.api_key.reveal()
            if ":" in key:  # id:api_key -> the encoded form Elasticsearch expects
                key = encode_api_key(key)
            return Secret(f"ApiKey {key}")
        if self.user is not None and self.password is not None:
            pair = base64.b64encode(f"{self.user}:{self.password.reveal()}".encode()).decode()
            return Secret(f"Basic {pair}")
        if self.bearer_token is not None:
            return Secret(f"Bearer {self.bearer_token.reveal()}")
        return None

    def secrets(self) -> list[str]:
        """Every form in which a configured credential (the target's and the reference cluster's) could
        appear in free text, for redaction: each credential and the values its ``Authorization`` header
        carries (an API key encoded and as ``id:key``, ``user:password`` base64-encoded), each as is,
        JSON-escaped and URL-encoded; only forms of
        :data:`~pytest_connector_contract.client.secrets.MIN_FREE_TEXT_LENGTH` characters or more."""
        found = self._own_secrets()
        if self.reference_url is not None:
            found += self.reference_settings()._own_secrets()
        return list(dict.fromkeys(found))

    def _own_secrets(self) -> list[str]:
        found: list[str] = []
        for secret in (self.password, self.bearer_token):
            if secret is not None:
                found.append(secret.reveal())
        for auth in (self.authorization(), self.readonly_authorization()):
            if auth is not None:
                found.append(auth.reveal().partition(" ")[2])
        if self.user is not None and self.password is not None:
            found.append(f"{self.user}:{self.password.reveal()}")
        for secret in (self.api_key, self.readonly_api_key):
            if secret is None:
                continue
            key = secret.reveal()
            pair = key if ":" in key else decode_api_key(key)
            found.append(key)
            if pair is not None:  # id:key, and the key without its id (the id is no secret)
                found += [pair, pair.partition(":")[2], encode_api_key(pair)]
        found = free_text_forms(found)
        found.extend(url_secrets(self.proxy or ""))
        return list(dict.fromkeys(found))

    def reference_settings(self) -> Settings:
        """The settings the reference cluster's client uses: its URL, credentials and TLS options in place of
        the target's. No ``--connector-proxy`` (it is the target's; the environment's proxies apply) and no
        read-only key (the privileges check is not compared)."""
        return replace(
            self,
            url=self.reference_url,
            embedded_version=self.reference_embedded_version,
            api_key=self.reference_api_key,
            user=self.reference_user,
            password=self.reference_password,
            bearer_token=self.reference_bearer_token,
            cloud_id=None,
            ca_certs=self.reference_ca_certs,
            client_cert=self.reference_client_cert,
            client_key=self.reference_client_key,
            insecure=self.reference_insecure,
            proxy=None,
            readonly_api_key=None,
        )

    def readonly_authorization(self) -> Secret | None:
        """The ``Authorization`` header value for ``--connector-readonly-api-key``, if given."""
        if self.readonly_api_key is None:
            return None
        key = self.readonly_api_key.reveal()
        return Secret(f"ApiKey {encode_api_key(key) if ':' in key else key}")

    def describe(self) -> dict[str, Any]:
        """The effective configuration, safe to print: every secret is shown as ``<redacted>``."""
        values: dict[str, Any] = {}
        for option in OPTIONS:
            value = getattr(self, option.dest)
            if value is None or isinstance(value, bool | int | float | str):
                shown = value
            elif isinstance(value, Secret):
                shown = "<redacted>"
            else:
                shown = str(value)
            if option.dest in ("url", "proxy", "reference_url") and isinstance(value, str):
                shown = redact_url(value)
            values[option.dest] = shown
        return {key: {"value": value, "source": self.sources.get(key, "default")} for key, value in values.items()}


def resolve_from(
    cli: Callable[[Option], Any],
    ini: Callable[[Option], Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The precedence rule itself (command line > environment > ini > default), for the plugin and the
    ``connector-contract`` command alike; raises :class:`SettingsError` on a bad value or combination."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        value = cli(option)
        source = "cli"
        if value is None:
            for source, name, raw in (
                ("env", option.env, environ.get(option.env)),
                ("ini", option.ini, ini(option) if ini else None),
            ):
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    continue
                try:
                    value = option.parse(str(raw))
                except argparse.ArgumentTypeError as exc:
                    where = f"environment variable {name}" if source == "env" else f"ini key {name}"
                    raise SettingsError(f"{where}: {exc}") from None
                break
        if value is None:
            value, source = option.default, "default"
        values[option.dest] = value
        sources[option.dest] = source
    _combine(values, sources)
    return Settings(**values, sources=sources)


def _combine(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Checks that need several settings at once; moves URL credentials into user and password."""
    if values["cloud_id"] is not None:
        if values["url"] is not None and sources["url"] == sources["cloud_id"]:
            raise SettingsError("give either --connector-url or --connector-cloud-id, not both")
        if values["url"] is None or _rank(sources["cloud_id"]) < _rank(sources["url"]):
            values["url"], sources["url"] = decode_cloud_id(values["cloud_id"]), sources["cloud_id"]
    for side in ("", "reference_"):
        _combine_credentials(values, sources, side)
    if values["reference_url"] is not None and values["expect_from"] is not None:
        raise SettingsError(
            "give either --connector-reference-url (a live reference cluster) or --connector-expect-from "
            "(a recording), not both"
        )
    if values["reference_url"] is None:
        given = [
            option.flag
            for option in OPTIONS
            if option.dest.startswith("reference_") and values[option.dest] not in (None, False)
        ]
        if given:
            raise SettingsError(f"{', '.join(given)} need(s) --connector-reference-url")
    elif values["reference_embedded_version"] is not None and values["reference_url"] != EMBEDDED:
        raise SettingsError("--connector-reference-embedded-version needs --connector-reference-url embedded")
    if values["readonly_api_key"] is not None and values["readonly_api_key"] == values["api_key"]:
        raise SettingsError("--connector-readonly-api-key must be another key than --connector-api-key")


def _combine_credentials(values: dict[str, Any], sources: dict[str, str], side: str) -> None:
    """The credential and TLS rules of one side (``""``: the target, ``"reference_"``: the reference
    cluster): credentials in the URL move into user and password, one kind of credentials, and so on."""

    def flag(name: str) -> str:
        return f"--connector-{side}{name}".replace("_", "-")

    what = "the reference URL" if side else "the target URL"
    url = values[f"{side}url"]
    if url and url != EMBEDDED:
        parts = urlsplit(url)
        if parts.username is not None:
            if values[f"{side}user"] is not None:
                raise SettingsError(f"credentials are in both {what} and {flag('user')}")
            values[f"{side}user"] = unquote(parts.username)
            if parts.password:
                values[f"{side}password"] = Secret(unquote(parts.password))
            sources[f"{side}user"] = sources[f"{side}password"] = sources[f"{side}url"]
            values[f"{side}url"] = redact_url(url)
    methods = [name for name in ("api_key", "user", "bearer_token") if values[f"{side}{name}"] is not None]
    if len(methods) > 1:
        raise SettingsError(f"give one kind of credentials, not {' and '.join(flag(m) for m in methods)}")
    if (values[f"{side}user"] is None) != (values[f"{side}password"] is None):
        raise SettingsError(f"basic authentication needs both {flag('user')} and {flag('password')}")
    if values[f"{side}client_key"] is not None and values[f"{side}client_cert"] is None:
        raise SettingsError(f"{flag('client_key')} needs {flag('client_cert')}")
    if values[f"{side}insecure"] and values[f"{side}ca_certs"] is not None:
        raise SettingsError(f"{flag('insecure')} and {flag('ca_certs')} contradict each other")


def _rank(source: str) -> int:
    return ("cli", "env", "ini", "default").index(source)
