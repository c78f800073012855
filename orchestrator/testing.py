"""In-memory fakes of every port, for testing steps without AWS (as httpx ships ``MockTransport``).

Each fake satisfies its ``orchestrator.ports`` Protocol (checked by mypy --strict at the bottom of
this module), behaves like the adapter in ``orchestrator.aws`` where a step could tell the
difference (a missing alias or queue raises ``ResourceMissingError``, a stale revision id raises
``AliasDriftError``, records must be JSON, ``put_new`` lets the first writer win, ``list`` is sorted
by kind), records what it was asked, and can be told to fail:

* :class:`FakeAliasRouter`: aliases and published versions; ``moves`` lists every ``set_weights``;
* :class:`FakeQueueInspector`: depths and oldest-message ages per queue URL;
* :class:`FakeMetricSource`: scripted ``MetricResult`` per (metric, dimensions), including
  incomplete and missing series, and alarm states; ``queries`` lists what was asked;
* :class:`FakeLeaseStore`, :class:`FakeRecordStore`, :class:`FakeNotifier`, :class:`FakeClock`
  (settable, advanceable), :class:`FakeMessageMover`;
* :class:`Fakes` bundles one of each, and :func:`fake_ports` builds the steps' ``Ports`` from them.

Fault injection: every fake has ``fail_next(method, error, times=1)``: the next ``times`` calls of
``method`` raise ``error`` (for instance ``TransientError`` for a throttled call) before doing
anything.

Testing a step you wrote (``run(event, ports) -> result``), or one of ours::

    from orchestrator.testing import Fakes

    fakes = Fakes()
    context = fakes.plan_release(manifest_data)   # aliases, versions, queues; ValidateAndPlan
    acquire_locks(ReleaseRef(release=context.manifest.release), fakes.ports)
    shift = prepare_shift(ComponentInput(release="r1", component="enrich"), fakes.ports)
    fakes.clock.advance(300)                      # the bake
    fakes.metrics.set_lambda("enrich", "live", "18", invocations=300, errors=0, throttles=0)
    shift = my_step(ComponentInput(release="r1", component="enrich", shift=shift), fakes.ports)
    assert fakes.aliases.weights("enrich", "live") == {"17": 50.0, "18": 50.0}
    assert fakes.records.get("r1", "failure") is None

``fake_ports(aliases=..., records=...)`` builds the ``Ports`` for a test that creates only the
fakes it scripts (the others start empty). A step's handler runs with the port restrictions of
production (a port it does not declare in ``PORTS`` fails loudly):
``handler.invoke(event_dict, fakes.ports)``. ``tests/functional/test_advance.py`` is a worked
example.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrator.errors import AliasDriftError, LockConflictError, ResourceMissingError
from orchestrator.model.live import AliasState, MetricQuery, MetricResult, QueueDepth
from orchestrator.model.load import manifest_from_data
from orchestrator.model.steps import RunOptions, StartInput
from orchestrator.ports import InvokeResult, Ports
from orchestrator.release import ledger

if TYPE_CHECKING:
    from orchestrator.model.manifest import Manifest
    from orchestrator.ports import ReleasePage
    from orchestrator.release.ledger import ReleaseContext

__all__ = [
    "FakeAliasRouter",
    "FakeClock",
    "FakeFunctionInvoker",
    "FakeLeaseStore",
    "FakeMessageMover",
    "FakeMetricSource",
    "FakeNotifier",
    "FakeQueueInspector",
    "FakeRecordStore",
    "Fakes",
    "WeightsCall",
    "fake_ports",
    "lambda_dimensions",
]

DEFAULT_START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class _Faults:
    """Fault injection shared by the fakes: ``fail_next("read", TransientError("slow"))``."""

    def __init__(self) -> None:
        self._faults: dict[str, list[BaseException]] = {}

    def fail_next(self, method: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` raise ``error`` (before doing anything)."""
        if not callable(getattr(self, method, None)):
            raise AttributeError(f"{type(self).__name__} has no method {method!r}")
        self._faults.setdefault(method, []).extend([error] * times)

    def _maybe_fail(self, method: str) -> None:
        pending = self._faults.get(method)
        if pending:
            raise pending.pop(0)


# -- aliases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsCall:
    """One ``set_weights`` call: the alias, the primary version, the extra fractions, the result."""

    function: str
    alias: str
    version: str
    extra: dict[str, float]
    weights: dict[str, float]
    """The routing after the call, in percent (``AliasState.weights``)."""


class FakeAliasRouter(_Faults):
    """Lambda aliases and published versions in memory (``AliasRouter`` and ``AliasReader``).

    Like the adapter, a move passes the revision id it read: a stale one raises
    ``AliasDriftError`` (AWS's ``PreconditionFailedException``); a state without one moves the
    alias unconditionally. Functions may be given by name or by unqualified ARN.
    """

    def __init__(self) -> None:
        super().__init__()
        self._aliases: dict[tuple[str, str], AliasState] = {}
        self._versions: dict[str, set[str]] = {}
        self._revision = 0
        self.moves: list[WeightsCall] = []
        """Every ``set_weights`` call, in order."""

    @staticmethod
    def _name(function: str) -> str:
        return function.rsplit(":function:", 1)[-1]

    def _next_revision(self) -> str:
        self._revision += 1
        return f"rev-{self._revision}"

    def publish(self, function: str, *versions: str) -> None:
        """Make ``versions`` published versions of ``function``."""
        self._versions.setdefault(self._name(function), set()).update(versions)

    def add_alias(
        self,
        function: str,
        alias: str,
        weights: Mapping[str, float],
        versions: Sequence[str] = (),
    ) -> AliasState:
        """Create (or overwrite, as someone moving it by hand would) ``function:alias``.

        ``weights`` is in percent (``{"42": 90, "43": 10}``); the largest share is the primary.
        Every version in ``weights`` and ``versions`` is published.
        """
        name = self._name(function)
        self.publish(name, *weights, *versions)
        primary = max(weights.items(), key=lambda item: item[1])[0]
        state = AliasState(
            function=name,
            alias=alias,
            version=primary,
            extra={v: round(w / 100.0, 6) for v, w in weights.items() if v != primary and w > 0},
            revision_id=self._next_revision(),
        )
        self._aliases[(name, alias)] = state
        return state

    def weights(self, function: str, alias: str) -> dict[str, float]:
        """Where the alias routes now, in percent."""
        return self._state(function, alias).weights

    def _state(self, function: str, alias: str) -> AliasState:
        state = self._aliases.get((self._name(function), alias))
        if state is None:
            raise ResourceMissingError(
                f"alias {function}:{alias} does not exist", resource=f"{function}:{alias}"
            )
        return state

    def read(self, function: str, alias: str) -> AliasState:
        self._maybe_fail("read")
        return self._state(function, alias)

    def version_exists(self, function: str, version: str) -> bool:
        self._maybe_fail("version_exists")
        return version in self._versions.get(self._name(function), set())

    def set_weights(
        self, current: AliasState, version: str, extra: Mapping[str, float] | None
    ) -> AliasState:
        self._maybe_fail("set_weights")
        stored = self._state(current.function, current.alias)
        if current.revision_id and current.revision_id != stored.revision_id:
            raise AliasDriftError(
                f"alias {current.function}:{current.alias} changed since it was read "
                f"(revision {current.revision_id} != {stored.revision_id})"
            )
        name = self._name(current.function)
        known = self._versions.get(name, set())
        for v in [version, *(extra or {})]:
            if v not in known:
                raise ResourceMissingError(
                    f"{name} has no published version {v}", resource=f"{name}:{v}"
                )
        updated = AliasState(
            function=stored.function,
            alias=stored.alias,
            version=version,
            extra={str(v): float(w) for v, w in (extra or {}).items()},
            revision_id=self._next_revision(),
        )
        self._aliases[(name, current.alias)] = updated
        self.moves.append(
            WeightsCall(
                function=name,
                alias=current.alias,
                version=version,
                extra=dict(updated.extra),
                weights=updated.weights,
            )
        )
        return updated


# -- queues ---------------------------------------------------------------------------------------


class FakeQueueInspector(_Faults):
    """SQS queues by URL: depths and ``ApproximateAgeOfOldestMessage``; unknown URLs are missing."""

    def __init__(self) -> None:
        super().__init__()
        self._depths: dict[str, QueueDepth] = {}
        self._ages: dict[str, float | None] = {}

    def add_queue(
        self,
        url: str,
        visible: int = 0,
        in_flight: int = 0,
        delayed: int = 0,
        oldest_age_seconds: float | None = None,
    ) -> None:
        """Create the queue, or set its counts and oldest-message age."""
        self._depths[url] = QueueDepth(
            url=url, visible=visible, in_flight=in_flight, delayed=delayed
        )
        self._ages[url] = oldest_age_seconds

    def set_depth(self, url: str, visible: int, in_flight: int = 0, delayed: int = 0) -> None:
        self._known(url)
        self._depths[url] = QueueDepth(
            url=url, visible=visible, in_flight=in_flight, delayed=delayed
        )

    def set_oldest_age(self, url: str, seconds: float | None) -> None:
        """The age ``oldest_age_seconds`` reports (None: no datapoint in the window)."""
        self._known(url)
        self._ages[url] = seconds

    def _known(self, url: str) -> None:
        if url not in self._depths:
            raise ResourceMissingError(f"queue {url} does not exist", resource=url)

    def depth(self, url: str) -> QueueDepth:
        self._maybe_fail("depth")
        self._known(url)
        return self._depths[url]

    def oldest_age_seconds(self, url: str, since: datetime, until: datetime) -> float | None:
        self._maybe_fail("oldest_age_seconds")
        self._known(url)
        return self._ages.get(url)

    def exists(self, url: str) -> bool:
        self._maybe_fail("exists")
        return url in self._depths


# -- metrics --------------------------------------------------------------------------------------


def lambda_dimensions(function: str, alias: str, version: str) -> dict[str, str]:
    """The dimensions Verify queries for one executed version behind an alias."""
    return {"FunctionName": function, "Resource": f"{function}:{alias}", "ExecutedVersion": version}


_SeriesKey = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class _Scripted:
    values: tuple[float, ...] | None
    """None: the query is left out of the answer."""
    complete: bool
    timestamps: tuple[datetime, ...] = ()


class FakeMetricSource(_Faults):
    """CloudWatch in memory: scripted series per (metric, dimensions), and alarm states.

    An unscripted query answers as CloudWatch does for a series without data: no values,
    complete. ``set(..., complete=False)`` scripts a partial series, ``omit`` a query left out of
    the answer, ``set_lambda(..., errors=None)`` an Errors series without datapoints.
    """

    def __init__(self) -> None:
        super().__init__()
        self._series: dict[_SeriesKey, _Scripted] = {}
        self._alarms: dict[str, str] = {}
        self.queries: list[list[MetricQuery]] = []
        """The queries of every ``query`` call, one list per call (one GetMetricData each)."""
        self.alarm_requests: list[list[str]] = []

    @staticmethod
    def _key(metric: str, dimensions: Mapping[str, str]) -> _SeriesKey:
        return metric, frozenset(dimensions.items())

    def set(
        self,
        metric: str,
        dimensions: Mapping[str, str],
        values: Sequence[float],
        *,
        complete: bool = True,
        timestamps: Sequence[datetime] = (),
    ) -> None:
        """The datapoints (one per period) CloudWatch returns for ``metric`` with ``dimensions``;
        ``timestamps`` (optional, parallel to ``values``) are the periods' starts."""
        if timestamps and len(timestamps) != len(values):
            raise ValueError("give one timestamp per value, or none")
        self._series[self._key(metric, dimensions)] = _Scripted(
            tuple(float(v) for v in values), complete, tuple(timestamps)
        )

    def omit(self, metric: str, dimensions: Mapping[str, str]) -> None:
        """Leave this series out of the answer altogether."""
        self._series[self._key(metric, dimensions)] = _Scripted(None, True)

    def set_lambda(
        self,
        function: str,
        alias: str,
        version: str,
        *,
        invocations: float | None,
        errors: float | None = 0.0,
        throttles: float | None = 0.0,
        complete: bool = True,
    ) -> None:
        """Invocations / Errors / Throttles of one executed version, one datapoint each.

        ``None`` scripts a series without datapoints (what a lost or unpublished series looks
        like); ``complete=False`` flags all three as partial.
        """
        dimensions = lambda_dimensions(function, alias, version)
        for metric, value in (
            ("Invocations", invocations),
            ("Errors", errors),
            ("Throttles", throttles),
        ):
            self.set(metric, dimensions, [] if value is None else [value], complete=complete)

    def set_alarm(self, name: str, state: str) -> None:
        """``OK``, ``ALARM`` or ``INSUFFICIENT_DATA``."""
        self._alarms[name] = state

    def remove_alarm(self, name: str) -> None:
        self._alarms.pop(name, None)

    def query(
        self, queries: Sequence[MetricQuery], start: datetime, end: datetime
    ) -> dict[str, MetricResult]:
        self._maybe_fail("query")
        ids = [q.id for q in queries]
        if len(set(ids)) != len(ids):
            raise ValueError(f"metric query ids must be unique: {sorted(ids)}")
        self.queries.append(list(queries))
        out: dict[str, MetricResult] = {}
        for q in queries:
            scripted = self._series.get(self._key(q.metric, q.dimensions), _Scripted((), True))
            if scripted.values is None:
                continue
            out[q.id] = MetricResult(
                id=q.id,
                values=list(scripted.values),
                complete=scripted.complete,
                timestamps=list(scripted.timestamps),
            )
        return out

    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        self._maybe_fail("alarm_states")
        self.alarm_requests.append(list(names))
        return {name: self._alarms[name] for name in names if name in self._alarms}


# -- stores ---------------------------------------------------------------------------------------


class FakeLeaseStore(_Faults):
    """Leases with an expiry; a conflict raises ``LockConflictError`` naming the holder."""

    def __init__(self) -> None:
        super().__init__()
        self.leases: dict[str, tuple[str, datetime]] = {}
        """key -> (owner, expires at)."""

    def acquire(self, key: str, owner: str, ttl_seconds: int, now: datetime) -> None:
        self._maybe_fail("acquire")
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        held = self.leases.get(key)
        if held is not None and held[0] != owner and held[1] >= now:
            raise LockConflictError(
                f"component {key!r} is leased by {held[0]!r} until {held[1].isoformat()}; "
                f"{owner!r} cannot take it",
                component=key,
            )
        self.leases[key] = (owner, now + timedelta(seconds=ttl_seconds))

    def release(self, key: str, owner: str) -> None:
        self._maybe_fail("release")
        held = self.leases.get(key)
        if held is not None and held[0] == owner:
            del self.leases[key]

    def holder(self, key: str, now: datetime) -> str | None:
        self._maybe_fail("holder")
        held = self.leases.get(key)
        if held is None or held[1] < now:
            return None
        return held[0]


class FakeRecordStore(_Faults):
    """Per-release records in a dict, stored as JSON as the DynamoDB adapter stores them.

    A value JSON cannot hold exactly (a datetime, a set) raises ``TypeError`` on write, as it
    does in production; every read returns a fresh copy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        """(release, kind) -> the JSON body."""

    @staticmethod
    def _dump(item: Mapping[str, object]) -> str:
        return json.dumps(dict(item), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def _load(body: str) -> dict[str, object]:
        value = json.loads(body)
        assert isinstance(value, dict)
        return value

    def kinds(self, release: str, prefix: str = "", limit: int | None = None) -> list[str]:
        """Every record kind of ``release`` (that starts with ``prefix``), sorted (the first
        ``limit``)."""
        return sorted(
            kind for rel, kind in self.items if rel == release and kind.startswith(prefix)
        )[:limit]

    def put(self, release: str, kind: str, item: Mapping[str, object]) -> None:
        self._maybe_fail("put")
        self.items[(release, kind)] = self._dump(item)

    def count(self, release: str, prefix: str) -> int:
        self._maybe_fail("count")
        return len(self.kinds(release, prefix))

    def put_new(self, release: str, kind: str, item: Mapping[str, object]) -> bool:
        self._maybe_fail("put_new")
        body = self._dump(item)
        if (release, kind) in self.items:
            return False
        self.items[(release, kind)] = body
        return True

    def get(self, release: str, kind: str) -> dict[str, object] | None:
        self._maybe_fail("get")
        body = self.items.get((release, kind))
        return None if body is None else self._load(body)

    def delete(self, release: str, kind: str) -> None:
        self._maybe_fail("delete")
        self.items.pop((release, kind), None)

    def list(
        self, release: str, prefix: str, limit: int | None = None
    ) -> list[tuple[str, dict[str, object]]]:
        self._maybe_fail("list")
        return sorted(
            (
                (kind, self._load(body))
                for (rel, kind), body in self.items.items()
                if rel == release and kind.startswith(prefix)
            ),
            key=lambda pair: pair[0],
        )[:limit]

    def releases(
        self, kinds: Sequence[str], cursor: str | None = None, page_size: int = 100
    ) -> ReleasePage:
        """``ReleaseCatalog``: pages of ``page_size`` records in (release, kind) order; the cursor
        is the index of the next page's first record."""
        self._maybe_fail("releases")
        matching = sorted(key for key in self.items if key[1] in kinds)
        start = int(cursor) if cursor else 0
        page = matching[start : start + max(1, page_size)]
        rest = start + len(page)
        found = [(rel, kind, self._load(self.items[(rel, kind)])) for rel, kind in page]
        return found, (str(rest) if rest < len(matching) else None)


# -- notifier, clock, mover ---------------------------------------------------------------------


class FakeNotifier(_Faults):
    """Keeps every notification: ``published`` is a list of (subject, message)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self._maybe_fail("publish")
        self.published.append((subject, message))


class FakeClock(_Faults):
    """A clock that moves only when told: ``set(at)`` or ``advance(seconds)``."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        super().__init__()
        if start.tzinfo is None:
            raise ValueError("give a timezone-aware start, as SystemClock returns")
        self._now = start

    def now(self) -> datetime:
        self._maybe_fail("now")
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("give a timezone-aware time, as SystemClock returns")
        self._now = at

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class FakeMessageMover(_Faults):
    """Records redrives instead of moving messages: ``moves`` is a list of (dlq, destination)."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: list[tuple[str, str]] = []

    def move(self, dlq_url: str, destination_url: str) -> dict[str, object]:
        self._maybe_fail("move")
        self.moves.append((dlq_url, destination_url))
        return {
            "task_handle": f"fake-move-{len(self.moves)}",
            "source": dlq_url,
            "destination": destination_url,
        }


class FakeShiftLauncher(_Faults):
    """Records child-execution starts instead of running them: ``started`` maps each execution
    name to its payload, in start order; a repeated name is the same execution (idempotent)."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, dict[str, object]] = {}
        self.stopped: list[tuple[str, str]] = []
        self.statuses: dict[str, str] = {}
        """Execution ARN -> status for ``status`` (default ``RUNNING`` once started)."""

    def start(self, name: str, payload: Mapping[str, object]) -> str:
        self._maybe_fail("start")
        self.started.setdefault(name, dict(payload))
        return f"arn:aws:states:eu-west-2:111122223333:execution:shift-component:{name}"

    def stop(self, execution: str, error: str, cause: str) -> None:
        self._maybe_fail("stop")
        self.stopped.append((execution, error))
        self.statuses[execution] = "ABORTED"

    def status(self, execution: str) -> str:
        """The ``ShiftMonitor`` side of the fake: what ``statuses`` says, else ``RUNNING`` for a
        started execution and ``MISSING`` for another."""
        self._maybe_fail("status")
        if execution in self.statuses:
            return self.statuses[execution]
        name = execution.rsplit(":", 1)[-1]
        return "RUNNING" if name in self.started else "MISSING"


class FakeCallbacks(_Faults):
    """Records task-token answers; a token is answered once (a second answer returns False)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, dict[str, object]] = {}

    def succeed(self, token: str, output: Mapping[str, object]) -> bool:
        self._maybe_fail("succeed")
        if token in self.answers:
            return False
        self.answers[token] = {"status": "success", "output": dict(output)}
        return True

    def fail(self, token: str, error: str, cause: str) -> bool:
        self._maybe_fail("fail")
        if token in self.answers:
            return False
        self.answers[token] = {"status": "failure", "error": error, "cause": cause}
        return True


class FakeFunctionInvoker(_Faults):
    """Scripted answers of direct invocations (smoke tests): ``answer(function, version, ...)``
    sets what ``function:version`` answers (default: status 200, payload ``{}``, no error);
    ``calls`` lists every ``(function, qualifier, payload)`` asked."""

    def __init__(self) -> None:
        super().__init__()
        self._answers: dict[tuple[str, str], InvokeResult] = {}
        self.calls: list[tuple[str, str, Any]] = []

    def answer(
        self,
        function: str,
        version: str,
        payload: Any = None,
        *,
        status: int = 200,
        error: str | None = None,
    ) -> None:
        self._answers[(function, version)] = InvokeResult(
            status=status, payload={} if payload is None else payload, error=error, version=version
        )

    def invoke(self, function: str, qualifier: str, payload: Any) -> InvokeResult:
        self._maybe_fail("invoke")
        self.calls.append((function, qualifier, json.loads(json.dumps(payload))))
        default = InvokeResult(status=200, payload={}, error=None, version=qualifier)
        return self._answers.get((function, qualifier), default)


# -- the bundle -----------------------------------------------------------------------------------


@dataclass
class Fakes:
    """One fake of every port; ``ports`` is the ``Ports`` bundle a step takes.

    The same :class:`FakeAliasRouter` serves ``aliases`` and ``alias_reads`` (one account).
    ``mover`` is not part of ``Ports`` (only ``rollout redrive`` uses it).
    """

    aliases: FakeAliasRouter = field(default_factory=FakeAliasRouter)
    queues: FakeQueueInspector = field(default_factory=FakeQueueInspector)
    metrics: FakeMetricSource = field(default_factory=FakeMetricSource)
    leases: FakeLeaseStore = field(default_factory=FakeLeaseStore)
    records: FakeRecordStore = field(default_factory=FakeRecordStore)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    clock: FakeClock = field(default_factory=FakeClock)
    mover: FakeMessageMover = field(default_factory=FakeMessageMover)
    shifts: FakeShiftLauncher = field(default_factory=FakeShiftLauncher)
    callbacks: FakeCallbacks = field(default_factory=FakeCallbacks)
    invoker: FakeFunctionInvoker = field(default_factory=FakeFunctionInvoker)

    @property
    def ports(self) -> Ports:
        return Ports(
            aliases=self.aliases,
            alias_reads=self.aliases,
            queues=self.queues,
            metrics=self.metrics,
            leases=self.leases,
            records=self.records,
            notifier=self.notifier,
            clock=self.clock,
            shifts=self.shifts,
            shift_status=self.shifts,
            callbacks=self.callbacks,
            invoker=self.invoker,
        )

    def seed(self, manifest: Manifest) -> None:
        """An account as a release starts: every alias on its ``from`` version at 100% (the
        ``to`` versions published), every queue and dead-letter queue present and empty."""
        for comp in manifest.resolved.values():
            if comp.from_.version is None:
                raise ValueError(
                    f"components.{comp.name}.from.version is needed to seed its alias; "
                    "add the alias yourself with aliases.add_alias"
                )
            versions = [v for v in (comp.to.version,) if v is not None]
            self.aliases.add_alias(
                comp.function_name, comp.alias, {comp.from_.version: 100.0}, versions
            )
        for queue in manifest.queues.values():
            for url in (queue.url, queue.dlq_url):
                if url is not None:
                    self.queues.add_queue(url)

    def plan_release(
        self, manifest_data: Mapping[str, Any], options: RunOptions | None = None
    ) -> ReleaseContext:
        """Seed the account from the manifest, run the real ValidateAndPlan step on these fakes
        (it stores the plan as in production) and return the stored ``ReleaseContext``."""
        from orchestrator.steps.validate_and_plan import validate_and_plan

        data = dict(manifest_data)
        self.seed(manifest_from_data(data))
        planned = validate_and_plan(
            StartInput(manifest=data, options=options or RunOptions()), self.ports
        )
        return ledger.load_context(self.records, planned.release)


def fake_ports(
    *,
    aliases: FakeAliasRouter | None = None,
    queues: FakeQueueInspector | None = None,
    metrics: FakeMetricSource | None = None,
    leases: FakeLeaseStore | None = None,
    records: FakeRecordStore | None = None,
    notifier: FakeNotifier | None = None,
    clock: FakeClock | None = None,
    shifts: FakeShiftLauncher | None = None,
    callbacks: FakeCallbacks | None = None,
    invoker: FakeFunctionInvoker | None = None,
) -> Ports:
    """The steps' ``Ports`` on the given fakes; every port not given gets a fresh, empty fake."""
    fakes = Fakes()
    return Ports(
        aliases=aliases if aliases is not None else fakes.aliases,
        alias_reads=aliases if aliases is not None else fakes.aliases,
        queues=queues if queues is not None else fakes.queues,
        metrics=metrics if metrics is not None else fakes.metrics,
        leases=leases if leases is not None else fakes.leases,
        records=records if records is not None else fakes.records,
        notifier=notifier if notifier is not None else fakes.notifier,
        clock=clock if clock is not None else fakes.clock,
        shifts=shifts if shifts is not None else fakes.shifts,
        shift_status=shifts if shifts is not None else fakes.shifts,
        callbacks=callbacks if callbacks is not None else fakes.callbacks,
        invoker=invoker if invoker is not None else fakes.invoker,
    )


if TYPE_CHECKING:
    from orchestrator import ports as _ports

    # mypy --strict checks here that every fake satisfies its Protocol
    _router: _ports.AliasRouter = FakeAliasRouter()
    _reader: _ports.AliasReader = FakeAliasRouter()
    _queues: _ports.QueueInspector = FakeQueueInspector()
    _metrics: _ports.MetricSource = FakeMetricSource()
    _leases: _ports.LeaseStore = FakeLeaseStore()
    _records: _ports.RecordStore = FakeRecordStore()
    _catalog: _ports.ReleaseCatalog = FakeRecordStore()
    _notifier: _ports.Notifier = FakeNotifier()
    _clock: _ports.Clock = FakeClock()
    _mover: _ports.MessageMover = FakeMessageMover()
    _shifts: _ports.ShiftLauncher = FakeShiftLauncher()
    _monitor: _ports.ShiftMonitor = FakeShiftLauncher()
    _callbacks: _ports.Callbacks = FakeCallbacks()
    _invoker: _ports.FunctionInvoker = FakeFunctionInvoker()
