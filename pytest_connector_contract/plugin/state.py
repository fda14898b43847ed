"""What one pytest process knows about the run, kept in ``config.stash`` under typed keys.

The hooks, the gate, the JUnit and pytest-html glue all read the run from here, so none of them imports another.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_connector_contract.checks import extended
from pytest_connector_contract.checks.execute import LiveReference, Outcome, Reference, execute
from pytest_connector_contract.checks.factory import ConnectorFactory, Ledger
from pytest_connector_contract.checks.preflight import identify
from pytest_connector_contract.checks.run import Run
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.client.api import ConnectorClient, RateLimiter, client_for, run_limiter
from pytest_connector_contract.config.credentials import Credentials
from pytest_connector_contract.config.settings import Access, Settings
from pytest_connector_contract.contract.ids import ids_under, new_run_prefix, probe_id, process_prefix
from pytest_connector_contract.contract.spec import Check, Spec
from pytest_connector_contract.contract.target import TargetInfo
from pytest_connector_contract.differential.recording import Recording, RecordingError

__all__ = ["WORKER_KEY", "RunState", "RunStateError", "embedded_security"]

#: the key of what the controller hands each xdist worker in its ``workerinput``
WORKER_KEY = "connector_contract"


class RunStateError(ValueError):
    """The run cannot be set up as asked (a usage error): the message says why."""


@dataclass
class RunState:
    """Everything one pytest process knows about the run (kept in ``config.stash``)."""

    settings: Settings
    spec: Spec
    run_prefix: str
    worker_id: str | None
    suite: bool
    selection: list[str] | None
    target: TargetInfo | None = None
    target_url: str | None = None
    server: Any = None
    ledger: Ledger = field(init=False)
    #: how many processes share --connector-max-rps (the xdist worker count)
    rate_share: int = 1
    #: connectors this process (or, on the controller, a worker) could not delete
    leftovers: list[str] = field(default_factory=list)
    #: seed of the exploration walks (chosen once, on the controller, and handed to every worker)
    seed: int | None = None
    #: checks beyond the default suite enabled by the run's options (extended.py)
    extra_checks: list[Check] = field(default_factory=list)
    #: under xdist, a directory where each worker also leaves what it could not delete: after Ctrl-C the
    #: controller stops listening to its workers before they have cleaned up
    handoff: str | None = None
    #: xdist workers started, and those that reported their leftovers through xdist itself
    workers: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)
    #: the reference cluster (--connector-reference-url): who it is, its URL, its embedded server, and the ids
    #: this process created there and is not yet sure are gone
    reference: TargetInfo | None = None
    reference_url: str | None = None
    reference_server: Any = None
    reference_ledger: Ledger = field(init=False)
    #: the recording judged against instead (--connector-expect-from), read once per process
    recording: Recording | None = None
    #: the process's one rate limiter (its share of --connector-max-rps), shared by every client it creates
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        numbers = itertools.count(1)  # one sequence of connector numbers for the run's ids, on either cluster
        self.ledger, self.reference_ledger = Ledger(numbers), Ledger(numbers)
        self.limiter = run_limiter(self.settings, self.rate_share)

    @property
    def id_prefix(self) -> str:
        """The prefix of this process's connector ids: run prefix plus worker id under xdist."""
        return process_prefix(self.run_prefix, self.worker_id)

    def ensure_target(self, say: Callable[[str], None] | None = None) -> TargetInfo:
        """Start the embedded target if asked for, then run the preflight (once per process); ``say`` is told
        what the preflight waits for (``--connector-wait``)."""
        if self.target is not None:
            return self.target
        url, embedded = self.settings.target.url, self.settings.target.embedded
        if embedded:
            self.server = _start_embedded(self.settings.target, self.settings.readonly)
            url = self.server.url
        assert url is not None
        self.target_url = url
        self.target = self._identify(self.client, profile=self.settings.profile, embedded=embedded, say=say)
        return self.target

    def ensure_reference(self, say: Callable[[str], None] | None = None) -> TargetInfo | None:
        """With --connector-reference-url: start the embedded reference if asked for, then identify the
        reference cluster with the same preflight as the target (once per process)."""
        access = self.settings.reference
        if self.reference is not None or access.url is None:
            return self.reference
        url = access.url
        if access.embedded:
            self.reference_server = _start_embedded(access)
            url = self.reference_server.url
        self.reference_url = url
        self.reference = self._identify(
            self.reference_client, profile="auto", embedded=access.embedded, access=access, say=say
        )
        return self.reference

    def _identify(self, new_client: Callable[[], ConnectorClient], **options: Any) -> TargetInfo:
        """The preflight of the target or of the reference cluster, with the run's probe id."""
        client = new_client()
        try:
            return identify(client, self.spec, probe_id=probe_id(self.run_prefix), wait=self.settings.wait, **options)
        finally:
            client.close()

    def reference_client(self) -> ConnectorClient:
        """A new client for the reference cluster, with its credentials and TLS settings and the run's rate
        limit (it counts towards --connector-max-rps too)."""
        assert self.reference_url is not None
        return client_for(
            self.settings,
            self.reference_url,
            access=self.settings.reference,
            worker=self.worker_id,
            limiter=self.limiter,
        )

    def counterpart(self) -> Reference | None:
        """What each check is judged against besides the suite's expectations: the live reference cluster, the
        recording, or nothing."""
        if self.recording is not None:
            return self.recording
        if self.reference is None:
            return None
        return LiveReference(
            target=self.reference,
            spec=self.spec,
            settings=self.settings,
            new_client=self.reference_client,
            new_factory=lambda client: self.new_factory(client, reference=True),
            id_prefix=self.id_prefix,
        )

    def execute(self, run: Run) -> Outcome:
        """Execute a check as this run does: against the target and, if there is one, the reference or the
        recording, keeping what ``--connector-record`` needs (the item's path and the pool's alike)."""
        return execute(
            run, self.counterpart(), record=self.settings.record is not None, reruns=self.settings.rerun_errors
        )

    def client(self) -> ConnectorClient:
        """A new client for the target, with the run's credentials, TLS settings and rate limit."""
        assert self.target_url is not None
        return client_for(self.settings, self.target_url, worker=self.worker_id, limiter=self.limiter)

    def new_factory(self, client: ConnectorClient, *, reference: bool = False) -> ConnectorFactory:
        """A connector factory over ``client``, with the process's ids, and the ledger and deletion rules of
        the target (or, ``reference``, of the reference cluster)."""
        info = self.reference if reference else self.target
        assert info is not None
        return ConnectorFactory(
            client,
            self.spec,
            id_prefix=self.id_prefix,
            ledger=self.reference_ledger if reference else self.ledger,
            soft_delete=info.soft_delete,
            keep=self.settings.keep,
        )

    def new_run(self, check: Check, client: ConnectorClient, factory: ConnectorFactory) -> Run:
        """The context of executing ``check`` over ``client``: the item's own, or a slot's ahead of its turn."""
        assert self.target is not None
        client.start_recording(check.id)
        return Run(
            check,
            spec=self.spec,
            target=self.target,
            client=client,
            factory=factory,
            settings=self.settings,
            new_client=self.client,
            readonly_client=self.readonly_client,
        )

    def readonly_client(self) -> ConnectorClient | None:
        """A client that authenticates with --connector-readonly-api-key (None without one)."""
        if self.settings.readonly is None:
            return None
        assert self.target_url is not None
        return client_for(
            self.settings,
            self.target_url,
            worker=self.worker_id,
            authorization=self.settings.readonly.authorization(),
            limiter=self.limiter,
        )

    def delete_leftovers(self) -> None:
        """Last line of the safety net: delete what this process created and still holds, on the target and on
        the reference cluster (also after Ctrl-C, when fixture teardown may not have run), waiting a bounded
        time for creates that were sent and never answered.

        Ctrl-C during this clean-up stops it at once: every id not yet known to be gone is listed as a
        leftover (``NOT DELETED`` in the summary), and nothing waits for or deletes it any more."""
        if self.settings.keep:
            return
        sides = [(self.ledger, self.target, self.target_url, self.client, False, "")]
        if self.reference is not None and self.reference_url is not None:
            where = f"on the reference cluster {self.reference.url}: "
            sides.append(
                (self.reference_ledger, self.reference, self.reference_url, self.reference_client, True, where)
            )
        for index, (ledger, info, url, new_client, reference, where) in enumerate(sides):
            live = ledger.live()
            if not live or info is None or url is None:
                continue
            client = new_client()
            factory = self.new_factory(client, reference=reference)
            factory.created.extend(live)
            try:
                self.leftovers.extend(f"{where}{problem}" for problem in factory.cleanup())
            except KeyboardInterrupt:
                for abandoned, *_, label in sides[index:]:  # this side and those not cleaned up yet
                    self.leftovers.extend(
                        f"{label}{cid}: clean-up interrupted (Ctrl-C); it may remain" for cid in abandoned.abandon()
                    )
                return
            finally:
                client.close()

    def sweep_hints(self) -> list[str]:
        """The sweep commands that remove what the run may have left, on the target and the reference."""
        hints = [
            f"connector-contract sweep --connector-url {self.target.url if self.target else 'URL'} "
            f"--prefix {self.run_prefix}"
        ]
        if self.reference is not None:
            hints.append(f"connector-contract sweep --connector-url {self.reference.url} --prefix {self.run_prefix}")
        return hints

    def close(self) -> None:
        for name in ("server", "reference_server"):
            server = getattr(self, name)
            if server is not None:
                server.stop()
                setattr(self, name, None)

    @classmethod
    def on_controller(cls, settings: Settings, spec: Spec, *, suite: bool, selection: list[str] | None) -> RunState:
        """The run as the process that starts it knows it (the only process, or the xdist controller): a new run
        prefix and exploration seed, an emptied request log, the checks the options enable, a recording read."""
        if settings.request_log is not None:
            requestlog.reset(settings.request_log)  # before any worker starts appending
        state = cls(
            settings=settings,
            spec=spec,
            run_prefix=new_run_prefix(settings.id_prefix),
            worker_id=None,
            suite=suite,
            selection=selection,
            seed=extended.run_seed(settings),
        )
        return state._completed()

    @classmethod
    def on_worker(cls, settings: Settings, spec: Spec, worker_input: dict[str, Any]) -> RunState:
        """The run as an xdist worker knows it: what the controller handed it (:meth:`for_worker`)."""
        shared = worker_input[WORKER_KEY]
        state = cls(
            settings=settings,
            spec=spec,
            run_prefix=shared["run_prefix"],
            worker_id=worker_input.get("workerid"),
            suite=shared["suite"],
            selection=shared["selection"],
            target=TargetInfo.from_dict(shared["target"]) if shared["target"] else None,
            target_url=shared["target_url"],
            reference=TargetInfo.from_dict(shared["reference"]) if shared.get("reference") else None,
            reference_url=shared.get("reference_url"),
            rate_share=int(worker_input.get("workercount", 1)),
            seed=shared.get("seed"),
            handoff=shared.get("handoff"),
        )
        return state._completed()

    def _completed(self) -> RunState:
        """What both constructors add: the checks the options enable, and the recording judged against."""
        self.extra_checks = extended.enabled_checks(self.spec, self.settings, self.selection, self.seed)
        if self.settings.expect_from is not None and self.suite:
            try:
                self.recording = Recording.load(self.settings.expect_from)
            except RecordingError as exc:
                raise RunStateError(str(exc)) from None
        return self

    def for_worker(self) -> dict[str, Any]:
        """What the controller hands each xdist worker (read back by :meth:`on_worker`)."""
        return {
            "run_prefix": self.run_prefix,
            "suite": self.suite,
            "selection": self.selection,
            "target": self.target.to_dict() if self.target else None,
            "target_url": self.target_url,
            "reference": self.reference.to_dict() if self.reference else None,
            "reference_url": self.reference_url,
            "seed": self.seed,
            "handoff": self.handoff,
        }

    def hand_over(self) -> None:
        """On a worker: leave the list of what it could not delete where the controller looks for it."""
        if self.handoff is None or self.worker_id is None:
            return
        path = Path(self.handoff) / f"{self.worker_id}.json"
        partial = path.with_suffix(".part")
        partial.write_text(json.dumps(self.leftovers), encoding="utf-8")
        partial.replace(path)  # the controller never reads half a list

    def take_over(self, wait: float) -> list[str]:
        """On the controller: the leftovers of workers that did not report through xdist, waiting up to
        ``wait`` seconds for workers still cleaning up."""
        if self.handoff is None:
            return []
        missing = self.workers - self.reported
        found: list[str] = []
        deadline = time.monotonic() + wait
        try:
            while missing:
                for worker in sorted(missing):
                    path = Path(self.handoff) / f"{worker}.json"
                    if path.exists():
                        found.extend(json.loads(path.read_text(encoding="utf-8")))
                        missing.discard(worker)
                if not missing or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting, and say what may remain
        where = " on the target and the reference cluster" if self.reference is not None else ""
        return found + [
            f"{ids_under(process_prefix(self.run_prefix, worker))}: worker {worker} did not say what it deleted; "
            f"its connectors may remain{where} ({'; '.join(self.sweep_hints())})"
            for worker in sorted(missing)
        ]


def _start_embedded(access: Access, readonly: Credentials | None = None) -> Any:
    """Start the bundled reference target in-process, emulating the access block's embedded version."""
    from pytest_connector_contract.reference.endpoints import DEFAULT_ES_VERSION, ReferenceTarget
    from pytest_connector_contract.reference.server import ReferenceServer

    version = access.embedded_version or DEFAULT_ES_VERSION
    server = ReferenceServer(ReferenceTarget(version, security=embedded_security(access.credentials, readonly)))
    server.start()
    return server


def embedded_security(credentials: Credentials, readonly: Credentials | None = None) -> Any:
    """The embedded target requires the credentials the run was given, so the auth path is exercised."""
    from pytest_connector_contract.reference.security import CONNECTOR_READ_ONLY, ApiKey, BearerToken, Security, User

    # --connector-readonly-api-key: the embedded target knows it as a key holding only monitor_connector
    readonly_key = readonly.api_key if readonly is not None else None
    keys = [ApiKey.parse(readonly_key.reveal(), privileges=CONNECTOR_READ_ONLY)] if readonly_key is not None else []
    if credentials.api_key is not None:
        return Security(api_keys=[ApiKey.parse(credentials.api_key.reveal()), *keys])
    if credentials.user is not None and credentials.password is not None:
        return Security(users=[User(credentials.user, credentials.password.reveal())], api_keys=keys)
    if credentials.bearer_token is not None:
        return Security(
            bearer_tokens=[BearerToken(credentials.bearer_token.reveal(), user="connector-contract")], api_keys=keys
        )
    return None
