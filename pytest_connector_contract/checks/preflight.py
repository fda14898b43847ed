"""Preflight: who the target is, which profile applies, and whether there is anything to test at all.

One request (``GET /``) plus one probe of the connector API decide it before any check runs, so an
unreachable or unsuitable target gives one clear message instead of a page of identical failures.

A target that is still starting (``--connector-wait SECONDS``) is asked again until it is ready or the time is
up: a refused or reset connection, HTTP 503, a ``GET /`` without a version and HTTP 401 (a secured cluster
refuses every key until its security index is up) are what a starting Elasticsearch answers. Ready means
``GET /`` answers with a version and the connector API answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from pytest_connector_contract.checks.factory import delete_for_good
from pytest_connector_contract.client.api import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.config.settings import Access, flag
from pytest_connector_contract.contract.spec import Spec, version_text
from pytest_connector_contract.contract.target import (
    MINIMUM_RELEASE,
    MINIMUM_VERSION,
    PROFILE_NAMES,
    SERVERLESS,
    BelowMinimum,
    TargetInfo,
    choose_profile,
    read_root,
)

__all__ = ["PreflightError", "identify"]

#: seconds between two attempts while waiting for a target that is still starting
POLL_INTERVAL = 0.5


class PreflightError(Exception):
    """The run cannot start against this target; the message says why and what to do."""


class NotReady(PreflightError):
    """What a target that is still starting answers; ``reason`` says in a few words what the run waits for."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def identify(
    client: ConnectorClient,
    spec: Spec,
    *,
    profile: str,
    probe_id: str,
    embedded: bool = False,
    access: Access | None = None,
    wait: float = 0.0,
    say: Callable[[str], None] | None = None,
) -> TargetInfo:
    """Read ``GET /``, pick the profile, and make sure the connector API is there.

    ``access`` is the server's access block (the target's by default): messages name the server by its role
    and give the options that reach it. ``wait``: seconds to keep asking a target that is still starting
    (see the module); ``say`` is told each new reason to wait once, not each attempt."""
    access = Access() if access is None else access
    deadline = time.monotonic() + wait
    said: set[str] = set()
    while True:
        try:
            return _identify(client, spec, profile, probe_id, embedded, access, patient=wait > 0)
        except NotReady as exc:
            remaining = deadline - time.monotonic()
            if wait <= 0:
                raise
            if remaining <= 0:
                raise PreflightError(
                    f"the {access.role} {client.display_url} was not ready after {wait:g} s ({flag('wait')}); "
                    f"the last answer: {exc}"
                ) from None
            if say is not None and exc.reason not in said:
                said.add(exc.reason)
                say(f"connector-contract: waiting for the {access.role} {client.display_url}: {exc.reason}")
            time.sleep(min(POLL_INTERVAL, remaining))


def _identify(
    client: ConnectorClient, spec: Spec, profile: str, probe_id: str, embedded: bool, access: Access, *, patient: bool
) -> TargetInfo:
    """One attempt of :func:`identify`; raises :class:`NotReady` for what a starting target answers.
    ``patient``: the caller asks again, so a request is sent once instead of being retried with backoff."""
    role = access.role
    url = client.display_url
    try:
        root = client.request("GET", "/", retry=not patient)
    except TargetUnreachable as exc:
        if "through the proxy" in str(exc):
            hint = (
                f"Check {access.flag('proxy')}, or HTTPS_PROXY / HTTP_PROXY (NO_PROXY names the hosts reached "
                "without the proxy)."
            )
        elif "TLS failure" in str(exc):
            hint = (
                f"Give the CA that signed its certificate with {access.flag('ca_certs')} (or, for a throw-away "
                f"cluster only, {access.flag('insecure')})."
            )
        else:
            hint = (
                f"Check {access.flag('url')} and that the server is running (if it is still starting, "
                f"{flag('wait')} SECONDS waits for it)."
            )
            raise NotReady(f"cannot reach the {role} {url}: {exc}. {hint}", _unreachable(exc)) from None
        raise PreflightError(f"cannot reach the {role} {url}: {exc}. {hint}") from None
    proxy = client.transport.proxy_display
    if patient and root.status == 503 and (proxy is None or "X-Elastic-Product" in root.headers):
        raise NotReady(
            f"GET / for the {role} {url} answered {root.summary()}: it is not ready (still starting?); "
            f"{flag('wait')} SECONDS waits for it",
            "GET / answers HTTP 503",
        )
    if proxy is not None and root.status in (502, 503, 504) and "X-Elastic-Product" not in root.headers:
        raise PreflightError(
            f"GET / for the {role} {url} through the proxy {proxy} answered {root.summary()}: the proxy "
            "could not reach the target (or a gateway in front of it failed). Check that the server is "
            "running, and that it should be reached through this proxy (NO_PROXY names the hosts that "
            "are not)."
        )
    if root.status == 401:
        raise NotReady(_refused(access, url, "GET /", root, client.authenticated), _REFUSED)
    if root.status == 403 and profile == "auto":
        raise PreflightError(
            f"the {role} {url} refused GET / (HTTP 403): the credentials lack the monitor privilege, so the "
            f"version (and the profile) cannot be read. Grant monitor, or pass --connector-profile. "
            f"{root.summary()}"
        )
    found = read_root(root.status, root.json)
    try:
        matched = choose_profile(spec, found.version_tuple, found.build_flavor)
    except BelowMinimum:
        raise PreflightError(
            f"the {role} {url} runs Elasticsearch {found.version}, older than {MINIMUM_RELEASE}: "
            f"PUT _connector/<id>/_status first appeared in {version_text(MINIMUM_VERSION)}, so there is "
            "nothing to test."
        ) from None
    if profile != "auto":
        chosen, source = profile, "option"
    elif matched is not None:
        chosen, source = matched.name, "serverless" if found.build_flavor == SERVERLESS else "version"
    else:
        raise NotReady(
            f"cannot tell which Elasticsearch version {url} behaves as: GET / answered "
            f"{root.summary()} without version.number. Pass --connector-profile {' or '.join(PROFILE_NAMES)}.",
            "GET / answers without a version",
        )

    try:
        probe = client.get_connector(probe_id, retry=not patient)
    except TargetUnreachable as exc:
        raise NotReady(f"the {role} {url} stopped answering: {exc}", _unreachable(exc)) from None
    if probe.status == 503 and patient:
        raise NotReady(
            f"the {role} {url} answered GET _connector/<id> with {probe.summary()}", "the connector API answers 503"
        )
    if probe.status == 401:
        raise NotReady(_refused(access, url, "GET _connector/<id>", probe, client.authenticated), _REFUSED)
    if probe.status == 403:
        raise PreflightError(_refused(access, url, "GET _connector/<id>", probe, client.authenticated))
    if probe.status == 200:
        raise PreflightError(
            f"a connector with the run's probe id {probe_id!r} already exists on {url}; "
            "choose another --connector-id-prefix."
        )
    if probe.status != 404 or probe.error_type != "resource_not_found_exception":
        no_handler = isinstance(probe.error, str) and "no handler found" in probe.error
        what = (
            "has no connector API"
            if no_handler or probe.status in (404, 405)
            else (
                "does not answer GET _connector/<id> as Elasticsearch does, so the run cannot tell which ids are free"
            )
        )
        raise PreflightError(
            f"the {role} {url} {what}: GET /_connector/{quote(probe_id)} answered "
            f"{probe.summary()} (expected 404 resource_not_found_exception)."
        )
    target = TargetInfo(
        url=url,
        product=root.headers.get("X-Elastic-Product"),
        version=found.version,
        build_flavor=found.build_flavor,
        profile=chosen,
        profile_source=source,
        embedded=embedded,
        build_hash=found.build_hash,
    )
    _probe_status_endpoint(client, url, probe_id, access, target.soft_delete)
    return target


def _probe_status_endpoint(
    client: ConnectorClient, url: str, probe_id: str, access: Access, soft_delete: bool | None
) -> None:
    """A valid update for the probe id, which GET just showed missing: Elasticsearch answers 404."""
    role = access.role
    try:
        answer = client.update_status(probe_id, "needs_configuration", retry=True)
    except TargetUnreachable as exc:
        raise PreflightError(f"the {role} {url} stopped answering: {exc}") from None
    if 200 <= answer.status < 300:
        # The target created the probe connector (an upsert): it carries the run's prefix, so removing it
        # is ours to do, the way the run deletes (one that remains has the shape the sweep removes); the
        # not_found checks will report the deviation.
        try:
            delete_for_good(client, probe_id, soft_delete)
        except TargetUnreachable as exc:
            raise PreflightError(f"the {role} {url} stopped answering: {exc}") from None
        return
    if answer.status in (401, 403):
        raise PreflightError(_refused(access, url, "PUT _connector/<id>/_status", answer, client.authenticated))
    no_handler = isinstance(answer.error, str) and "no handler found" in answer.error
    if no_handler or answer.status == 405:
        raise PreflightError(
            f"the {role} {url} has the connector API but no PUT _connector/<id>/_status endpoint (it appeared "
            f"in Elasticsearch {MINIMUM_RELEASE}): PUT /_connector/{quote(probe_id)}/_status answered "
            f"{answer.summary()}."
        )


#: the reason to wait for a 401: a secured cluster refuses every key until its security index is up
_REFUSED = "HTTP 401: the credentials are refused (a secured cluster refuses keys until its security index is up)"


def _unreachable(exc: TargetUnreachable) -> str:
    """A few words on why a request got no answer (the reason after the URL: refused, reset, timed out)."""
    reason = str(exc).partition(": ")[2] or str(exc)
    return f"no answer ({reason})"


def _refused(access: Access, url: str, what: str, answer: ApiResponse, authenticated: bool) -> str:
    """One message for a 401 or 403: what was refused and what to do about it."""
    role = access.role
    if answer.status == 401:
        if authenticated:
            advice = "the credentials were refused: check the API key, user and password, or bearer token"
        else:
            advice = (
                f"the {role} requires credentials: give {access.flag('api_key')} (or {access.env('api_key')}), "
                f"{access.flag('user')} and {access.flag('password')}, or {access.flag('bearer_token')}"
            )
        return f"the {role} {url} answered {what} with HTTP 401: {advice}. {answer.summary()}"
    return (
        f"the {role} {url} answered {what} with HTTP 403: the credentials lack the manage_connector cluster "
        f"privilege, which the suite needs to create, update and delete its connectors. {answer.summary()}"
    )
