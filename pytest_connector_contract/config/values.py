"""What one option's value may be: each parser turns the text of a flag, environment variable or ini key into
a value, or raises ``argparse.ArgumentTypeError`` with a message that says how to fix it."""

from __future__ import annotations

import argparse
import base64
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pytest_connector_contract.config.credentials import Secret, redact_url
from pytest_connector_contract.contract.spec import parse_version, version_text
from pytest_connector_contract.contract.target import MINIMUM_VERSION, PROFILE_NAMES

#: the --connector-url that means the bundled reference target, started in-process
EMBEDDED = "embedded"
PROFILES = ("auto", *PROFILE_NAMES)
#: checks in flight at once in one process at most
MAX_CONCURRENCY = 256
#: reruns of an errored check at most (--connector-rerun-errors)
MAX_RERUNS = 10


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
    version = parse_version(value)
    if version is None or version < MINIMUM_VERSION:
        raise argparse.ArgumentTypeError(
            f"{value!r}: the reference target emulates Elasticsearch {version_text(MINIMUM_VERSION)} or newer "
            "(for example 9.1.0)"
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


def parse_rerun_errors(value: str) -> int:
    return _parse_int(value, "a number of reruns", 0, MAX_RERUNS)


def parse_wait(value: str) -> float:
    return parse_number(value, "seconds", minimum=0, maximum=3600, exclusive=False)


_IMPLEMENTATION = re.compile(r"^([^@\s]+)@([^@\s]+)$")


def parse_implementation(value: str) -> str:
    """``NAME@VERSION`` (``my-gateway@2.4.1``): what was tested, when ``GET /`` names something else (a proxy
    answers with its backend's identity)."""
    value = value.strip()
    if not _IMPLEMENTATION.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not NAME@VERSION: name what was tested and its version, for example my-gateway@2.4.1 "
            "(no spaces, one '@')"
        )
    return value


def parse_budget(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{value!r}: a time budget must be more than 0 s")
    return seconds
