"""Elasticsearch security as the reference target emulates it: credentials, principals, cluster privileges.

Security is off unless a :class:`Security` is given to
:class:`~pytest_connector_contract.reference.endpoints.ReferenceTarget`::

    security = Security(
        api_keys=[
            ApiKey("ci", "s3cret"),  # manage_connector + monitor: may use every endpoint
            ApiKey("ro", "s3cret2", privileges=CONNECTOR_READ_ONLY),  # GET only
        ],
        users=[User("elastic", "changeme")],  # superuser: privilege "all"
        bearer_tokens=[BearerToken("tok3n", user="connector-service", privileges=CONNECTOR_ADMIN)],
    )
    target = ReferenceTarget(security=security)

Each principal holds a set of *cluster privileges*. They grant *actions* (the transport action each REST
endpoint runs) exactly as Elasticsearch's ``ClusterPrivilegeResolver`` defines them (see
:data:`CLUSTER_PRIVILEGES`); an Elasticsearch action name or pattern (``cluster:admin/xpack/connector/get``)
is accepted as a privilege too, as Elasticsearch accepts it in a role.

Like the rest of the reference, this module knows nothing of HTTP servers or pytest; it also knows nothing
of error bodies: :meth:`Security.authenticate` raises :class:`AuthenticationFailed` with Elasticsearch's
wording and the target renders it.
"""

from __future__ import annotations

import base64
import fnmatch
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_connector_contract.config.credentials import api_key_forms

__all__ = [
    "ACTION_CONNECTOR_DELETE",
    "ACTION_CONNECTOR_GET",
    "ACTION_CONNECTOR_LIST",
    "ACTION_CONNECTOR_POST",
    "ACTION_CONNECTOR_PUT",
    "ACTION_CONNECTOR_UPDATE_ERROR",
    "ACTION_CONNECTOR_UPDATE_STATUS",
    "ACTION_MAIN",
    "CLUSTER_PRIVILEGES",
    "CONNECTOR_ADMIN",
    "CONNECTOR_READ_ONLY",
    "SUPERUSER",
    "ApiKey",
    "AuthenticationFailed",
    "BearerToken",
    "Principal",
    "Security",
    "User",
    "granting_privileges",
]

# Transport action names of the endpoints the reference serves (the ``NAME`` constants of
# RestMainAction's TransportMainAction and of the ent-search connector actions).
ACTION_MAIN = "cluster:monitor/main"
ACTION_CONNECTOR_GET = "cluster:admin/xpack/connector/get"
ACTION_CONNECTOR_LIST = "cluster:admin/xpack/connector/list"
ACTION_CONNECTOR_PUT = "cluster:admin/xpack/connector/put"
ACTION_CONNECTOR_POST = "cluster:admin/xpack/connector/post"
ACTION_CONNECTOR_DELETE = "cluster:admin/xpack/connector/delete"
ACTION_CONNECTOR_UPDATE_STATUS = "cluster:admin/xpack/connector/update_status"
ACTION_CONNECTOR_UPDATE_ERROR = "cluster:admin/xpack/connector/update_error"

_ALL_CLUSTER = ("cluster:*", "indices:admin/template/*", "indices:admin/index_template/*")

#: Named cluster privileges: (action patterns granted, action patterns excluded), as
#: ``ClusterPrivilegeResolver`` declares them. Ordered from least to most privileged, the order in which
#: Elasticsearch lists "this action is granted by the cluster privileges [...]".
CLUSTER_PRIVILEGES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "monitor_connector": (
        (
            "cluster:admin/xpack/connector/get",
            "cluster:admin/xpack/connector/list",
            "cluster:admin/xpack/connector/sync_job/get",
            "cluster:admin/xpack/connector/sync_job/list",
        ),
        (),
    ),
    "manage_connector": (
        ("cluster:admin/xpack/connector/*",),
        (
            "cluster:admin/xpack/connector/secret/get",
            "cluster:admin/xpack/connector/secret/delete",
            "cluster:admin/xpack/connector/secret/post",
            "cluster:admin/xpack/connector/secret/put",
        ),
    ),
    "monitor": (
        (
            "cluster:monitor/*",
            "indices:admin/template/get",
            "indices:admin/index_template/get",
            "cluster:admin/component_template/get",
        ),
        (),
    ),
    "manage": (_ALL_CLUSTER, ("cluster:admin/xpack/security/*",)),
    "all": (_ALL_CLUSTER, ()),
}

#: What a connector service needs: every connector endpoint, plus ``GET /`` (``monitor``).
CONNECTOR_ADMIN = frozenset({"manage_connector", "monitor"})
#: Reads only: ``GET _connector``, ``GET _connector/<id>`` and ``GET /``.
CONNECTOR_READ_ONLY = frozenset({"monitor_connector", "monitor"})
#: The ``superuser`` role's cluster privilege.
SUPERUSER = frozenset({"all"})


def _check_privileges(privileges: Iterable[str]) -> frozenset[str]:
    names = frozenset(p.lower() for p in privileges)
    for name in names:
        if name not in CLUSTER_PRIVILEGES and not _is_cluster_action(name):
            raise ValueError(
                f"unknown cluster privilege [{name}]. a privilege must be either one of the predefined cluster "
                f"privilege names [{','.join(CLUSTER_PRIVILEGES)}] or a pattern over one of the available cluster "
                "actions"
            )
    return names


def _is_cluster_action(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _ALL_CLUSTER)


def _privilege_grants(privilege: str, action: str) -> bool:
    if privilege in CLUSTER_PRIVILEGES:
        granted, excluded = CLUSTER_PRIVILEGES[privilege]
    else:  # an action name used as a privilege: Elasticsearch makes it the pattern "<name>*"
        granted, excluded = (privilege + "*",), ()
    return any(fnmatch.fnmatchcase(action, p) for p in granted) and not any(
        fnmatch.fnmatchcase(action, p) for p in excluded
    )


def granting_privileges(action: str) -> list[str]:
    """The named privileges that grant ``action``, least privileged first (as in 403 messages)."""
    return [name for name in CLUSTER_PRIVILEGES if _privilege_grants(name, action)]


# ------------------------------------------------------------------------------------ credentials


@dataclass(frozen=True)
class ApiKey:
    """An API key: clients send ``Authorization: ApiKey <base64("id:secret")>`` (:attr:`encoded`).

    ``owner`` is the user who created the key; Elasticsearch names both in 403 messages
    (``API key id [ro] of user [tester]``).
    """

    id: str
    secret: str = field(repr=False)
    privileges: frozenset[str] = CONNECTOR_ADMIN
    owner: str = "connector-contract"

    def __post_init__(self) -> None:
        if not self.id or ":" in self.id:
            raise ValueError("an API key id must be non-empty and contain no ':'")
        object.__setattr__(self, "privileges", _check_privileges(self.privileges))

    @property
    def encoded(self) -> str:
        """The form clients send, and the ``encoded`` field of Elasticsearch's create-API-key answer."""
        return api_key_forms(f"{self.id}:{self.secret}")[0]

    @classmethod
    def parse(cls, text: str, *, privileges: Iterable[str] = CONNECTOR_ADMIN, owner: str | None = None) -> ApiKey:
        """An API key from ``id:secret`` or from its encoded form. The error never repeats the text."""
        key_id, sep, secret = (api_key_forms(text.strip())[1] or "").partition(":")
        if not sep or not key_id or not secret:
            raise ValueError("an API key must be given as ID:KEY or in its base64-encoded form")
        if owner is None:
            return cls(key_id, secret, frozenset(privileges))
        return cls(key_id, secret, frozenset(privileges), owner)


@dataclass(frozen=True)
class User:
    """A user of the native realm, authenticated with ``Authorization: Basic`` (name and password)."""

    name: str
    password: str = field(repr=False)
    privileges: frozenset[str] = SUPERUSER
    roles: tuple[str, ...] = ("superuser",)

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name:
            raise ValueError("a user name must be non-empty and contain no ':'")
        object.__setattr__(self, "privileges", _check_privileges(self.privileges))

    @classmethod
    def parse(cls, text: str, *, privileges: Iterable[str] = SUPERUSER) -> User:
        """A user from ``name:password``. The error never repeats the text."""
        name, sep, password = text.partition(":")
        if not sep or not name or not password:
            raise ValueError("a user must be given as NAME:PASSWORD")
        return cls(name, password, frozenset(privileges))


@dataclass(frozen=True)
class BearerToken:
    """An OAuth2 access token (``Authorization: Bearer <token>``), acting as ``user``."""

    token: str = field(repr=False)
    user: str
    privileges: frozenset[str] = CONNECTOR_ADMIN
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("a bearer token must not be empty")
        object.__setattr__(self, "privileges", _check_privileges(self.privileges))


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: a user, or an API key (which belongs to a user)."""

    username: str
    privileges: frozenset[str]
    roles: tuple[str, ...] = ()
    api_key_id: str | None = None

    def may(self, action: str) -> bool:
        """Whether one of the principal's privileges grants ``action``."""
        return any(_privilege_grants(p, action) for p in self.privileges)

    def describe(self) -> str:
        """How Elasticsearch names the principal in a 403 (``AuthorizationDenialMessages``)."""
        if self.api_key_id is not None:
            return f"API key id [{self.api_key_id}] of user [{self.username}]"
        return f"user [{self.username}] with effective roles [{','.join(sorted(self.roles))}]"


class AuthenticationFailed(Exception):
    """A 401: ``reason`` and the optional cause / metadata as Elasticsearch words them."""

    def __init__(
        self, reason: str, caused_by: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.caused_by = caused_by
        self.metadata = dict(metadata or {})


_ANONYMOUS_REFUSED = (
    "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
)


class Security:
    """The credentials a secured reference target accepts. Immutable, so safe to share across threads."""

    def __init__(
        self,
        *,
        api_keys: Iterable[ApiKey] = (),
        users: Iterable[User] = (),
        bearer_tokens: Iterable[BearerToken] = (),
    ) -> None:
        self.api_keys: Mapping[str, ApiKey] = _unique(api_keys, lambda k: k.id, "API key id")
        self.users: Mapping[str, User] = _unique(users, lambda u: u.name, "user")
        self.bearer_tokens: tuple[BearerToken, ...] = tuple(bearer_tokens)

    def __repr__(self) -> str:  # names only: never a secret
        return (
            f"Security(api_keys={sorted(self.api_keys)!r}, users={sorted(self.users)!r}, "
            f"bearer_tokens={len(self.bearer_tokens)})"
        )

    def authenticate(self, authorization: str | None, uri: str) -> Principal:
        """The principal an ``Authorization`` header stands for; raises :class:`AuthenticationFailed`.

        Follows Elasticsearch's authenticator chain: the header's scheme (case-insensitive) picks the
        credential type; a header none of them reads counts as no credentials at all.
        """
        header = authorization or ""
        if _has_scheme(header, "ApiKey "):
            return self._api_key(header[len("ApiKey ") :])
        if _has_scheme(header, "Bearer "):
            return self._bearer(header[len("Bearer ") :])
        if header[: len("Basic ")].lower() == "basic ":
            return self._basic(header[len("Basic ") :].strip(), uri)
        raise AuthenticationFailed(f"missing authentication credentials for REST request [{uri}]")

    def _api_key(self, value: str) -> Principal:
        try:
            text = _java_base64_decode(value).decode("utf-8", "replace")
            key_id, sep, secret = text.partition(":")
            if not sep or not key_id:
                raise ValueError("invalid ApiKey value")
        except ValueError as exc:
            raise AuthenticationFailed(
                "error attempting to authenticate request",
                {"type": "illegal_argument_exception", "reason": str(exc)},
            ) from None
        key = self.api_keys.get(key_id)
        if key is None:
            unsuccessful = f"unable to find apikey with id {key_id}"
        elif not _same(secret, key.secret):
            unsuccessful = f"invalid credentials for API key [{key_id}]"
        else:
            return Principal(key.owner, key.privileges, api_key_id=key.id)
        raise AuthenticationFailed(
            _ANONYMOUS_REFUSED, metadata={"additional_unsuccessful_credentials": f"API key: {unsuccessful}"}
        )

    def _bearer(self, token: str) -> Principal:
        for known in self.bearer_tokens:
            if _same(token, known.token):
                return Principal(known.user, known.privileges, known.roles)
        raise AuthenticationFailed(_ANONYMOUS_REFUSED)

    def _basic(self, value: str, uri: str) -> Principal:
        try:
            text = _java_base64_decode(value).decode("utf-8", "replace")
        except ValueError as exc:
            raise AuthenticationFailed(
                "invalid basic authentication header encoding",
                {"type": "illegal_argument_exception", "reason": str(exc)},
            ) from None
        name, sep, password = text.partition(":")
        if not sep:
            raise AuthenticationFailed("invalid basic authentication header value")
        user = self.users.get(name)
        if user is None or not _same(password, user.password):
            raise AuthenticationFailed(f"unable to authenticate user [{name}] for REST request [{uri}]")
        return Principal(user.name, user.privileges, user.roles)


def _unique(items: Iterable[Any], key: Any, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name = key(item)
        if name in out:
            raise ValueError(f"{what} [{name}] is given twice")
        out[name] = item
    return out


def _has_scheme(header: str, prefix: str) -> bool:
    """``regionMatches(true, 0, prefix, ...)`` with something after the prefix."""
    return header[: len(prefix)].lower() == prefix.lower() and len(header) > len(prefix)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _java_base64_decode(text: str) -> bytes:
    """``java.util.Base64.getDecoder().decode(String)``: padding optional, nothing else tolerated, and
    Java's messages (``Illegal base64 character 5f`` for a URL-safe key) in the ValueError."""
    data = text.encode("latin-1", "replace")
    if len(data) == 1:
        raise ValueError("Input byte[] should at least have 2 bytes for base64 bytes")
    pos = 0
    while pos < len(data) and data[pos] != ord("="):
        if data[pos] not in _B64_ALPHABET:
            raise ValueError(f"Illegal base64 character {data[pos]:x}")
        pos += 1
    body = data[:pos]
    rem = len(body) % 4
    if pos < len(data):  # padding
        if rem == 0 or (rem == 2 and data[pos + 1 : pos + 2] != b"="):
            raise ValueError("Input byte array has wrong 4-byte ending unit")
        pos += 2 if rem == 2 else 1
    if rem == 1:
        raise ValueError("Last unit does not have enough valid bits")
    if pos < len(data):
        raise ValueError(f"Input byte array has incorrect ending byte at {pos}")
    return base64.b64decode(body + b"=" * (-len(body) % 4))
