"""Preflight: who the target is, which profile applies, and whether there is anything to test at all.

One request (``GET /``) plus one probe of the connector API decide it before any check runs, so an
unreachable or unsuitable target gives one clear message instead of a page of identical failures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from pytest_connector_contract.client.connector import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.config.settings import Access
from pytest_connector_contract.contract.spec import NEWEST, Spec, deletes_softly, parse_version

__all__ = ["PreflightError", "TargetInfo", "identify"]


class PreflightError(Exception):
    """The run cannot start against this target; the message says why and what to do."""


@dataclass(frozen=True)
class TargetInfo:
    url: str  # without credentials
    product: str | None
    version: str | None
    build_flavor: str | None
    profile: str
    profile_source: str  # "version", "serverless", "option"
    embedded: bool = False
    build_hash: str | None = None

    @property
    def version_tuple(self) -> tuple[int, int, int] | None:
        return parse_version(self.version) if self.version else None

    def release(self, spec: Spec) -> tuple[int, int, int]:
        """The release whose answers the expectations follow: Serverless runs the newest code whatever number
        it reports; an unknown version (no ``monitor``, ``--connector-profile`` given) counts as the oldest
        release of the chosen profile, whose known deviations then stay tolerated."""
        if self.build_flavor == "serverless":
            return NEWEST
        version = self.version_tuple
        if version is not None:
            return version
        low = spec.profiles[self.profile].applies_to.min
        return low if low is not None else spec.minimum_version

    @property
    def soft_delete(self) -> bool | None:
        """Whether a plain DELETE only marks the connector deleted (9.0+); None when the version is unknown."""
        return deletes_softly(self.version_tuple, self.build_flavor)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        return cls(**data)


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
    info: dict[str, Any] = root.json if root.status == 200 and isinstance(root.json, dict) else {}
    version_data: dict[str, Any] = info["version"] if isinstance(info.get("version"), dict) else {}
    version = version_data.get("number") if isinstance(version_data.get("number"), str) else None
    flavor = version_data.get("build_flavor") if isinstance(version_data.get("build_flavor"), str) else None
    product = root.headers.get("X-Elastic-Product")

    parsed = parse_version(version) if version else None
    if flavor == "serverless":
        # Serverless reports a version number that means nothing (it was pinned to 8.11.0 for years).
        chosen, source = spec.newest_profile, "serverless"
    elif parsed is not None and parsed < spec.minimum_version:
        raise PreflightError(
            f"the {role} {url} runs Elasticsearch {version}, older than 8.13: PUT _connector/<id>/_status "
            "first appeared in 8.13.0, so there is nothing to test."
        )
    elif parsed is not None:
        matched = spec.profile_for_version(parsed)
        assert matched is not None
        chosen, source = matched.name, "version"
    else:
        chosen, source = spec.newest_profile, "default"
    if profile != "auto":
        chosen, source = profile, "option"
    elif source == "default":
        raise PreflightError(
            f"cannot tell which Elasticsearch version {url} behaves as: GET / answered "
            f"{root.summary()} without version.number. Pass --connector-profile 8.13 or 8.15."
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
    _probe_status_endpoint(client, url, probe_id, access)
    return TargetInfo(
        url=url,
        product=product,
        version=version,
        build_flavor=flavor,
        profile=chosen,
        profile_source=source,
        embedded=embedded,
        build_hash=version_data.get("build_hash") if isinstance(version_data.get("build_hash"), str) else None,
    )


def _probe_status_endpoint(client: ConnectorClient, url: str, probe_id: str, access: Access) -> None:
    """A valid update for the probe id, which GET just showed missing: Elasticsearch answers 404."""
    role = access.role
    try:
        answer = client.update_status(probe_id, "needs_configuration", retry=True)
    except TargetUnreachable as exc:
        raise PreflightError(f"the {role} {url} stopped answering: {exc}") from None
    if 200 <= answer.status < 300:
        # The target created the probe connector (an upsert): it carries the run's prefix, so removing it
        # is ours to do; the not_found checks will report the deviation.
        client.delete_connector(probe_id, hard=True)
        client.delete_connector(probe_id)
        return
    if answer.status in (401, 403):
        raise PreflightError(_refused(access, url, "PUT _connector/<id>/_status", answer, client.authenticated))
    no_handler = isinstance(answer.error, str) and "no handler found" in answer.error
    if no_handler or answer.status == 405:
        raise PreflightError(
            f"the {role} {url} has the connector API but no PUT _connector/<id>/_status endpoint (it appeared "
            f"in Elasticsearch 8.13): PUT /_connector/{quote(probe_id)}/_status answered {answer.summary()}."
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
