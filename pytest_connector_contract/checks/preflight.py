"""Preflight: who the target is, which profile applies, and whether there is anything to test at all.

One request (``GET /``) plus one probe of the connector API decide it before any check runs, so an
unreachable or unsuitable target gives one clear message instead of a page of identical failures.
"""

from __future__ import annotations

from urllib.parse import quote

from pytest_connector_contract.checks.connectors import delete_for_good
from pytest_connector_contract.client.connector import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.config.settings import Access
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


class PreflightError(Exception):
    """The run cannot start against this target; the message says why and what to do."""


def identify(
    client: ConnectorClient,
    spec: Spec,
    *,
    profile: str,
    probe_id: str,
    embedded: bool = False,
    access: Access | None = None,
) -> TargetInfo:
    """Read ``GET /``, pick the profile, and make sure the connector API is there.

    ``access`` is the server's access block (the target's by default): messages name the server by its role
    and give the options that reach it."""
    access = Access() if access is None else access
    role = access.role
    url = client.display_url
    try:
        root = client.request("GET", "/", retry=True)
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
            hint = f"Check {access.flag('url')} and that the server is running."
        raise PreflightError(f"cannot reach the {role} {url}: {exc}. {hint}") from None
    proxy = client.transport.proxy_display
    if proxy is not None and root.status in (502, 503, 504) and "X-Elastic-Product" not in root.headers:
        raise PreflightError(
            f"GET / for the {role} {url} through the proxy {proxy} answered {root.summary()}: the proxy "
            "could not reach the target (or a gateway in front of it failed). Check that the server is "
            "running, and that it should be reached through this proxy (NO_PROXY names the hosts that "
            "are not)."
        )
    if root.status == 401:
        raise PreflightError(_refused(access, url, "GET /", root, client.authenticated))
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
        raise PreflightError(
            f"cannot tell which Elasticsearch version {url} behaves as: GET / answered "
            f"{root.summary()} without version.number. Pass --connector-profile {' or '.join(PROFILE_NAMES)}."
        )

    try:
        probe = client.get_connector(probe_id, retry=True)
    except TargetUnreachable as exc:
        raise PreflightError(f"the {role} {url} stopped answering: {exc}") from None
    if probe.status in (401, 403):
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
