"""Ports: what the steps need from the outside world, named for the domain.

Steps depend on these ``Protocol``s only; ``orchestrator.aws`` implements them with boto3 clients
that are passed in (never created at import time), and tests may pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple, Protocol, runtime_checkable

from orchestrator.model.live import AliasState, MetricQuery, MetricResult, QueueDepth


class AliasReader(Protocol):
    """Reads Lambda aliases and versions."""

    def read(self, function: str, alias: str) -> AliasState:
        """Current routing of ``function:alias``. Raises ResourceMissingError if absent."""
        ...

    def version_exists(self, function: str, version: str) -> bool:
        """Whether ``version`` is a published version of ``function``."""
        ...


class AliasRouter(AliasReader, Protocol):
    """Reads and moves Lambda aliases."""

    def set_weights(
        self, current: AliasState, version: str, extra: Mapping[str, float] | None
    ) -> AliasState:
        """Point the alias at ``version`` plus ``extra`` weights (version -> fraction 0..1).

        ``current`` is the state the caller read just before; the adapter passes its revision id
        so AWS refuses a concurrent change.
        """
        ...


class QueueInspector(Protocol):
    """Read-only view of SQS queues: never receives, deletes or purges."""

    def depth(self, url: str) -> QueueDepth: ...

    def oldest_age_seconds(self, url: str, since: datetime, until: datetime) -> float | None:
        """Latest ``ApproximateAgeOfOldestMessage`` in the window, or None without datapoints."""
        ...

    def exists(self, url: str) -> bool: ...


class MetricSource(Protocol):
    """CloudWatch metrics and alarms."""

    def query(
        self, queries: Sequence[MetricQuery], start: datetime, end: datetime
    ) -> dict[str, MetricResult]:
        """All ``queries`` in one GetMetricData call (paginated), keyed by query id."""
        ...

    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        """``OK`` / ``ALARM`` / ``INSUFFICIENT_DATA`` per alarm name; missing alarms are absent."""
        ...


class LeaseStore(Protocol):
    """Per-component leases, so that two releases never shift the same component."""

    def acquire(self, key: str, owner: str, ttl_seconds: int, now: datetime) -> None:
        """Take or renew the lease. Raises LockConflictError naming the holder."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it; a no-op otherwise."""
        ...

    def holder(self, key: str, now: datetime) -> str | None: ...


class RecordStore(Protocol):
    """Small per-release records (hotfix task token, roll-forward state), keyed by release."""

    def put(self, release: str, kind: str, item: Mapping[str, object]) -> None: ...

    def get(self, release: str, kind: str) -> dict[str, object] | None: ...

    def delete(self, release: str, kind: str) -> None: ...

    def list(
        self, release: str, prefix: str, limit: int | None = None
    ) -> list[tuple[str, dict[str, object]]]:
        """Every ``(kind, item)`` of the release whose kind starts with ``prefix``, by kind (the
        first ``limit`` of them, when given: a read that must not grow with the release)."""
        ...

    def kinds(self, release: str, prefix: str, limit: int | None = None) -> Sequence[str]:
        """The kinds ``list`` would return, without the items (a keys-only read, for callers that
        only ask which records exist: the concurrency slots every FinishShift reads)."""
        ...

    def count(self, release: str, prefix: str) -> int:
        """How many records of the release have a kind that starts with ``prefix`` (a count,
        no keys: "are all the concurrency slots taken?" in one small answer)."""
        ...

    def put_new(self, release: str, kind: str, item: Mapping[str, object]) -> bool:
        """Write only if absent; False when the record already exists (first writer wins)."""
        ...


ReleasePage = tuple[list[tuple[str, str, dict[str, object]]], str | None]
"""One page of ``ReleaseCatalog.releases``: ``(release, kind, item)`` records and the next cursor
(a type alias, so that adapters with a ``list`` method can name the result)."""


@runtime_checkable
class ReleaseCatalog(Protocol):
    """Which releases a record store holds: on-call's look back (``rollout history``).

    No step uses it (a step knows its own release); the DynamoDB adapter answers it with a Scan,
    which the steps' IAM policies do not grant.
    """

    def releases(
        self, kinds: Sequence[str], cursor: str | None = None, page_size: int = 100
    ) -> ReleasePage:
        """One page of ``(release, kind, item)`` for every record whose kind is in ``kinds``
        (e.g. ``("context", "report")``), and the cursor of the next page (None: the last).

        A page may hold fewer than ``page_size`` records, even none, before the last one."""
        ...


class MessageMover(Protocol):
    """Moves dead-lettered messages back to their queue (an operator's redrive, never automatic)."""

    def move(self, dlq_url: str, destination_url: str) -> dict[str, object]:
        """Start moving every message; returns a description of the move task."""
        ...


class InvokeResult(NamedTuple):
    """What a direct invocation of a function version answered."""

    status: int
    """The Invoke API's ``StatusCode`` (200 for a synchronous call that ran)."""
    payload: Any
    """The response payload, parsed as JSON (the raw text when it is not JSON; None if empty)."""
    error: str | None = None
    """``FunctionError`` (``Unhandled``) when the function raised; None when it returned."""
    version: str | None = None
    """``ExecutedVersion``: the version that ran."""


class FunctionInvoker(Protocol):
    """Invokes one published version of a component's function directly (a pre-traffic smoke
    test: the alias is not involved, so no traffic reaches the version)."""

    def invoke(self, function: str, qualifier: str, payload: Any) -> InvokeResult:
        """A synchronous Invoke of ``function`` at ``qualifier`` (a version number) with the
        JSON ``payload``. A function that raises is a result (``error`` set), not an exception;
        an unreachable or refusing Lambda raises the adapters' usual errors."""
        ...


class _NoInvoker:
    """The ``invoker`` of a bundle built without one: using it fails loudly."""

    def invoke(self, function: str, qualifier: str, payload: Any) -> InvokeResult:
        raise AttributeError(
            f"no FunctionInvoker is wired into these ports (invoke {function}:{qualifier}): "
            "pass invoker= when building the Ports"
        )


class Notifier(Protocol):
    """Tells on-call what happened."""

    def publish(self, subject: str, message: str) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class ShiftLauncher(Protocol):
    """Starts and stops the per-component child executions (``shift_component.asl.json``)."""

    def start(self, name: str, payload: Mapping[str, object]) -> str:
        """Start the child execution ``name`` (or find it: a repeated start with the same name
        is the same execution); returns its ARN."""
        ...

    def stop(self, execution: str, error: str, cause: str) -> None:
        """Stop a running child execution; a no-op when it has ended or does not exist."""
        ...


class ShiftMonitor(Protocol):
    """Reads how a child execution stands (the parent's check for a child that died)."""

    def status(self, execution: str) -> str:
        """``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``, or ``MISSING``."""
        ...


class Callbacks(Protocol):
    """Answers a task token the state machine waits on."""

    def succeed(self, token: str, output: Mapping[str, object]) -> bool:
        """SendTaskSuccess; False when the wait is over (the token was answered or timed out)."""
        ...

    def fail(self, token: str, error: str, cause: str) -> bool:
        """SendTaskFailure; False when the wait is over."""
        ...


@dataclass(frozen=True)
class Ports:
    """Every outside-world dependency a step may use: the one bundle the Lambda entry, the CLI
    and the local engine all build (``orchestrator.aws.wiring.build_ports``) and tests fake
    (``orchestrator.testing``)."""

    aliases: AliasRouter
    alias_reads: AliasReader
    queues: QueueInspector
    metrics: MetricSource
    leases: LeaseStore
    records: RecordStore
    notifier: Notifier
    clock: Clock
    shifts: ShiftLauncher
    shift_status: ShiftMonitor
    callbacks: Callbacks
    invoker: FunctionInvoker = field(default_factory=_NoInvoker)
    """Direct invocations of component versions (smoke tests); a default that fails on use, so
    bundles built before the port existed keep working until a step needs it."""


PORT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Ports))
"""The port names a step may declare in its ``PORTS``."""
