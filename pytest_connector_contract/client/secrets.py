"""Credentials and their redaction: a credential is a :class:`Secret` that never prints itself, a URL is only
ever shown without its user and password, and an Elasticsearch API key has one encoded form."""

from __future__ import annotations

import base64
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["Secret", "encode_api_key", "redact_url", "url_secrets"]


class Secret:
    """A credential: shown as ``<redacted>`` by repr, str and format, so no traceback or report prints it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """The URL with any user name and password removed: the only form of it that may be shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # host and port as written (also a port out of range)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The password of a URL's user info in every form it can take in text: as written, decoded, as
    ``user:password`` and base64-encoded as a Basic (or Proxy-Authorization) header carries it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if parts.password is None:
        return []
    user, password = unquote(parts.username or ""), unquote(parts.password)
    pair = f"{user}:{password}"
    forms = [parts.password, password, f"{parts.username}:{parts.password}", pair]
    forms.append(base64.b64encode(pair.encode("latin-1", "replace")).decode())
    return [form for form in forms if len(form) >= 4]


def encode_api_key(key: str) -> str:
    """``id:api_key`` -> the base64 form clients send as ``Authorization: ApiKey <encoded>`` (and that
    Elasticsearch's create-API-key answer calls ``encoded``)."""
    return base64.b64encode(key.encode()).decode("ascii")
