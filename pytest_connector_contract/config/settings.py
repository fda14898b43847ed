"""Options, environment variables and ini keys, resolved into one immutable ``Settings``.

Each option is declared once, as a field of :class:`Settings` or of an :class:`Access` block; its flag
(``--connector-x``), environment variable (``CONNECTOR_X``) and ini key (``connector_x``) follow from its name.
Every option exists in these three places with one documented order of precedence:
command line > environment variable > ini key > default. The rules between options are here too
(:func:`resolve_from`), so a bad combination is a usage error before anything runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pytest_connector_contract.config import values as v
from pytest_connector_contract.config.credentials import REDACTED, Credentials, Secret, redact_url, url_secrets
from pytest_connector_contract.config.extras import install_hint
from pytest_connector_contract.config.values import EMBEDDED
from pytest_connector_contract.contract.spec import version_text
from pytest_connector_contract.contract.target import MINIMUM_VERSION, PROFILE_NAMES

__all__ = [
    "DEFAULT_CONCURRENCY",
    "EMBEDDED",
    "OPTIONS",
    "Access",
    "Option",
    "Settings",
    "SettingsError",
    "resolve_from",
]

#: the word every flag, environment variable and ini key starts with
PREFIX = "connector"
DEFAULT_TIMEOUT = 10.0
DEFAULT_ID_PREFIX = "ccontract"
#: checks in flight at once in one process by default against a target over the network (README, "Checks in
#: flight together": why this number); the embedded target runs one at a time by default (see Settings.in_flight)
DEFAULT_CONCURRENCY = 32
#: the sources of a value, strongest first
SOURCES = ("cli", "env", "ini", "default")


class SettingsError(ValueError):
    """The options of a run contradict each other or name something unusable; the message says how to fix it.
    The plugin reports it as a pytest usage error, the command line tools as their own."""


@dataclass(frozen=True)
class Option:
    """One setting, as a command-line flag, an environment variable and an ini key, all named after ``dest``."""

    dest: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    metavar: str | None = None
    #: the Settings field of the access block this option belongs to (None: a field of Settings itself)
    block: str | None = None
    #: its field in that block (or in Settings): ``url`` for ``reference_url``
    attribute: str = ""

    @property
    def flag(self) -> str:
        return f"--{PREFIX}-{self.dest}".replace("_", "-")

    @property
    def env(self) -> str:
        return f"{PREFIX}_{self.dest}".upper()

    @property
    def ini(self) -> str:
        return f"{PREFIX}_{self.dest}"

    @property
    def is_flag(self) -> bool:
        return self.parse is v.parse_bool

    @property
    def negation(self) -> str | None:
        """``--no-connector-keep`` for a boolean option: turns it off over the environment and the ini key."""
        return f"--no-{self.flag.removeprefix('--')}" if self.is_flag else None

    def value(self, settings: Settings) -> Any:
        return getattr(getattr(settings, self.block) if self.block else settings, self.attribute or self.dest)

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


def option(help: str, parse: Callable[[str], Any], default: Any = None, metavar: str | None = None) -> Any:
    """Declare a field as an option. ``help`` may name other options as ``{name}`` (their flag) and, in an
    access block, the cluster as ``{cluster}``."""
    return field(default=default, metadata={"option": (help, parse, metavar)})


def flag(name: str) -> str:
    """The command-line flag of the option ``name`` (``reference_url`` -> ``--connector-reference-url``)."""
    return Option(name, "", str).flag


@dataclass(frozen=True)
class Access:
    """How to reach one cluster (URL, credentials, TLS, proxy): declared once, for the target and for the
    reference cluster, whose options carry ``reference`` in their names."""

    url: str | None = option(
        "{about}: an http(s) URL of an Elasticsearch-compatible server, or 'embedded' for the bundled "
        "reference target.",
        v.parse_url,
        metavar="URL",
    )
    embedded_version: str | None = option(
        "Elasticsearch version the embedded {cluster} emulates ("
        + version_text(MINIMUM_VERSION)
        + " or newer; with {url} embedded).",
        v.parse_es_version,
        metavar="VERSION",
    )
    api_key: Secret | None = option(
        "API key for {cluster}: the encoded form, or id:api_key. Sent as 'Authorization: ApiKey ...'.",
        v.parse_secret,
        metavar="KEY",
    )
    user: str | None = option(
        "User name for basic authentication to {cluster} (with {password}).", v.parse_user, metavar="NAME"
    )
    password: Secret | None = option(
        "Password for basic authentication to {cluster}; prefer the environment variable.",
        v.parse_secret,
        metavar="PASSWORD",
    )
    bearer_token: Secret | None = option(
        "Bearer token for {cluster} (for example from the token API or a service account).",
        v.parse_secret,
        metavar="TOKEN",
    )
    cloud_id: str | None = option(
        "Elastic Cloud id of the deployment; decoded to the URL of {cluster} (instead of {url}).",
        v.parse_cloud_id,
        metavar="CLOUD_ID",
    )
    ca_certs: Path | None = option(
        "PEM file of the CA certificates that signed the certificate of {cluster} (a private CA).",
        v.parse_file,
        metavar="FILE",
    )
    client_cert: Path | None = option(
        "PEM client certificate for TLS client authentication to {cluster}.", v.parse_file, metavar="FILE"
    )
    client_key: Path | None = option(
        "PEM private key of {client_cert} (if not in the same file).", v.parse_file, metavar="FILE"
    )
    insecure: bool = option(
        "Do not verify the TLS certificate of {cluster} (the run warns loudly).", v.parse_bool, default=False
    )
    proxy: str | None = option(
        "HTTP proxy for every request to {cluster}, http or https (https through CONNECT): "
        "http://[user:password@]host:port. Overrides HTTPS_PROXY, HTTP_PROXY and NO_PROXY, which apply "
        "without it. Credentials in it are never shown. Not used for an embedded cluster.",
        v.parse_proxy,
        metavar="URL",
    )
    #: what messages call this cluster, and the prefix of its option names ("" or "reference_")
    role: str = field(default="target", compare=False)
    prefix: str = field(default="", compare=False)

    @property
    def embedded(self) -> bool:
        """Whether this is the bundled reference target: ``embedded``, or no URL at all (for the target: a run
        without --connector-url; the reference cluster is only reached when it has a URL)."""
        return self.url is None or self.url == EMBEDDED

    def flag(self, name: str) -> str:
        """The flag of this block's option ``name`` (``ca_certs`` -> ``--connector-reference-ca-certs``)."""
        return flag(self.prefix + name)

    def env(self, name: str) -> str:
        return Option(self.prefix + name, "", str).env

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.api_key, self.user, self.password, self.bearer_token)

    @property
    def verify(self) -> bool | str:
        """What to verify the cluster's certificate with: a CA file, or whether to verify at all."""
        return str(self.ca_certs) if self.ca_certs else not self.insecure

    @property
    def cert(self) -> str | tuple[str, str] | None:
        """The TLS client certificate (and its key, when in a file of its own)."""
        if self.client_cert is None:
            return None
        return str(self.client_cert) if self.client_key is None else (str(self.client_cert), str(self.client_key))

    def secrets(self) -> list[str]:
        """The forms to redact of this cluster's credentials, its proxy's included."""
        return list(dict.fromkeys([*self.credentials.forms(), *url_secrets(self.proxy or "")]))


def _access(role: str, prefix: str, about: str) -> Any:
    """An access block as a field of Settings; ``about`` opens the help of its URL."""
    return field(default_factory=lambda: Access(role=role, prefix=prefix), metadata={"access": about})


@dataclass(frozen=True)
class Settings:
    target: Access = _access(
        "target", "", "Target to test (with a target and no test path, pytest runs the bundled suite)"
    )
    profile: str = option(
        "Expected behaviour: 'auto' (from the target's version) or a profile, named after the oldest release it "
        "covers: " + " or ".join(repr(name) for name in PROFILE_NAMES) + ".",
        v.parse_profile,
        default="auto",
        metavar="PROFILE",
    )
    json: Path | None = option(
        "Write the machine-readable conformance report to this file.", v.parse_path, None, "PATH"
    )
    markdown: Path | None = option(
        "Write a Markdown summary of the run (verdict, score, the transition matrix, each failing check with its "
        "reason and curl reproduction) to this file. Under GitHub Actions (GITHUB_STEP_SUMMARY set) the summary "
        "is also appended to the job summary, with or without this option.",
        v.parse_path,
        None,
        "PATH",
    )
    badge: Path | None = option(
        "Write a shields.io endpoint badge (verdict and score) as JSON to this file.", v.parse_path, None, "PATH"
    )
    timeout: float = option(
        "Seconds to wait for each HTTP request (connect and read).", v.parse_timeout, DEFAULT_TIMEOUT, "SECONDS"
    )
    id_prefix: str = option(
        "Prefix of every connector id the run creates; a random per-run token is appended.",
        v.parse_id_prefix,
        DEFAULT_ID_PREFIX,
        "PREFIX",
    )
    keep: bool = option("Leave the connectors the run created in place (for debugging).", v.parse_bool, False)
    strict_results: bool = option(
        "Require the result Elasticsearch writes for a valid self-transition (noop); by default updated passes "
        "there too, as a proxy or an older patch release may answer it harmlessly.",
        v.parse_bool,
        False,
    )
    max_rps: float | None = option(
        "At most this many requests per second for the whole run (shared by xdist workers).", v.parse_rate, None, "N"
    )
    concurrency: int | None = option(
        f"Checks in flight at once in each pytest process (each xdist worker too); 1 runs them one after "
        f"another. Default: {DEFAULT_CONCURRENCY}, and 1 for the embedded target. Exploration walks and race "
        "checks always run one at a time.",
        v.parse_concurrency,
        metavar="N",
    )
    baseline: Path | None = option(
        "TOML file of known deviations accepted for now: a listed check that fails is an expected failure; "
        "one that passes, or an expired entry, fails the run.",
        v.parse_path,
        metavar="FILE",
    )
    baseline_write: Path | None = option(
        "Write a baseline listing the checks that failed in this run (each with a reason to fill in).",
        v.parse_path,
        metavar="FILE",
    )
    compare: Path | None = option(
        "A previous {json} report: list regressions, fixes, and checks new or gone since then.",
        v.parse_path,
        metavar="PREVIOUS.json",
    )
    explore: int = option(
        "Add N random walks (explore[1]..explore[N]): sequences of valid, invalid and malformed _status "
        "requests on one connector, checked step by step against the profile's state machine "
        "(needs Hypothesis: the 'explore' extra).",
        v.parse_walks,
        0,
        "N",
    )
    seed: int | None = option(
        "Seed of the exploration walks; the same seed against the same target gives the same walks. "
        "Default: a new random seed, printed in the report header.",
        v.parse_seed,
        metavar="SEED",
    )
    explore_steps: int = option("At most this many _status requests in one sequence of a walk.", v.parse_steps, 20, "N")
    explore_budget: float = option(
        "Seconds one walk may take, shrinking included; a walk that runs out stops early.",
        v.parse_budget,
        60.0,
        "SECONDS",
    )
    race: bool = option(
        "Add the race[...] checks: conflicting _status requests for one connector sent at the same moment.",
        v.parse_bool,
        False,
    )
    race_rounds: int = option("Rounds of each race check, each on a fresh connector.", v.parse_rounds, 10, "N")
    readonly_api_key: Secret | None = option(
        "An API key holding only monitor_connector (encoded, or id:api_key): adds privileges[readonly-status], "
        "which requires _status to refuse it with 403.",
        v.parse_secret,
        metavar="KEY",
    )
    request_log: Path | None = option(
        "Write one JSON line per HTTP request the run sends (check, method, path, body, status, timing; "
        "never credentials) to this file, from every process of the run.",
        v.parse_path,
        metavar="PATH",
    )
    reference: Access = _access(
        "reference cluster",
        "reference_",
        "A reference cluster to judge the target against as well (each check also runs there, on connectors of "
        "its own, and the two runs are compared)",
    )
    record: Path | None = option(
        "Write what the target answered to every check (normalised, no secrets) to this JSON file, "
        "to replay later with {expect_from}.",
        v.parse_path,
        metavar="FILE",
    )
    expect_from: Path | None = option(
        "A recording ({record}) to judge the target against instead of a live reference cluster.",
        v.parse_path,
        metavar="FILE",
    )
    rerun_errors: int = option(
        "Run a check whose outcome is error (the target unreachable mid-run, a timeout, a setup request refused) "
        "again from scratch, on fresh connectors, up to N times; a check that failed is never run again. The "
        "reports list every rerun and why.",
        v.parse_rerun_errors,
        0,
        "N",
    )
    strict: bool = option(
        "Certification run: ignore {baseline}, so every failure counts (the report says strict mode was on).",
        v.parse_bool,
        False,
    )
    implementation: str | None = option(
        "What was tested, as NAME@VERSION (for example my-gateway@2.4.1), shown wherever the target's identity "
        "is: a proxy or gateway answers GET / with its backend's identity.",
        v.parse_implementation,
        metavar="NAME@VERSION",
    )
    wait: float = option(
        "Seconds to wait for a target that is still starting: until then the preflight tries again after a "
        "refused or reset connection, HTTP 503, a GET / without a version, or HTTP 401 (a secured cluster "
        "refuses keys until its security index is up). 0: no waiting.",
        v.parse_wait,
        0.0,
        "SECONDS",
    )
    #: where each value came from (``cli``, ``env``, ``ini``, ``default``), for provenance in reports
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def in_flight(self) -> int:
        """Checks in flight at once in one process: ``--connector-concurrency``, or else
        :data:`DEFAULT_CONCURRENCY` against a target over the network and 1 for the embedded one, which
        answers at once from this very process: with no network to wait for, more checks at a time only
        share one interpreter lock, and measured slower (docs/performance.md)."""
        if self.concurrency is not None:
            return self.concurrency
        return 1 if self.target.embedded else DEFAULT_CONCURRENCY

    @property
    def readonly(self) -> Credentials | None:
        """The credentials of ``--connector-readonly-api-key``, if given."""
        return None if self.readonly_api_key is None else Credentials(api_key=self.readonly_api_key)

    def secrets(self) -> list[str]:
        """Every form in which a configured credential (the target's, the read-only key and the reference
        cluster's, their proxies' included) could appear in free text, for redaction
        (:meth:`Credentials.forms`)."""
        found = self.target.secrets() + (self.readonly.forms() if self.readonly else [])
        if self.reference.url is not None:
            found += self.reference.secrets()
        return list(dict.fromkeys(found))

    def describe(self) -> dict[str, Any]:
        """The effective configuration, safe to print: every secret is shown as :data:`REDACTED`, every URL
        without its user info."""
        described: dict[str, Any] = {}
        for declared in OPTIONS:
            value = declared.value(self)
            if isinstance(value, Secret):
                value = REDACTED
            elif declared.attribute in ("url", "proxy") and isinstance(value, str):
                value = redact_url(value)
            elif value is not None and not isinstance(value, bool | int | float | str):
                value = str(value)
            described[declared.dest] = {"value": value, "source": self.sources.get(declared.dest, "default")}
        return described


def _blocks() -> dict[str, Access]:
    """The access blocks of Settings by field name, as a default Settings holds them (their role and prefix)."""
    return {f.name: getattr(Settings(), f.name) for f in dataclasses.fields(Settings) if "access" in f.metadata}


def _declared(cls: type, block: str | None = None, about: str = "") -> Iterator[Option]:
    """The options declared as fields of ``cls`` (an access block's under its prefix), in declaration order."""
    access = _blocks()[block] if block else Access()
    for declared in dataclasses.fields(cls):
        if "access" in declared.metadata:
            yield from _declared(Access, declared.name, declared.metadata["access"])
        elif "option" in declared.metadata:
            help_text, parse, metavar = declared.metadata["option"]
            names = {f.name: access.flag(f.name) for f in dataclasses.fields(cls)}
            text = help_text.format(cluster=f"the {access.role}", about=about, **names)
            dest = access.prefix + declared.name
            yield Option(dest, text, parse, declared.default, metavar, block, declared.name)


OPTIONS: tuple[Option, ...] = tuple(_declared(Settings))


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
    for declared in OPTIONS:
        value = cli(declared)
        source = "cli"
        if value is None:
            for source, name, raw in (
                ("env", declared.env, environ.get(declared.env)),
                ("ini", declared.ini, ini(declared) if ini else None),
            ):
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    continue
                try:
                    value = declared.parse(str(raw))
                except argparse.ArgumentTypeError as exc:
                    where = f"environment variable {name}" if source == "env" else f"ini key {name}"
                    raise SettingsError(f"{where}: {exc}") from None
                break
        if value is None:
            value, source = declared.default, "default"
        values[declared.dest] = value
        sources[declared.dest] = source
    for name, block in _blocks().items():
        given = {o.attribute: values.pop(o.dest) for o in OPTIONS if o.block == name}
        values[name] = _combine_access(replace(block, **given), sources)
    settings = Settings(**values, sources=sources)
    _validate(settings)
    return settings


def _combine_access(access: Access, sources: dict[str, str]) -> Access:
    """The rules within one access block: a cloud id gives the URL, credentials in the URL move into user and
    password, one kind of credentials, and so on."""

    def source(name: str) -> str:
        return sources[access.prefix + name]

    if access.cloud_id is not None:
        if access.url is not None and source("url") == source("cloud_id"):
            raise SettingsError(f"give either {access.flag('url')} or {access.flag('cloud_id')}, not both")
        if access.url is None or SOURCES.index(source("cloud_id")) < SOURCES.index(source("url")):
            access = replace(access, url=v.decode_cloud_id(access.cloud_id))
            sources[access.prefix + "url"] = source("cloud_id")
    if access.url and access.url != EMBEDDED:
        parts = urlsplit(access.url)
        if parts.username is not None:
            if access.user is not None:
                raise SettingsError(f"credentials are in both the {access.role}'s URL and {access.flag('user')}")
            password = Secret(unquote(parts.password)) if parts.password else access.password
            access = replace(access, url=redact_url(access.url), user=unquote(parts.username), password=password)
            sources[access.prefix + "user"] = sources[access.prefix + "password"] = source("url")
    methods = [name for name in ("api_key", "user", "bearer_token") if getattr(access, name) is not None]
    if len(methods) > 1:
        raise SettingsError(f"give one kind of credentials, not {' and '.join(access.flag(m) for m in methods)}")
    if (access.user is None) != (access.password is None):
        raise SettingsError(f"basic authentication needs both {access.flag('user')} and {access.flag('password')}")
    if access.client_key is not None and access.client_cert is None:
        raise SettingsError(f"{access.flag('client_key')} needs {access.flag('client_cert')}")
    if access.insecure and access.ca_certs is not None:
        raise SettingsError(f"{access.flag('insecure')} and {access.flag('ca_certs')} contradict each other")
    return access


def _validate(settings: Settings) -> None:
    """The rules between options of different blocks, and those that need more than the values."""
    reference = settings.reference
    if reference.url is not None and settings.expect_from is not None:
        raise SettingsError(
            f"give either {flag('reference_url')} (a live reference cluster) or {flag('expect_from')} "
            "(a recording), not both"
        )
    if reference.url is None:
        given = [o.flag for o in OPTIONS if o.block == "reference" and o.value(settings) not in (None, False)]
        if given:
            raise SettingsError(f"{', '.join(given)} need(s) {flag('reference_url')}")
    elif reference.embedded_version is not None and reference.url != EMBEDDED:
        raise SettingsError(f"{reference.flag('embedded_version')} needs {reference.flag('url')} embedded")
    target = settings.target
    if settings.readonly_api_key is not None and settings.readonly_api_key == target.api_key:
        raise SettingsError(f"{flag('readonly_api_key')} must be another key than {flag('api_key')}")
    # find_spec looks Hypothesis up without importing it: a run that does not explore never pays for it.
    if settings.explore and not _installed("hypothesis"):
        raise SettingsError(f"{flag('explore')} needs Hypothesis: {install_hint('explore')}")
    if settings.readonly_api_key is not None and target.embedded and target.credentials.authorization() is None:
        raise SettingsError(
            f"{flag('readonly_api_key')} with the embedded target needs the run's own credentials too "
            f"(for example {flag('api_key')} ID:KEY): only a secured target can refuse a read-only key"
        )


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
