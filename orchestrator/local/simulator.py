"""The dry-run simulator: an emulated AWS account that behaves as a scenario says (DESIGN §7a).

A dry run executes the real state machine on the embedded engine with every Wait compressed to
0 s. Time is simulated instead: a :class:`SimClock` (the steps' ``Clock`` port) advances by the
*nominal* bake and poll durations, and for every simulated window the :class:`Simulator` writes
what the account would have recorded in it, so the figures the steps read are those of a real
bake:

* ``seed_account`` creates, for every component of the manifest, its Lambda function with the
  published versions the release names (moto numbers versions 1, 2, 3, ...: all versions up to the
  highest one needed are published), the alias on the ``from`` version, every queue and
  dead-letter queue (``RedrivePolicy`` set), and the scenario's backlog as real SQS messages
  carrying a ``schema`` message attribute.
* ``tick(seconds)`` simulates ``[t0, t0 + seconds)``: it reads every alias (``GetAlias``) for the
  live weights, splits ``traffic_per_minute`` between the executed versions, derives each consumer
  version's schema mix from its producers' live weights (what each producer version writes) and
  from the backlog worked off in the window, and writes ``AWS/Lambda`` Invocations / Errors /
  Throttles with exactly the dimensions ``orchestrator.release.verify`` queries (``FunctionName``,
  ``Resource`` = ``function:alias``, ``ExecutedVersion``), one datapoint per whole minute of the
  window. The simulator plays the consumers: backlog messages are received and deleted
  (``drain_per_minute``), those a consumer fails on move to the queue's DLQ, and so do failed
  messages of the (otherwise virtual) live traffic. ``AWS/SQS ApproximateAgeOfOldestMessage``
  (dimension ``QueueName``) is written at the end of the window. Only then does the clock move.
* ``before_step`` is the local runner's hook: ``Advance`` ticks the step's nominal bake, a repeat
  ``DrainQueues`` check of a wave ticks the queues' nominal poll interval. An Advance only moves
  time to its bake's nominal end (``started_at + nominal_bake_seconds``), so parallel bakes of
  one wave overlap as they do in AWS (``overlap_bakes=False`` adds a full bake per Advance).

Modelling choices, so the numbers can be predicted:

* The Lambda figures are noisy by default (scenario ``noise: {seed: N}``, seed 0 when absent):
  Poisson invocations around the traffic, binomial errors per invocation, Poisson throttles, each
  draw a pure function of the seed, the series and the piece of minute
  (``orchestrator/local/noise.py``), so a seed gives the same figures whatever order the
  runner's threads tick in. With ``noise: false`` (and for every other figure: messages, dead
  letters, unreadable deliveries) each figure is an expected value turned into whole numbers
  with a carried remainder per series (deterministic, no randomness): 600/min at 10% for 60 s is
  exactly 60 invocations, and totals over many ticks never drift by more than one.
* Delivery follows the component's ``delivery`` (DESIGN §4). ``alias`` (the default): an SQS event
  source mapping targets the function or its alias, so every live version of a component
  receives its share (its alias weight) of every queue the component reads in *any* of its
  versions, including a version that omits the queue: that version reads no schema of it. The
  versions counted are ``from``, ``to`` and every hotfix version once it has been live (had weight
  in a simulated window): a hotfix's new mapping exists from when it ships, and stays. A hotfix
  that never ships (refused, or its round never comes) changes no delivery. ``per-version``: a
  version receives only the queues its own spec reads, and the component's share of a queue is
  split between those live versions.
* A version that receives several queues spends its invocations evenly on them. Its Errors are
  ``error_rate`` plus, of the rest, ``errors_on[queue][schema]`` weighted by the schema mix it
  receives on each queue. A version that receives no queue fails at ``error_rate``.
* A delivery of a schema the receiving version does not declare reading (``reads[queue]``) is
  *unreadable*: it always fails (an error of that version, and a dead letter where the queue has
  a DLQ, exactly like an ``errors_on`` failure at 1.0) and is counted per queue, live traffic and
  backlog alike (:attr:`LedgerEntry.unreadable`, :attr:`TickReport.unreadable`). A release that
  keeps its declarations never makes one: the figure is 0 unless a scenario (or a defect) breaks a
  declaration. A version is known by its spec in the manifest (``from``, ``to``) or the scenario
  (``hotfixes``), or, for a hotfix handed over by hand (``rollout hotfix``), by the declarations
  ``ApplyHotfix`` received; any other version is taken to behave as ``from``.
* Each producer invocation writes one (virtual) message on every queue its version writes. Every
  component reading a queue sees all of that live traffic (fan-out), while the backlog, being real
  messages, is consumed once, split evenly between the queue's reading components.
* Failed messages of a queue with a DLQ become real DLQ messages (``schema`` attribute kept).
  Without a DLQ a failed backlog message is deleted like a processed one (counted as consumed).
* Backlog messages count as enqueued at the simulated start, or ``backlog_age_seconds`` before it;
  live traffic is processed at once, so a queue's age is that of its oldest backlog message, or 0.

Cost (moto 5.2.5): publishing a version is one ``UpdateFunctionCode(Publish=True)`` call, about
5 ms; a tick without backlog is about 25 ms for 3 components and 80 ms for 9. moto's SQS computes
every queue attribute (a scan of the queue) for each message sent and each message received, so
seeding or working off a backlog of N messages costs O(N²): a few hundred messages take about a
second, thousands take minutes. Keep scenario backlogs to a few hundred messages.

Queue URLs: moto's server finds a queue by the last segment of ``QueueUrl`` and takes account and
region from the request, so the manifest's AWS URLs
(``https://sqs.eu-west-2.amazonaws.com/111122223333/orders``) reach the emulated queue ``orders``
as they are; no rewrite is needed. :meth:`Simulator.queue_url` returns moto's own URL for a queue.
"""

from __future__ import annotations

import io
import json
import math
import threading
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.errors import (
    EnvironmentProblemError,
    InputError,
    Issue,
    ResourceMissingError,
    ScenarioError,
)
from orchestrator.local import noise, schema_metrics
from orchestrator.local.scenario import HotfixBehaviour, Scenario
from orchestrator.model.manifest import Component, Manifest, VersionSpec, queue_name_from_url
from orchestrator.model.plan import Plan

__all__ = ["LedgerEntry", "SimClock", "Simulator", "TickReport"]

Schema = int | str
ClientFactory = Callable[[str], Any]

ROLE_NAME = "rollout-simulated-function"
RUNTIME = "python3.12"
SCHEMA_ATTRIBUTE = "schema"
MAX_RECEIVE_COUNT = 5
SQS_BATCH = 10
METRIC_BATCH = 500
_EPSILON = 1e-6


class SimulatedSmokeFailure(Exception):
    """What a simulated component version raises when its scenario says ``smoke: fail``: the
    component's code failing, answered as Lambda does (``FunctionError: Unhandled``), not an
    error of the orchestrator."""


# -- the clock -----------------------------------------------------------------------------------


class SimClock:
    """A ``Clock`` that only moves when told to: simulated time of a dry run.

    Starts at ``start`` (an aware datetime, kept in UTC), by default the current minute. Reading
    and advancing are thread-safe; nothing else moves it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(UTC).replace(second=0, microsecond=0)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(
                "SimClock needs a timezone-aware start, e.g. datetime(..., tzinfo=UTC)"
            )
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"simulated time only moves forward, not by {seconds!r} s")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


# -- results -------------------------------------------------------------------------------------


@dataclass
class LedgerEntry:
    """Real SQS messages the simulator created in one queue, and what became of them.

    ``unreadable`` is the exception: it counts *deliveries* (of the virtual live traffic and of
    real backlog messages alike) of a schema the receiving version does not declare reading.
    """

    sent: int = 0
    consumed: int = 0
    dead_lettered: int = 0
    unreadable: int = 0

    @property
    def queued(self) -> int:
        return self.sent - self.consumed - self.dead_lettered

    def as_dict(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "consumed": self.consumed,
            "queued": self.queued,
            "dead_lettered": self.dead_lettered,
            "unreadable": self.unreadable,
        }


@dataclass
class TickReport:
    """What one simulated window produced (the whole numbers written to CloudWatch and SQS)."""

    start: datetime
    end: datetime
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    """component -> version -> fraction of its traffic (0..1), as read at the window's start."""
    invocations: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    throttles: dict[tuple[str, str], int] = field(default_factory=dict)
    drained: dict[str, int] = field(default_factory=dict)
    """queue -> backlog messages received and deleted from it (processed or failed)."""
    dead_lettered: dict[str, int] = field(default_factory=dict)
    """queue -> messages sent to its DLQ (failed backlog and failed live traffic)."""
    unreadable: dict[str, int] = field(default_factory=dict)
    """queue -> deliveries of a schema the receiving version does not read (live and backlog)."""
    oldest_age_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Received:
    receipt: str
    body: str
    schema: Schema


class _Carry:
    """Expected values -> whole numbers, carrying each series' remainder to its next amount."""

    def __init__(self) -> None:
        self._total: dict[tuple[object, ...], float] = defaultdict(float)
        self._emitted: dict[tuple[object, ...], int] = defaultdict(int)

    def take(self, key: tuple[object, ...], amount: float) -> int:
        if amount <= 0:
            return 0
        self._total[key] += amount
        target = math.floor(self._total[key] + _EPSILON)
        out = target - self._emitted[key]
        self._emitted[key] = target
        return max(out, 0)


def _parse_time(value: object) -> datetime | None:
    """An aware datetime from a step event (ISO text, as the state carries it), else None."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _schema_of(value: str) -> Schema:
    text = value.strip()
    return int(text) if text.isdigit() else text


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _minute_buckets(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """``[start, end)`` cut at whole minutes: (timestamp of the piece, its share of the window)."""
    total = (end - start).total_seconds()
    out: list[tuple[datetime, float]] = []
    cursor = start
    while cursor < end:
        boundary = cursor.replace(second=0, microsecond=0) + timedelta(minutes=1)
        piece_end = min(boundary, end)
        out.append((cursor, (piece_end - cursor).total_seconds() / total))
        cursor = piece_end
    return out


def _dummy_zip(function: str, version: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "lambda_function.py",
            f"# {function} version {version}: simulated by the dry run\n"
            "def handler(event, context):\n"
            "    raise RuntimeError('simulated function: the dry run never invokes it')\n",
        )
    return buffer.getvalue()


# -- the simulator -------------------------------------------------------------------------------


class Simulator:
    """Seeds the emulated account from a manifest and plays the scenario in simulated time."""

    def __init__(
        self,
        manifest: Manifest,
        scenario: Scenario,
        client_factory: ClientFactory,
        clock: SimClock,
        seed: int = 0,
        *,
        overlap_bakes: bool = True,
    ) -> None:
        self.manifest = manifest
        self.scenario = scenario
        self.clock = clock
        self.seed = seed
        """Kept for reproducibility records; the noise's seed is the scenario's ``noise.seed``."""
        self.noise = scenario.noise.enabled
        """Lambda figures drawn around their expectations (``orchestrator/local/noise.py``)."""
        self.noise_seed = scenario.noise.seed
        self._noise_epoch = clock.now()
        """Noise is drawn per minute since the simulation began, not per wall-clock minute, so the
        same release and seed give the same figures whenever the dry run starts."""
        self.overlap_bakes = overlap_bakes
        """Parallel bakes share simulated time (see :meth:`before_step`)."""
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._carry = _Carry()
        self._components: dict[str, Component] = manifest.resolved
        self._from_versions: dict[str, str] = {}
        self._queue_urls: dict[str, str] = {}  # SQS queue name -> moto's URL
        self._remaining: dict[str, Counter[Schema]] = {}  # manifest queue -> backlog left
        self._enqueued_at: dict[str, datetime] = {}
        self._ledger: dict[str, LedgerEntry] = {}
        self._drain_checks: Counter[tuple[str, int]] = Counter()
        self._plan: Plan | None = None
        self._seeded = False
        self._sequence = 0
        self._weights_cache: dict[str, dict[str, float]] | None = None
        self._alias_moves_reported = False
        self._role_arn: str | None = None
        self._alias_queue_cache: dict[str, frozenset[str]] = {}
        self._learned: dict[tuple[str, str], VersionSpec] = {}
        self._been_live: dict[str, set[str]] = {}  # component -> versions that had weight

    # -- clients ---------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._factory(service)
            return self._clients[service]

    # -- seeding ---------------------------------------------------------------------------------

    def versions_needed(self, name: str) -> list[str]:
        """Published versions component ``name`` must have: from, to and scenario hotfixes."""
        comp = self._components[name]
        wanted = {v for v in (comp.from_.version, comp.to.version) if v is not None}
        wanted |= {h.version for h in self.scenario.hotfixes_for(name)}
        return sorted(wanted, key=int)

    def seed_account(self) -> None:
        """Create functions, versions, aliases, queues and backlogs (skips what exists)."""
        with self._lock:
            self._ensure_role()
            for name in self._components:
                self._seed_function(name)
            self._seed_queues()
            self._seed_alarms()
            start = self.clock.now()
            for qname, spec in self.manifest.queues.items():
                behaviour = self.scenario.queue(qname)
                self._enqueued_at[qname] = start - timedelta(seconds=behaviour.backlog_age_seconds)
                if qname in self._remaining:
                    continue  # seeded before: the backlog is already there
                self._remaining[qname] = Counter()
                for schema, count in behaviour.backlog.items():
                    self._send(spec.name, schema, count, origin="backlog")
                    self._remaining[qname][schema] += count
            self._seeded = True

    def _seed_alarms(self) -> None:
        """Every alarm a gate watches exists (in OK: moto never evaluates alarms), as in an
        account where the release would run; ValidateAndPlan refuses unknown alarm names."""
        names = sorted({a for comp in self._components.values() for a in comp.gates.alarms})
        cloudwatch = self._client("cloudwatch")
        for name in names:
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                MetricName="Errors",
                Namespace="AWS/Lambda",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1.0,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )

    def _ensure_role(self) -> str:
        if self._role_arn is not None:
            return self._role_arn
        self._role_arn = self._create_role()
        return self._role_arn

    def _create_role(self) -> str:
        iam = self._client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            created = iam.create_role(
                RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust)
            )
            return str(created["Role"]["Arn"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])

    def _seed_function(self, name: str) -> None:
        comp = self._components[name]
        fn = comp.function_name
        lam = self._client("lambda")
        needed = self.versions_needed(name)
        try:
            lam.get_function(FunctionName=fn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            lam.create_function(
                FunctionName=fn,
                Runtime=RUNTIME,
                Role=self._ensure_role(),
                Handler="lambda_function.handler",
                Code={"ZipFile": _dummy_zip(fn, 0)},
                Description=f"simulated {name}",
            )
        published = self._published_count(fn)
        highest = max((int(v) for v in needed), default=0)
        for number in range(published + 1, highest + 1):
            # moto publishes nothing for unchanged code: each version gets its own (tiny) zip
            got = lam.update_function_code(
                FunctionName=fn, ZipFile=_dummy_zip(fn, number), Publish=True
            )["Version"]
            if got != str(number):
                raise EnvironmentProblemError(
                    f"publishing {fn} version {number} returned version {got}: the emulated "
                    "account numbers versions differently than expected"
                )
        try:
            alias = lam.get_alias(FunctionName=fn, Name=comp.alias)
            live = str(alias["FunctionVersion"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            if comp.from_.version is None:
                raise ScenarioError(
                    [
                        Issue(
                            f"components.{name}.from.version",
                            "a dry run needs the `from` version to create the alias "
                            f"{comp.alias!r} on it: give `from: {{version: ...}}`",
                        )
                    ]
                ) from None
            lam.create_alias(FunctionName=fn, Name=comp.alias, FunctionVersion=comp.from_.version)
            live = comp.from_.version
        self._from_versions[name] = comp.from_.version or live

    def _published_count(self, function: str) -> int:
        lam = self._client("lambda")
        count = 0
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"FunctionName": function, "MaxItems": 50}
            if marker:
                kwargs["Marker"] = marker
            page = lam.list_versions_by_function(**kwargs)
            for version in page.get("Versions", []):
                if str(version.get("Version", "")).isdigit():
                    count = max(count, int(version["Version"]))
            marker = page.get("NextMarker")
            if not marker:
                return count

    def _seed_queues(self) -> None:
        sqs = self._client("sqs")
        for spec in self.manifest.queues.values():
            attributes: dict[str, str] = {}
            if spec.dlq_url is not None:
                dlq_name = queue_name_from_url(spec.dlq_url)
                dlq_url = self._create_queue(dlq_name)
                dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
                    "Attributes"
                ]["QueueArn"]
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                )
            url = self._create_queue(spec.name)
            if attributes:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)

    def _create_queue(self, name: str) -> str:
        if name not in self._queue_urls:
            url = self._client("sqs").create_queue(QueueName=name)["QueueUrl"]
            self._queue_urls[name] = str(url)
            self._ledger.setdefault(name, LedgerEntry())
        return self._queue_urls[name]

    # -- public queries --------------------------------------------------------------------------

    def queue_url(self, name: str) -> str:
        """moto's URL of SQS queue ``name`` (the manifest's AWS URL reaches the same queue)."""
        if name in self._queue_urls:
            return self._queue_urls[name]
        for key, spec in self.manifest.queues.items():
            if key == name and spec.name in self._queue_urls:
                return self._queue_urls[spec.name]
        raise ResourceMissingError(f"queue {name!r} was not seeded", resource=name)

    def hotfix_versions(self) -> list[HotfixBehaviour]:
        """The scenario's hotfixes, in file order (their versions exist after seed_account)."""
        return list(self.scenario.hotfixes)

    def hotfix_for(self, component: str, exclude: set[str] | None = None) -> HotfixBehaviour | None:
        """The first hotfix the scenario lists for ``component`` not in ``exclude`` (versions)."""
        for hotfix in self.scenario.hotfixes_for(component):
            if exclude is None or hotfix.version not in exclude:
                return hotfix
        return None

    # -- direct invocations (smoke tests) --------------------------------------------------------

    def function_handler(self, function: str) -> Callable[[dict[str, Any], Any], Any] | None:
        """The in-process handler answering a direct Invoke of a component's function (moto runs
        no code): ``invoke_hook.register_simulated_functions`` routes to it; None for a function
        that is no component of the release."""
        names = [n for n, c in self._components.items() if c.function_name == function]
        if not names:
            return None
        name = names[0]

        def handler(event: dict[str, Any], context: Any) -> Any:
            version = str(getattr(context, "function_version", ""))
            if self.scenario.behaviour(name, version).smoke == "fail":
                raise SimulatedSmokeFailure(
                    f"{name}@{version} fails its smoke test (scenario versions.{name}@{version}"
                    ".smoke: fail)"
                )
            smoke = self._components[name].smoke
            expected = smoke.expect.payload if smoke is not None else None
            return {"ok": True} if expected is None else expected

        return handler

    def message_ledger(self) -> dict[str, dict[str, int]]:
        """Per SQS queue name (dead-letter queues included): real messages sent, consumed, still
        queued and dead-lettered, and the deliveries that were ``unreadable``."""
        with self._lock:
            return {name: entry.as_dict() for name, entry in sorted(self._ledger.items())}

    def ledger_mismatches(self) -> dict[str, tuple[int, int]]:
        """Queues whose real message count differs from the ledger: name -> (ledger, real)."""
        out: dict[str, tuple[int, int]] = {}
        sqs = self._client("sqs")
        with self._lock:
            for name, entry in sorted(self._ledger.items()):
                attributes = sqs.get_queue_attributes(
                    QueueUrl=self._queue_urls[name],
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                    ],
                )["Attributes"]
                real = sum(int(v) for v in attributes.values())
                if real != entry.queued:
                    out[name] = (entry.queued, real)
        return out

    def spec_of(self, name: str, version: str) -> VersionSpec:
        """What ``version`` of component ``name`` reads and writes (unknown: as ``from``)."""
        comp = self._components[name]
        if version == comp.to.version:
            return comp.to
        if version == (comp.from_.version or self._from_versions.get(name)):
            return comp.from_
        for hotfix in self.scenario.hotfixes_for(name):
            if hotfix.version == version:
                return hotfix.as_version_spec()
        with self._lock:
            learned = self._learned.get((name, version))
        return comp.from_ if learned is None else learned

    def learn_hotfix(self, hotfix: Mapping[str, Any]) -> None:
        """Take the declarations of a hotfix handed to the release (``ApplyHotfix``'s input) for a
        version the manifest and the scenario do not know (``rollout hotfix`` of a version
        published by hand): the simulator then delivers to it what it says it reads."""
        name, version = hotfix.get("component"), hotfix.get("version")
        if not isinstance(name, str) or name not in self._components or version is None:
            return
        version = str(version)
        comp = self._components[name]
        known = {comp.from_.version, comp.to.version}
        known |= {h.version for h in self.scenario.hotfixes_for(name)}
        if version in known:
            return
        try:
            spec = VersionSpec.model_validate(
                {
                    "version": version,
                    "reads": hotfix.get("reads") or {},
                    "writes": hotfix.get("writes") or {},
                }
            )
        except ValueError:
            return  # ApplyHotfix refuses it with the reason; nothing to simulate
        with self._lock:
            self._learned[(name, version)] = spec
            self._alias_queue_cache.pop(name, None)

    def delivered(self, name: str, version: str) -> list[str]:
        """The manifest queues whose messages reach ``name@version``, in manifest order.

        ``delivery: alias``: every queue the component reads in ``from``, ``to`` or a hotfix
        version that has been live (had weight in a simulated window), because the event source
        mapping targets the alias and stays once created; ``per-version``: only the queues that
        version's own spec reads.
        """
        comp = self._components[name]
        wanted: frozenset[str]
        if comp.delivery == "per-version":
            wanted = frozenset(self.spec_of(name, version).reads)
        else:
            wanted = self._alias_queues(name)
        return [q for q in self.manifest.queues if q in wanted]

    def _alias_queues(self, name: str) -> frozenset[str]:
        with self._lock:
            cached = self._alias_queue_cache.get(name)
            if cached is None:
                comp = self._components[name]
                specs = [comp.from_, comp.to]
                specs += [self.spec_of(name, v) for v in sorted(self._been_live.get(name, ()))]
                cached = frozenset(q for spec in specs for q in spec.reads)
                self._alias_queue_cache[name] = cached
            return cached

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool:
        """Whether ``name@version`` declares reading ``schema`` on ``queue``."""
        return schema in self.spec_of(name, version).reads.get(queue, ())

    def invalidate_weights(self) -> None:
        """Forget the cached alias routing (call after any alias move)."""
        with self._lock:
            self._weights_cache = None

    def live_weights(self) -> dict[str, dict[str, float]]:
        """Every component's alias routing: version -> fraction of traffic (0..1).

        Cached between alias moves when the runner reports them (``watch_alias_moves``):
        reading every alias on every tick is most of a large dry run's time otherwise.
        """
        with self._lock:
            if self._weights_cache is not None and self._alias_moves_reported:
                return {name: dict(w) for name, w in self._weights_cache.items()}
        weights = self._read_weights()
        with self._lock:
            self._weights_cache = weights
        return {name: dict(w) for name, w in weights.items()}

    def watch_alias_moves(self) -> Callable[[str, str, Mapping[str, float] | None], None]:
        """Opt into the routing cache; returns the callback to call after every alias move.

        The callback takes the function name, the alias and the new weights in percent (None
        when unknown: the cache is dropped and the next tick reads every alias).
        """
        with self._lock:
            self._alias_moves_reported = True
        return self.alias_moved

    def alias_moved(self, function: str, alias: str, weights: Mapping[str, float] | None) -> None:
        with self._lock:
            if self._weights_cache is None:
                return
            names = [
                n
                for n, c in self._components.items()
                if c.function_name == function.rsplit(":", 1)[-1] and c.alias == alias
            ]
            if weights is None or not names:
                self._weights_cache = None
                return
            for name in names:
                self._weights_cache[name] = {v: w / 100.0 for v, w in weights.items() if w > 0}

    def _read_weights(self) -> dict[str, dict[str, float]]:
        lam = self._client("lambda")
        out: dict[str, dict[str, float]] = {}
        for name, comp in self._components.items():
            try:
                alias = lam.get_alias(FunctionName=comp.function_name, Name=comp.alias)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    raise ResourceMissingError(
                        f"alias {comp.function_name}:{comp.alias} does not exist: "
                        "call seed_account() first",
                        resource=f"{comp.function_name}:{comp.alias}",
                    ) from None
                raise
            extra = {
                str(v): float(w)
                for v, w in (alias.get("RoutingConfig") or {})
                .get("AdditionalVersionWeights", {})
                .items()
                if float(w) > 0
            }
            weights = dict(extra)
            primary = max(0.0, 1.0 - sum(extra.values()))
            if primary > _EPSILON:
                primary_version = str(alias["FunctionVersion"])
                weights[primary_version] = weights.get(primary_version, 0.0) + primary
            out[name] = weights
        return out

    # -- the runner's hook -----------------------------------------------------------------------

    def before_step(self, step: str, event: Mapping[str, Any]) -> None:
        """Advance simulated time for the step about to run (called from the runner's threads).

        ``Advance`` (and any step named ``Advance...``) is the end of a bake: time moves to the
        bake's nominal end, ``shift.started_at + nominal_bake_seconds`` (one more bake for every
        INCONCLUSIVE or ERROR re-bake of the same step), or not at all when a sibling's tick
        already passed it, so the bakes of components shifting in parallel overlap as they do
        in AWS. With ``overlap_bakes=False``, or a shift without ``started_at``, every Advance
        moves time by a full nominal bake. A repeat ``DrainQueues`` check of a wave moves time
        by the queues' nominal poll interval. ``ApplyHotfix`` takes no time, but the simulator
        learns the declarations of a hotfix it does not know (:meth:`learn_hotfix`). Other steps
        take no simulated time.
        """
        if step.startswith("Advance"):
            shift = event.get("shift")
            if not isinstance(shift, Mapping) or shift.get("done"):
                return
            seconds = float(shift.get("nominal_bake_seconds") or 0)
            if seconds <= 0:
                return
            started = _parse_time(shift.get("started_at")) if self.overlap_bakes else None
            if started is None:
                self.tick(seconds)
                return
            rebakes = int(shift.get("inconclusive") or 0) + int(shift.get("errors") or 0)
            self.tick_until(started + timedelta(seconds=seconds * (1 + rebakes)))
        elif step == "DrainQueues":
            seconds = self._drain_poll_seconds(event)
            if seconds > 0:
                self.tick(seconds)
        elif step == "ApplyHotfix" and isinstance(event.get("hotfix"), Mapping):
            self.learn_hotfix(event["hotfix"])

    def _drain_poll_seconds(self, event: Mapping[str, Any]) -> float:
        drain = event.get("drain")
        if isinstance(drain, Mapping) and drain.get("nominal_poll_seconds") is not None:
            return 0.0 if drain.get("done") else float(drain["nominal_poll_seconds"])
        components = {str(c) for c in event.get("components") or []}
        drains = [d for d in self._release_plan().drains if components & set(d.before)]
        if not drains:
            return 0.0
        key = (str(event.get("release", "")), int(event.get("wave", 0)))
        with self._lock:
            checks = self._drain_checks[key]
            self._drain_checks[key] += 1
        if checks == 0:
            return 0.0  # the first check of a wave happens right after the previous wave
        return float(min(self.manifest.queues[d.queue].drain_poll_seconds for d in drains))

    def _release_plan(self) -> Plan:
        with self._lock:
            if self._plan is None:
                from orchestrator.planning.planner import plan_release

                try:
                    self._plan = plan_release(self.manifest)
                except InputError:
                    self._plan = Plan(
                        release=self.manifest.release,
                        waves=[],
                        constraints=[],
                        drains=[],
                        unchanged=[],
                    )
            return self._plan

    # -- simulated time --------------------------------------------------------------------------

    def tick_until(self, until: datetime) -> TickReport:
        """Simulate up to ``until``; nothing when the clock is already there or past it."""
        with self._lock:
            now = self.clock.now()
            return self.tick(max(0.0, (until - now).total_seconds()))

    def tick(self, seconds: float) -> TickReport:
        """Simulate ``[now, now + seconds)``, write what it produced, then move the clock."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"cannot simulate {seconds!r} s")
        with self._lock:
            if not self._seeded:
                raise EnvironmentProblemError("call seed_account() before simulating time")
            t0 = self.clock.now()
            t1 = t0 + timedelta(seconds=seconds)
            report = TickReport(start=t0, end=t1)
            if seconds > 0:
                self._simulate(report, seconds / 60.0)
                self.clock.advance(seconds)
            return report

    def _simulate(self, report: TickReport, minutes: float) -> None:
        weights = self.live_weights()
        report.weights = weights
        for name, per in weights.items():
            seen = self._been_live.setdefault(name, set())
            if not seen.issuperset(per):
                seen.update(per)
                self._alias_queue_cache.pop(name, None)
        traffic = self.scenario.traffic_per_minute * minutes
        invocations = {
            name: {v: traffic * w for v, w in per.items()} for name, per in weights.items()
        }
        fresh = self._live_traffic(invocations)
        readers = self._readers(weights)
        drained = self._work_off_backlogs(minutes)
        errors = self._expected_errors(invocations, fresh, readers, drained)
        self._put_lambda_metrics(report, weights, invocations, errors, minutes)
        for queue in self.manifest.queues:
            self._settle_backlog(report, queue, readers, drained.get(queue, []))
            self._settle_live_traffic(report, queue, readers, fresh.get(queue, {}))
        self._put_queue_ages(report)
        schema_metrics.publish(self, report, fresh, readers, drained)  # contracts: true versions

    def _failure(self, name: str, version: str, queue: str, schema: Schema) -> float:
        """Fraction of the messages of ``schema`` on ``queue`` that ``name@version`` fails on:
        all of them when it does not read that schema, else as the scenario says."""
        if not self.reads(name, version, queue, schema):
            return 1.0
        behaviour = self.scenario.behaviour(name, version)
        rate = behaviour.error_rate
        return rate + (1.0 - rate) * behaviour.schema_failure(queue, schema)

    def _live_traffic(
        self, invocations: Mapping[str, Mapping[str, float]]
    ) -> dict[str, dict[Schema, float]]:
        """Messages written per queue and schema in the window (virtual: never sent to SQS)."""
        fresh: dict[str, dict[Schema, float]] = defaultdict(lambda: defaultdict(float))
        for name, per in invocations.items():
            for version, count in per.items():
                for queue, schema in self.spec_of(name, version).writes.items():
                    fresh[queue][schema] += count
        return fresh

    def _readers(
        self, weights: Mapping[str, Mapping[str, float]]
    ) -> dict[str, dict[str, dict[str, float]]]:
        """queue -> reading component -> its live versions the queue reaches -> share (sum 1)."""
        readers: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for name, per in weights.items():
            for queue in self.manifest.queues:
                reached = {v: w for v, w in per.items() if queue in self.delivered(name, v)}
                total = sum(reached.values())
                if total > 0:
                    readers[queue][name] = {v: w / total for v, w in reached.items()}
        return readers

    def _work_off_backlogs(self, minutes: float) -> dict[str, list[_Received]]:
        """Receive the backlog messages the consumers get through in the window (real ones)."""
        drained: dict[str, list[_Received]] = {}
        for queue, remaining in self._remaining.items():
            left = sum(remaining.values())
            if left <= 0:
                continue
            rate = self.scenario.queue(queue).drain_per_minute
            if rate is None:
                rate = self.scenario.traffic_per_minute
            count = min(left, self._carry.take(("drain", queue), rate * minutes))
            if count <= 0:
                continue
            got = self._receive(self.manifest.queues[queue].name, count)
            drained[queue] = got
            for message in got:
                if remaining[message.schema] > 0:
                    remaining[message.schema] -= 1
            if not got:  # someone emptied the queue behind our back: nothing is left
                remaining.clear()
        return drained

    def _expected_errors(
        self,
        invocations: Mapping[str, Mapping[str, float]],
        fresh: Mapping[str, Mapping[Schema, float]],
        readers: Mapping[str, Mapping[str, Mapping[str, float]]],
        drained: Mapping[str, list[_Received]],
    ) -> dict[tuple[str, str], float]:
        """Expected Errors per executed version, from its error rate and its schema mix."""
        errors: dict[tuple[str, str], float] = {}
        for name, per in invocations.items():
            for version, count in per.items():
                rate = self.scenario.behaviour(name, version).error_rate
                queues = self.delivered(name, version)
                if not queues:
                    errors[(name, version)] = count * rate
                    continue
                share = count / len(queues)
                expected = 0.0
                for queue in queues:
                    # all the live traffic, plus this reader's share of the backlog worked off
                    mix: dict[Schema, float] = defaultdict(float, fresh.get(queue, {}))
                    k = max(1, len(readers.get(queue, {})))
                    for message in drained.get(queue, []):
                        mix[message.schema] += 1.0 / k
                    total = sum(mix.values())
                    if total <= 0:
                        expected += share * rate
                        continue
                    expected += share * sum(
                        (n / total) * self._failure(name, version, queue, schema)
                        for schema, n in mix.items()
                    )
                errors[(name, version)] = expected
        return errors

    def _settle_live_traffic(
        self,
        report: TickReport,
        queue: str,
        readers: Mapping[str, Mapping[str, Mapping[str, float]]],
        fresh: Mapping[Schema, float],
    ) -> None:
        """Count the live-traffic deliveries nobody could read; the messages the readers failed
        on (unreadable ones included) become real messages in the DLQ."""
        dlq_url = self.manifest.queues[queue].dlq_url
        for schema, count in sorted(fresh.items(), key=_sort_key):
            expected = 0.0
            unreadable = 0.0
            for name, versions in readers.get(queue, {}).items():
                for version, share in versions.items():
                    expected += count * share * self._failure(name, version, queue, schema)
                    if not self.reads(name, version, queue, schema):
                        unreadable += count * share
            self._count_unreadable(report, queue, ("live", queue, schema), unreadable)
            if dlq_url is None:
                continue
            failed = self._carry.take(("fresh-failed", queue, schema), expected)
            if failed:
                self._send(queue_name_from_url(dlq_url), schema, failed, origin=queue)
                report.dead_lettered[queue] = report.dead_lettered.get(queue, 0) + failed

    def _count_unreadable(
        self, report: TickReport, queue: str, key: tuple[object, ...], expected: float
    ) -> None:
        count = self._carry.take(("unreadable", *key), expected)
        if count:
            report.unreadable[queue] = report.unreadable.get(queue, 0) + count
            self._ledger[self.manifest.queues[queue].name].unreadable += count

    def _settle_backlog(
        self,
        report: TickReport,
        queue: str,
        readers: Mapping[str, Mapping[str, Mapping[str, float]]],
        got: list[_Received],
    ) -> None:
        """Delete the backlog messages received; those the readers fail on go to the DLQ first."""
        if not got:
            return
        spec = self.manifest.queues[queue]
        report.drained[queue] = len(got)
        by_schema: dict[Schema, list[_Received]] = defaultdict(list)
        for message in got:
            by_schema[message.schema].append(message)
        consumers = readers.get(queue, {})
        failed: list[_Received] = []
        for schema, messages in sorted(by_schema.items(), key=_sort_key):
            expected = 0.0
            unreadable = 0.0
            for name, versions in consumers.items():
                per_reader = len(messages) / len(consumers)
                for version, share in versions.items():
                    expected += per_reader * share * self._failure(name, version, queue, schema)
                    if not self.reads(name, version, queue, schema):
                        unreadable += per_reader * share
            self._count_unreadable(report, queue, ("backlog", queue, schema), unreadable)
            taken = self._carry.take(("backlog-failed", queue, schema), expected)
            failed.extend(messages[: min(len(messages), taken)])
        entry = self._ledger[spec.name]
        if failed and spec.dlq_url is not None:
            self._send_bodies(
                queue_name_from_url(spec.dlq_url), [(m.body, m.schema) for m in failed]
            )
            entry.dead_lettered += len(failed)
            entry.consumed += len(got) - len(failed)
            report.dead_lettered[queue] = report.dead_lettered.get(queue, 0) + len(failed)
        else:
            entry.consumed += len(got)
        self._delete(spec.name, [m.receipt for m in got])

    # -- CloudWatch ------------------------------------------------------------------------------

    def _put_lambda_metrics(
        self,
        report: TickReport,
        weights: Mapping[str, Mapping[str, float]],
        invocations: Mapping[str, Mapping[str, float]],
        errors: Mapping[tuple[str, str], float],
        minutes: float,
    ) -> None:
        buckets = _minute_buckets(report.start, report.end)
        data: list[dict[str, Any]] = []
        for name, per in invocations.items():
            comp = self._components[name]
            for version, count in sorted(per.items()):
                behaviour = self.scenario.behaviour(name, version)
                expected = {
                    "Invocations": count,
                    "Errors": errors.get((name, version), 0.0),
                    "Throttles": behaviour.throttles_per_minute * minutes * weights[name][version],
                }
                dimensions = [
                    {"Name": "FunctionName", "Value": comp.function_name},
                    {"Name": "Resource", "Value": f"{comp.function_name}:{comp.alias}"},
                    {"Name": "ExecutedVersion", "Value": version},
                ]
                totals = {"Invocations": 0, "Errors": 0, "Throttles": 0}
                for timestamp, fraction in buckets:
                    if self.noise:
                        drawn = self._noisy(name, version, expected, timestamp, fraction)
                    else:
                        drawn = {
                            metric: self._carry.take(
                                ("metric", name, version, metric), amount * fraction
                            )
                            for metric, amount in expected.items()
                        }
                    for metric, value in drawn.items():
                        totals[metric] += value
                        data.append(
                            {
                                "MetricName": metric,
                                "Dimensions": dimensions,
                                "Timestamp": timestamp,
                                "Value": float(value),
                                "Unit": "Count",
                            }
                        )
                report.invocations[(name, version)] = totals["Invocations"]
                report.errors[(name, version)] = totals["Errors"]
                report.throttles[(name, version)] = totals["Throttles"]
        self._put_metrics("AWS/Lambda", data)

    def _noisy(
        self,
        name: str,
        version: str,
        expected: Mapping[str, float],
        timestamp: datetime,
        fraction: float,
    ) -> dict[str, int]:
        """One piece of a minute drawn around its expectations: Poisson invocations, binomial
        errors over them, Poisson throttles; each draw a pure function of the seed, the series
        and the piece (minute index and offset), whatever the order ticks run in."""
        since = (timestamp - self._noise_epoch).total_seconds()
        minute = math.floor(since / 60.0)
        offset = round(since - minute * 60.0, 3)

        def u(metric: str) -> float:
            return noise.uniform(self.noise_seed, name, version, metric, minute, offset)

        mean = expected["Invocations"] * fraction
        invocations = noise.poisson(mean, u("Invocations"))
        rate = min(1.0, expected["Errors"] / expected["Invocations"]) if mean > 0 else 0.0
        return {
            "Invocations": invocations,
            "Errors": noise.binomial(invocations, rate, u("Errors")),
            "Throttles": noise.poisson(expected["Throttles"] * fraction, u("Throttles")),
        }

    def _put_queue_ages(self, report: TickReport) -> None:
        at = max(report.start, report.end - timedelta(seconds=1))  # inside [t0, t1)
        data: list[dict[str, Any]] = []
        for queue, spec in self.manifest.queues.items():
            left = sum(self._remaining.get(queue, Counter()).values())
            age = (report.end - self._enqueued_at[queue]).total_seconds() if left > 0 else 0.0
            report.oldest_age_seconds[queue] = age
            data.append(
                {
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": spec.name}],
                    "Timestamp": at,
                    "Value": float(age),
                    "Unit": "Seconds",
                }
            )
        self._put_metrics("AWS/SQS", data)

    def _put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None:
        cloudwatch = self._client("cloudwatch")
        for chunk in _chunks(data, METRIC_BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)

    # -- SQS -------------------------------------------------------------------------------------

    def _send(self, queue: str, schema: Schema, count: int, *, origin: str) -> None:
        bodies = []
        for _ in range(count):
            self._sequence += 1
            body = json.dumps(
                {"origin": origin, "schema": schema, "seq": self._sequence, "seed": self.seed}
            )
            bodies.append((body, schema))
        self._send_bodies(queue, bodies)

    def _send_bodies(self, queue: str, bodies: list[tuple[str, Schema]]) -> None:
        sqs = self._client("sqs")
        url = self._queue_urls[queue]
        for chunk in _chunks(bodies, SQS_BATCH):
            answer = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": body,
                        "MessageAttributes": {
                            SCHEMA_ATTRIBUTE: {"DataType": "String", "StringValue": str(schema)}
                        },
                    }
                    for i, (body, schema) in enumerate(chunk)
                ],
            )
            if answer.get("Failed"):
                raise EnvironmentProblemError(
                    f"SendMessageBatch to {queue} failed: {answer['Failed']}"
                )
            self._ledger[queue].sent += len(chunk)

    def _receive(self, queue: str, count: int) -> list[_Received]:
        sqs = self._client("sqs")
        url = self._queue_urls[queue]
        out: list[_Received] = []
        while len(out) < count:
            answer = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(SQS_BATCH, count - len(out)),
                MessageAttributeNames=[SCHEMA_ATTRIBUTE],
                VisibilityTimeout=600,
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                attribute = message.get("MessageAttributes", {}).get(SCHEMA_ATTRIBUTE, {})
                out.append(
                    _Received(
                        receipt=message["ReceiptHandle"],
                        body=message["Body"],
                        schema=_schema_of(str(attribute.get("StringValue", ""))),
                    )
                )
        return out

    def _delete(self, queue: str, receipts: list[str]) -> None:
        sqs = self._client("sqs")
        url = self._queue_urls[queue]
        for chunk in _chunks(receipts, SQS_BATCH):
            answer = sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise EnvironmentProblemError(
                    f"DeleteMessageBatch on {queue} failed: {answer['Failed']}"
                )


def _sort_key(item: tuple[Schema, Any]) -> tuple[int, int, str]:
    schema = item[0]
    return (0, schema, "") if isinstance(schema, int) else (1, 0, schema)
