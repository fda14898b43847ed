"""Credentials, their encodings and their redaction: a credential is a :class:`Secret` that never prints itself,
a URL is only ever shown without its user and password, an Elasticsearch API key has one encoded form, and
:class:`Credentials` turn into one ``Authorization`` header and into every form to redact.

This module is a leaf: the settings, the client and the reference target all read credentials through it.

What is redacted where:

- **Headers**: the values of ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and
  ``ES-Secondary-Authorization`` are always replaced whole, whatever the credential's length.
- **URLs**: the user info of a URL is always removed (:func:`redact_url`; in free text,
  :data:`URL_USER_INFO`), whatever its length.
- **Free text** (a target's echoes, exception messages): each credential in every form it can take
  there (:func:`text_forms`: as is, JSON-escaped, URL-encoded; plus the base64 forms an ``Authorization``
  header carries) is replaced wherever it occurs, when the form is at least :data:`MIN_FREE_TEXT_LENGTH`
  characters long: a shorter one cannot be told apart from ordinary text, and replacing it everywhere
  would garble every message. (The base64 forms of even a short password are long enough.)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

__all__ = [
    "MIN_FREE_TEXT_LENGTH",
    "REDACTED",
    "URL_USER_INFO",
    "Credentials",
    "Secret",
    "api_key_forms",
    "basic_credentials",
    "free_text_forms",
    "redact_url",
    "text_forms",
    "url_secrets",
]

#: what a credential is shown as, wherever it would otherwise appear
REDACTED = "<redacted>"

#: the shortest form of a credential that free-text redaction replaces (headers and URLs: any length)
MIN_FREE_TEXT_LENGTH = 4
#: the user info of any URL in a text (``scheme://user:password@``), removed whatever its length
URL_USER_INFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@\"'<>]*@")


class Secret:
    """A credential: shown as :data:`REDACTED` by repr, str and format, so no traceback or report prints it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

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


def text_forms(value: str) -> list[str]:
    """``value`` in every form it can take in a text: as is, JSON-escaped (with and without ``\\uXXXX``
    escapes) and URL-encoded (as a path or query part, and as a form field)."""
    forms = [
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
    ]
    return list(dict.fromkeys(forms))


def free_text_forms(values: Iterable[str]) -> list[str]:
    """The :func:`text_forms` of each value that free-text redaction replaces (long enough, see above)."""
    found = [form for value in values if value for form in text_forms(value)]
    return [form for form in dict.fromkeys(found) if len(form) >= MIN_FREE_TEXT_LENGTH]


def basic_credentials(user: str, password: str, encoding: str = "utf-8") -> str:
    """``user:password`` base64-encoded, as a Basic ``Authorization`` (or ``Proxy-Authorization``) header
    carries it."""
    return base64.b64encode(f"{user}:{password}".encode(encoding, "replace")).decode("ascii")


def url_secrets(url: str) -> list[str]:
    """The password of a URL's user info in every form it can take in text: as written, decoded, as
    ``user:password`` and base64-encoded as a Basic (or Proxy-Authorization) header carries it (requests
    encodes it as latin-1, the client's own Basic header as UTF-8), each also JSON-escaped and URL-encoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if parts.password is None:
        return []
    user, password = unquote(parts.username or ""), unquote(parts.password)
    forms = [parts.password, password, f"{parts.username}:{parts.password}", f"{user}:{password}"]
    forms += [basic_credentials(user, password, "latin-1"), basic_credentials(user, password)]
    return free_text_forms(forms)


def _encode_api_key(pair: str) -> str:
    """``id:api_key`` -> the base64 form clients send as ``Authorization: ApiKey <encoded>`` (and that
    Elasticsearch's create-API-key answer calls ``encoded``)."""
    return base64.b64encode(pair.encode()).decode("ascii")


def api_key_forms(key: str) -> tuple[str, str | None]:
    """An API key as given (encoded, or ``id:api_key``) -> its encoded form and its ``id:api_key`` (None when
    an encoded key does not decode to one). A key with a colon is ``id:api_key``: the one place that says so."""
    if ":" in key:
        return _encode_api_key(key), key
    try:
        decoded = base64.b64decode(key, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return key, None
    return key, decoded if ":" in decoded and decoded.isprintable() else None


@dataclass(frozen=True)
class Credentials:
    """One kind of credentials (or none) for one cluster, as the options give them."""

    api_key: Secret | None = None
    user: str | None = None
    password: Secret | None = None
    bearer_token: Secret | None = None

    def authorization(self) -> Secret | None:
        """The ``Authorization`` header value for these credentials, if any."""
        if self.api_key is not None:
            return Secret(f"ApiKey {api_key_forms(self.api_key.reveal())[0]}")
        if self.user is not None and self.password is not None:
            return Secret(f"Basic {basic_credentials(self.user, self.password.reveal())}")
        if self.bearer_token is not None:
            return Secret(f"Bearer {self.bearer_token.reveal()}")
        return None

    def forms(self) -> list[str]:
        """Every form in which these credentials could appear in free text, for redaction: each credential and
        the values its ``Authorization`` header carries (an API key encoded and as ``id:key``, and the key
        without its id, which is no secret; ``user:password`` base64-encoded), each as is, JSON-escaped and
        URL-encoded; only forms of :data:`MIN_FREE_TEXT_LENGTH` characters or more."""
        found = [secret.reveal() for secret in (self.password, self.bearer_token) if secret is not None]
        if self.user is not None and self.password is not None:
            found += [basic_credentials(self.user, self.password.reveal()), f"{self.user}:{self.password.reveal()}"]
        if self.api_key is not None:
            encoded, pair = api_key_forms(self.api_key.reveal())
            found += [self.api_key.reveal(), encoded]
            if pair is not None:
                found += [pair, pair.partition(":")[2]]
        return free_text_forms(found)
