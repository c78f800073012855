"""Per-schema message metrics end to end (issue 12, item 2): the simulator publishes them for
``contracts: true`` versions, DrainQueues and Verify read them from the emulated CloudWatch.

What the drain test shows, in figures: the per-schema counts reach DrainQueues (its waiting
reasons name the old schema's last reception), and the drain is proven at the same simulated
instant as without them. It cannot be sooner: the counts see the messages consumers received,
never those still queued, so they are a second condition on the age rule, never a proof
before it (``orchestrator/planning/schema_metrics.py``).

What they do add, the poison test shows: a schema-1 message that keeps failing is skipped by
``ApproximateAgeOfOldestMessage``, so the age rule alone proves the drain while it waits and lets
c@2, which reads only schema 2, go live beside it; with c's per-schema counts (its handler written
with ``orchestrator.contracts``, its EMF put into the engine's CloudWatch) the same check, at the
same time after the cutover, holds until SQS has dead-lettered the message.
"""

from __future__ import annotations

import contextlib
import io
import threading
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from orchestrator.contracts import Component
from orchestrator.contracts.metrics import emf_to_metric_data, parse_emf
from orchestrator.steps import drain_queues
from tests.factories import manifest_data
from tests.unit.test_contracts_events import from_received
from tests.workflow.conftest import (
    MakeRun,
    backwards_moves,
    lost_messages,
    moves_of,
    unreadable_deliveries,
)

pytestmark = pytest.mark.workflow

BAKE = 300
STEPS = [10, 50, 100]
RUN_TIMEOUT = 300


def producer_first(release: str, p: str, c: str) -> dict[str, Any]:
    """p moves q from schema 1 to 2; c@2 drops schema 1: p first, drain q of 1, then c."""
    return manifest_data(
        {
            p: {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            c: {
                "from": {"version": "1", "reads": {"q": [1, 2]}},
                "to": {"version": "2", "reads": {"q": [2]}},
            },
        },
        release=release,
        defaults={"alias": "live", "strategy": {"steps": STEPS, "bake_seconds": BAKE}},
    )


def drain_run(dry: MakeRun, contracts: bool) -> tuple[dict[str, Any], list[str], Any]:
    """40 schema-1 messages worked off at 2 a minute: some left when p is cut over. The two runs
    share the emulated account: each has its own functions (p/c, or pc/cc with contracts)."""
    p, c = ("pc", "cc") if contracts else ("p", "c")
    data = producer_first(f"schema-drain-{c}", p, c)
    scenario: dict[str, Any] = {
        "queues": {"q": {"backlog": {"1": 40}, "drain_per_minute": 2}},
        "noise": False,
    }
    if contracts:
        scenario["versions"] = {f"{c}@1": {"contracts": True}, f"{c}@2": {"contracts": True}}
    run = dry(data, scenario)
    assert run.deployment is not None
    pending: list[str] = []
    check = drain_queues.drained

    def drained(*args: Any) -> str | None:
        waiting = check(*args)
        if waiting is not None:
            pending.append(waiting)
        return waiting

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drain_queues, "drained", drained)
        result = run.run(timeout=RUN_TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    record = run.deployment.ports.records.get(data["release"], "drained#q#1")
    assert record is not None
    return record, pending, result


def test_drain_with_per_schema_counts_is_proven_when_the_age_rule_would_prove_it(
    dry: MakeRun,
) -> None:
    plain, plain_pending, _ = drain_run(dry, contracts=False)
    counted, counted_pending, result = drain_run(dry, contracts=True)

    # the counts reached DrainQueues: while schema 1 was still worked off, it said so
    assert not any("schema 1" in p for p in plain_pending)
    assert any("schema 1 last received by cc until" in p for p in counted_pending), counted_pending
    # the same proof at the same simulated instant after the cutover: 0 s sooner, 0 s later
    assert plain["kind"] == counted["kind"] == "empty"

    def after_cutover(record: dict[str, Any]) -> float:
        proven = datetime.fromisoformat(str(record["at"]))
        return (proven - datetime.fromisoformat(str(record["cutover"]))).total_seconds()

    assert after_cutover(counted) == after_cutover(plain) == 300.0  # 10 left, 2 a minute
    assert result.messages["q"]["queued"] == 0


def test_verify_puts_a_downstream_failure_on_the_new_schema(dry: MakeRun) -> None:
    """c@1 fails half of the schema-2 messages p@2 writes: p's canary fails at 10% with c
    broken, and the verdict says the failures are on schema 2, not on schema 1."""
    data = manifest_data(
        {
            "p": {
                "from": {"version": "1", "writes": {"q": 1}},
                "to": {"version": "2", "writes": {"q": 2}},
            },
            "c": {"from": {"version": "1", "reads": {"q": [1, 2]}}},
        },
        release="schema-verify",
        defaults={
            "alias": "live",
            "strategy": {"steps": STEPS, "bake_seconds": BAKE},
            "gates": {"judge": "threshold", "max_error_rate": 0.01},
        },
    )
    scenario = {
        "versions": {"c@1": {"contracts": True, "errors_on": {"q": {"2": 0.5}}}},
        "noise": False,
    }
    result = dry(data, scenario).run(timeout=RUN_TIMEOUT)
    assert result.status in ("HALTED", "FAILED")
    failure = result.report["failure"]
    assert failure["component"] == "p" and failure["step"] == 10.0
    line = next(r for r in failure["reasons"] if r.startswith("c on q: schema 2: "))
    assert "the failures are on p@2's new schema 2" in line
    assert "schema 1: 0 of " in line


# -- a poison message: the per-schema counts hold a drain the age rule alone would prove ----------

POISON_RETRY_SECONDS = 120
"""How often the consumer's event source mapping gets the poison message again (its visibility
timeout), in simulated time."""
RECEIVED_BEFORE_THE_RELEASE = 3
"""The poison has failed three times before the release starts: ``ApproximateAgeOfOldestMessage``
no longer counts it (AWS: a message received three times or more moves to the back of the queue
and the metric points at the next one), so the queue's age says 0 while it waits."""


class PoisonOrder(BaseModel):
    order_id: str
    amount_cents: int


class PoisonedConsumer:
    """c@1's event source mapping for one real schema-1 message c cannot process (a poison).

    The simulator knows nothing of the message: it models the rest of the account, and its
    ``ApproximateAgeOfOldestMessage`` for the queue is 0 (the metric skips the poison). This
    harness plays what is left: every ``POISON_RETRY_SECONDS`` of simulated time the mapping
    receives the poison (a real ``ReceiveMessage`` on the engine's queue: moto counts the
    receives and, past the redrive policy's ``maxReceiveCount``, moves it to the DLQ, as SQS
    does), calls c's handler, written with :mod:`orchestrator.contracts`, with the record, and
    makes the message visible again. With ``contracts`` the EMF documents the handler printed are
    put into CloudWatch as Lambda's log ingestion would, stamped with the simulated minute;
    without, c is a handler written without the library and publishes nothing.
    """

    def __init__(self, run: Any, queue: str, *, contracts: bool) -> None:
        self.sqs = run.engine.client("sqs")
        self.cloudwatch = run.engine.client("cloudwatch")
        self.queue = queue
        self.url = run.simulator.queue_url(queue)
        self.contracts = contracts
        self.consumer = Component("c", raise_on_entire_batch_failure=False)

        @self.consumer.reads(queue, 1, PoisonOrder)
        def price(order: PoisonOrder) -> None:
            if order.amount_cents < 0:
                raise ValueError(f"cannot price {order.order_id}: negative amount")

        @self.consumer.reads(queue, 2, PoisonOrder)
        def price_v2(order: PoisonOrder) -> None:
            price(order)

        self.receives: list[datetime] = []
        self.dead_lettered_at: datetime | None = None
        self._next: datetime | None = None
        self._lock = threading.Lock()

    def seed(self) -> None:
        """The poison, stamped schema 1 by the producer library, failed three times already."""
        producer = Component("p").writes(self.queue, 1, PoisonOrder)
        producer.send(self.sqs, self.url, PoisonOrder(order_id="o-poison", amount_cents=-1))
        for _ in range(RECEIVED_BEFORE_THE_RELEASE):
            assert self._receive() is not None

    def _receive(self) -> dict[str, Any] | None:
        messages = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,  # visible again at once: the harness keeps the retry clock
        ).get("Messages", [])
        assert len(messages) <= 1, "only the poison is a real message on this queue"
        return messages[0] if messages else None

    def poll(self, now: datetime) -> None:
        """What the mapping did up to ``now`` (called at every DrainQueues check)."""
        with self._lock:
            if self.dead_lettered_at is not None or (self._next is not None and now < self._next):
                return
            self._next = now + timedelta(seconds=POISON_RETRY_SECONDS)
            message = self._receive()
            if message is None:  # past maxReceiveCount: SQS moved it to the DLQ
                self.dead_lettered_at = now
                return
            self.receives.append(now)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                answer = self.consumer.handle(
                    {"Records": [from_received(message, self.queue)]},
                    SimpleNamespace(function_version="1"),
                )
            assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == [
                message["MessageId"]
            ]
            if not self.contracts:
                return
            minute = now.replace(second=0, microsecond=0)
            for document in parse_emf(printed.getvalue()):
                for namespace, data in emf_to_metric_data(document).items():
                    stamped = [{**datum, "Timestamp": minute} for datum in data]
                    self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=stamped)

    def waiting(self) -> bool:
        """The poison is still on the queue (not yet dead-lettered)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values()) > 0


def poisoned_run(dry: MakeRun, contracts: bool) -> dict[str, Any]:
    """p moves q from schema 1 to 2, c@2 reads only 2: the drain of schema 1 guards c. No backlog
    but the poison; c@1 marked ``contracts: true`` or not."""
    tag = "counted" if contracts else "aged"
    queue = f"orders-{tag}"
    data = manifest_data(
        {
            "p": {
                "from": {"version": "1", "writes": {queue: 1}},
                "to": {"version": "2", "writes": {queue: 2}},
            },
            "c": {
                "from": {"version": "1", "reads": {queue: [1, 2]}},
                "to": {"version": "2", "reads": {queue: [2]}},
            },
        },
        release=f"poison-{tag}",
        defaults={"alias": "live", "strategy": {"steps": STEPS, "bake_seconds": BAKE}},
    )
    for spec in data["components"].values():
        spec["function"] = f"{spec['function']}-{tag}"  # the two runs share the account
    data["queues"][queue]["dlq_url"] = f"{data['queues'][queue]['url']}-dlq"
    scenario: dict[str, Any] = {"noise": False}
    if contracts:
        scenario["versions"] = {"c@1": {"contracts": True}, "c@2": {"contracts": True}}
    run = dry(data, scenario, sound=False)  # the poison is not in the simulator's books
    assert run.deployment is not None
    poison = PoisonedConsumer(run, queue, contracts=contracts)
    poison.seed()
    polls: list[tuple[datetime, str | None, bool]] = []
    check = drain_queues.drained

    def drained(ports: Any, context: Any, drain: Any, now: datetime) -> str | None:
        poison.poll(now)
        waiting = check(ports, context, drain, now)
        polls.append((now, waiting, poison.waiting()))
        return waiting

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drain_queues, "drained", drained)
        result = run.run(timeout=RUN_TIMEOUT)
    assert result.status == "SUCCEEDED", result.report.get("error")
    assert unreadable_deliveries(result) == {} and backwards_moves(result) == []
    record = run.deployment.ports.records.get(data["release"], f"drained#{queue}#1")
    assert record is not None
    first_c_move = min(
        datetime.fromisoformat(str(m["at"])) for m in moves_of(result, "c") if "at" in m
    )
    return {
        "record": record,
        "polls": polls,
        "poison": poison,
        "result": result,
        "first_c_move": first_c_move,
        "lost": lost_messages(result),
        "queue": queue,
    }


def test_per_schema_counts_hold_a_drain_the_age_rule_alone_proves_over_a_poison_message(
    dry: MakeRun,
) -> None:
    """The age metric skips a poison schema-1 message: the age rule alone proves the drain while
    it waits, and c@2, which reads only schema 2, goes live beside it. With c's per-schema
    counts, its failures on schema 1 hold the drain until SQS dead-letters it."""
    aged = poisoned_run(dry, contracts=False)
    counted = poisoned_run(dry, contracts=True)

    # the age rule alone: proven by age while the poison was still on the queue, and c moved
    proven_at = datetime.fromisoformat(str(aged["record"]["at"]))
    assert aged["record"]["kind"] == "age"
    assert [w for at, _, w in aged["polls"] if at == proven_at] == [True]
    assert aged["poison"].dead_lettered_at is None  # it never left: c@2 gets it next
    assert aged["first_c_move"] >= proven_at
    assert aged["lost"] == {aged["queue"]: "the ledger says 0 queued, the queue holds 1"}

    # the per-schema counts: every check while the age rule held but schema 1 was failing waited
    held = [
        (at, why) for at, why, _ in counted["polls"] if why and "the age rule holds, but" in why
    ]
    assert held, counted["polls"]
    assert all("schema 1 last received by c until" in why for _, why in held)
    assert all(w for at, why, w in counted["polls"] if why is not None)
    poison = counted["poison"]
    assert len(poison.receives) == 5 - RECEIVED_BEFORE_THE_RELEASE  # maxReceiveCount 5
    assert poison.dead_lettered_at is not None
    counted_at = datetime.fromisoformat(str(counted["record"]["at"]))
    assert counted["record"]["kind"] == "empty"  # the poison is gone: the DLQ has it
    assert counted_at >= poison.dead_lettered_at
    assert counted["first_c_move"] >= counted_at
    assert counted["lost"] == {
        f"{counted['queue']}-dlq": "the ledger says 0 queued, the queue holds 1"
    }

    def after_cutover(record: dict[str, Any]) -> float:
        proven = datetime.fromisoformat(str(record["at"]))
        return (proven - datetime.fromisoformat(str(record["cutover"]))).total_seconds()

    assert after_cutover(counted["record"]) > after_cutover(aged["record"])
    # held at the very check, counted from the cutover, where the age rule alone proved it
    cutover = datetime.fromisoformat(str(counted["record"]["cutover"]))
    assert after_cutover(aged["record"]) in {(at - cutover).total_seconds() for at, _ in held}
