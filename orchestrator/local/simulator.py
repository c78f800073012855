"""The dry-run simulator: an emulated AWS account that behaves as a scenario says (DESIGN §7a).

A dry run executes the real state machine on the embedded engine with every Wait compressed to
0 s. Time is simulated instead: a :class:`SimClock` (the steps' ``Clock`` port) advances by the
*nominal* bake and poll durations, and for every simulated window the :class:`Simulator` writes
what the account would have recorded in it, so the figures the steps read are those of a real
bake. The work is split by what it touches:

* ``traffic_model`` and ``delivery_model`` (pure: no AWS, no moto): the window's arithmetic
  (traffic per version, schema mix, errors, backlog worked off, dead letters, unreadable
  deliveries, noise) and who receives what;
* ``account_seed``, ``alias_weights``, ``sqs_state``, ``cloudwatch_writer`` and ``schema_metrics``:
  the emulated account (functions and aliases, the live routing, real SQS messages, datapoints);
* this module: the :class:`Simulator` joining them, and the runner's hook (``before_step``).

What it does:

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
as they are; no rewrite is needed. :meth:`Simulator.queue_url` returns moto's own URL for a
queue (``sqs_state``).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.errors import EnvironmentProblemError, InputError, ResourceMissingError
from orchestrator.local import cloudwatch_writer, schema_metrics
from orchestrator.local import traffic_model as model
from orchestrator.local.account_seed import AccountSeeder
from orchestrator.local.alias_weights import AliasWeights
from orchestrator.local.delivery_model import DeliveryModel
from orchestrator.local.scenario import HotfixBehaviour, Scenario
from orchestrator.local.sim_clock import SimClock
from orchestrator.local.sqs_state import LedgerEntry, Received, SimulatedQueues
from orchestrator.model.manifest import Component, Manifest, VersionSpec, queue_name_from_url
from orchestrator.model.plan import Plan

__all__ = ["LedgerEntry", "SimClock", "SimulatedSmokeFailure", "Simulator", "TickReport"]

Schema = int | str
ClientFactory = Callable[[str], Any]


class SimulatedSmokeFailure(Exception):
    """What a simulated component version raises when its scenario says ``smoke: fail``: the
    component's code failing, answered as Lambda does (``FunctionError: Unhandled``), not an
    error of the orchestrator."""


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


def _add(counts: dict[str, int], queue: str, amount: int) -> None:
    counts[queue] = counts.get(queue, 0) + amount


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
        self.noise = model.Noise(scenario.noise.enabled, scenario.noise.seed, clock.now())
        """Lambda figures drawn around their expectations, per minute since the simulation began
        (not per wall-clock minute): the same release and seed give the same figures whenever
        the dry run starts."""
        self.overlap_bakes = overlap_bakes
        """Parallel bakes share simulated time (see :meth:`before_step`)."""
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._carry = model.Carry()
        self._components: dict[str, Component] = manifest.resolved
        self.versions = DeliveryModel(manifest, scenario, self._lock)
        """What every version reads and writes, what reaches it, how often it fails (pure)."""
        self._backlog = model.Backlog()
        self._queues = SimulatedQueues(lambda: self._client("sqs"), seed)
        self._routing = AliasWeights(self._components, lambda: self._client("lambda"), self._lock)
        self._account = AccountSeeder(self._client)
        self._drain_checks: defaultdict[tuple[str, int], int] = defaultdict(int)
        self._plan: Plan | None = None
        self._seeded = False

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
            self._account.role()
            for name, comp in self._components.items():
                live = self._account.function(name, comp, self.versions_needed(name))
                self.versions.set_from_version(name, comp.from_.version or live)
            for spec in self.manifest.queues.values():
                dlq = queue_name_from_url(spec.dlq_url) if spec.dlq_url is not None else None
                self._queues.create_with_dlq(spec.name, dlq)
            self._account.alarms(a for comp in self._components.values() for a in comp.gates.alarms)
            start = self.clock.now()
            for qname, spec in self.manifest.queues.items():
                behaviour = self.scenario.queue(qname)
                at = start - timedelta(seconds=behaviour.backlog_age_seconds)
                if not self._backlog.start(qname, at):
                    continue  # seeded before: the backlog is already there
                for schema, count in behaviour.backlog.items():
                    self._queues.send(spec.name, schema, count, origin="backlog")
                    self._backlog.add(qname, schema, count)
            self._seeded = True

    # -- public queries --------------------------------------------------------------------------

    def queue_url(self, name: str) -> str:
        """moto's URL of SQS queue ``name`` (the manifest's AWS URL reaches the same queue)."""
        urls = self._queues.urls
        if name in urls:
            return urls[name]
        for key, spec in self.manifest.queues.items():
            if key == name and spec.name in urls:
                return urls[spec.name]
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

    def function_handler(self, function: str) -> Callable[[dict[str, Any], Any], Any] | None:
        """The in-process handler answering a direct Invoke of a component's function (moto runs
        no code; smoke tests): ``invoke_hook.register_simulated_functions`` routes to it; None
        for a function that is no component of the release."""
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
            return {name: entry.as_dict() for name, entry in sorted(self._queues.ledger.items())}

    def ledger_mismatches(self) -> dict[str, tuple[int, int]]:
        """Queues whose real message count differs from the ledger: name -> (ledger, real)."""
        with self._lock:
            return self._queues.mismatches()

    def spec_of(self, name: str, version: str) -> VersionSpec:
        """What ``version`` of component ``name`` reads and writes (unknown: as ``from``)."""
        return self.versions.spec_of(name, version)

    def learn_hotfix(self, hotfix: Mapping[str, Any]) -> None:
        """Take the declarations of a hotfix handed to the release (``ApplyHotfix``'s input)
        for a version the manifest and the scenario do not know (``DeliveryModel.learn_hotfix``)."""
        self.versions.learn_hotfix(hotfix)

    def delivered(self, name: str, version: str) -> list[str]:
        """The manifest queues whose messages reach ``name@version``, in manifest order
        (``DeliveryModel.delivered``)."""
        return self.versions.delivered(name, version)

    def reads(self, name: str, version: str, queue: str, schema: Schema) -> bool:
        """Whether ``name@version`` declares reading ``schema`` on ``queue``."""
        return self.versions.reads(name, version, queue, schema)

    # -- the live routing ------------------------------------------------------------------------

    def invalidate_weights(self) -> None:
        """Forget the cached alias routing (call after any alias move)."""
        self._routing.invalidate()

    def live_weights(self) -> dict[str, dict[str, float]]:
        """Every component's alias routing: version -> fraction of traffic (0..1), cached
        between alias moves when the runner reports them (``watch_alias_moves``)."""
        return self._routing.live()

    def watch_alias_moves(self) -> Callable[[str, str, Mapping[str, float] | None], None]:
        """Opt into the routing cache; returns the callback to call after every alias move.

        The callback takes the function name, the alias and the new weights in percent (None
        when unknown: the cache is dropped and the next tick reads every alias).
        """
        self._routing.watch()
        return self.alias_moved

    def alias_moved(self, function: str, alias: str, weights: Mapping[str, float] | None) -> None:
        self._routing.moved(function, alias, weights)

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
        self.versions.mark_live(weights)
        invocations = model.split_traffic(self.scenario.traffic_per_minute, minutes, weights)
        fresh = model.messages_written(invocations, self.versions)
        readers = model.readers_of(weights, self.manifest.queues, self.versions)
        received = self._work_off_backlogs(minutes)
        backlog = {q: [m.schema for m in got] for q, got in received.items()}
        errors = model.expected_errors(invocations, fresh, readers, backlog, self.versions)
        self._put_lambda_metrics(report, weights, invocations, errors, minutes)
        for queue in self.manifest.queues:
            self._settle_backlog(report, queue, readers, received.get(queue, []))
            self._settle_live_traffic(report, queue, readers, fresh.get(queue, {}))
        self._put_queue_ages(report)
        schema_metrics.publish(  # contracts: true versions
            self.versions, self._carry, report, fresh, readers, backlog, self._put_metrics
        )

    def _work_off_backlogs(self, minutes: float) -> dict[str, list[Received]]:
        """Receive the backlog messages the consumers get through in the window (real ones)."""
        received: dict[str, list[Received]] = {}
        for queue in list(self._backlog.remaining):
            rate = self.scenario.queue(queue).drain_per_minute
            if rate is None:
                rate = self.scenario.traffic_per_minute
            count = self._backlog.quota(queue, rate, minutes, self._carry)
            if count <= 0:
                continue
            got = self._queues.receive(self.manifest.queues[queue].name, count)
            received[queue] = got
            self._backlog.worked_off(queue, [m.schema for m in got])
        return received

    def _unreadable(self, report: TickReport, queue: str, count: int) -> None:
        if count:
            _add(report.unreadable, queue, count)
            self._queues.ledger[self.manifest.queues[queue].name].unreadable += count

    def _settle_live_traffic(
        self,
        report: TickReport,
        queue: str,
        readers: model.Readers,
        fresh: Mapping[Schema, float],
    ) -> None:
        """Count the live-traffic deliveries nobody could read; the messages the readers failed
        on (unreadable ones included) become real messages in the DLQ."""
        dlq_url = self.manifest.queues[queue].dlq_url
        settled = model.settle_live_traffic(
            queue, fresh, readers, self.versions, self._carry, has_dlq=dlq_url is not None
        )
        for outcome in settled:
            self._unreadable(report, queue, outcome.unreadable)
            if dlq_url is not None and outcome.failed:
                dlq = queue_name_from_url(dlq_url)
                self._queues.send(dlq, outcome.schema, outcome.failed, origin=queue)
                _add(report.dead_lettered, queue, outcome.failed)

    def _settle_backlog(
        self, report: TickReport, queue: str, readers: model.Readers, got: list[Received]
    ) -> None:
        """Delete the backlog messages received; those the readers fail on go to the DLQ first."""
        if not got:
            return
        spec = self.manifest.queues[queue]
        report.drained[queue] = len(got)
        by_schema: dict[Schema, list[Received]] = defaultdict(list)
        for message in got:
            by_schema[message.schema].append(message)
        counts = {schema: len(messages) for schema, messages in by_schema.items()}
        failed: list[Received] = []
        for outcome in model.settle_backlog(queue, counts, readers, self.versions, self._carry):
            self._unreadable(report, queue, outcome.unreadable)
            failed.extend(by_schema[outcome.schema][: outcome.failed])
        entry = self._queues.ledger[spec.name]
        if failed and spec.dlq_url is not None:
            self._queues.send_bodies(
                queue_name_from_url(spec.dlq_url), [(m.body, m.schema) for m in failed]
            )
            entry.dead_lettered += len(failed)
            entry.consumed += len(got) - len(failed)
            _add(report.dead_lettered, queue, len(failed))
        else:
            entry.consumed += len(got)
        self._queues.delete(spec.name, [m.receipt for m in got])

    # -- CloudWatch ------------------------------------------------------------------------------

    def _put_lambda_metrics(
        self,
        report: TickReport,
        weights: Mapping[str, Mapping[str, float]],
        invocations: Mapping[str, Mapping[str, float]],
        errors: Mapping[tuple[str, str], float],
        minutes: float,
    ) -> None:
        buckets = model.minute_buckets(report.start, report.end)
        data: list[dict[str, Any]] = []
        for name, per in invocations.items():
            comp = self._components[name]
            for version, count in sorted(per.items()):
                expected = model.expected_figures(
                    count,
                    errors.get((name, version), 0.0),
                    self.scenario.behaviour(name, version).throttles_per_minute,
                    minutes,
                    weights[name][version],
                )
                figures = model.figures_per_minute(
                    name, version, expected, buckets, self.noise, self._carry
                )
                data.extend(
                    cloudwatch_writer.lambda_datapoints(
                        comp.function_name, comp.alias, version, figures
                    )
                )
                totals = {metric: 0 for metric in model.LAMBDA_METRICS}
                for _, drawn in figures:
                    for metric, value in drawn.items():
                        totals[metric] += value
                report.invocations[(name, version)] = totals["Invocations"]
                report.errors[(name, version)] = totals["Errors"]
                report.throttles[(name, version)] = totals["Throttles"]
        self._put_metrics("AWS/Lambda", data)

    def _put_queue_ages(self, report: TickReport) -> None:
        at = max(report.start, report.end - timedelta(seconds=1))  # inside [t0, t1)
        data: list[dict[str, Any]] = []
        for queue, spec in self.manifest.queues.items():
            age = self._backlog.oldest_age(queue, report.end)
            report.oldest_age_seconds[queue] = age
            data.append(cloudwatch_writer.queue_age_datapoint(spec.name, at, age))
        self._put_metrics("AWS/SQS", data)

    def _put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None:
        cloudwatch_writer.put_metrics(self._client("cloudwatch"), namespace, data)
