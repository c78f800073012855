"""The fault-injection matrix (issue 9): AWS faults and step crashes in real releases.

Each row runs the seed release through the real ASL on the embedded engine with one fault
injected into the ports the steps use (the adapters' methods: what a throttled or failing AWS
call looks like to a step, ``TransientError`` for throttling and 5xx as ``orchestrator.aws.errors``
maps them), or into a step's Lambda invocation itself. Every row asserts the end status, the
final weights, that the recorded actions are exactly the alias moves that happened, no backwards
move, no message lost or unreadable (the ``dry`` fixture's invariant), and that the report or the
notice tells on-call what happened.

``make faults`` runs the matrix and prints it as a table: fault | expected | observed.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import EnvironmentProblemError, TransientError
from orchestrator.model.live import MetricResult
from orchestrator.step_handler import StepHandler
from tests.workflow.conftest import MakeRun

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
BREAKS: dict[str, Any] = yaml.safe_load(
    (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
)
TIMEOUT = 180.0
TABLE = os.environ.get("ROLLOUT_FAULTS_TABLE")
"""When set, every row appends {fault, expected, observed} to this JSON-lines file."""

DONE = {"ingest": {"43": 100.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}}
UNTOUCHED = {"ingest": {"42": 100.0}, "enrich": {"17": 100.0}, "store": {"5": 100.0}}


def seed() -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    data["defaults"]["strategy"] = {"steps": [50, 100], "bake_seconds": 60}
    return data


@dataclass(frozen=True)
class Fault:
    """One row: ``target`` is ``port.method`` (a ports adapter) or ``step:Name`` (a crash of
    that step's Lambda invocation); ``times`` None means every call."""

    name: str
    target: str
    expected: str
    final: dict[str, dict[str, float]]
    times: int | None = 1
    error: Callable[[], BaseException] = lambda: TransientError("Throttling: Rate exceeded")
    lost_reply: bool = False
    """The call takes effect, then its reply is lost (the error comes after the call)."""
    scenario: dict[str, Any] | None = None
    tells: str = ""
    """A phrase the report's error or a notice must contain ("" for a clean release)."""


ROWS = [
    Fault("UpdateAlias throttled once", "aliases.set_weights", "SUCCEEDED", DONE),
    Fault(
        "UpdateAlias throttled every time",
        "aliases.set_weights",
        "HALTED",
        UNTOUCHED,
        times=None,
        tells="Throttling",
    ),
    Fault("UpdateAlias reply lost once", "aliases.set_weights", "SUCCEEDED", DONE, lost_reply=True),
    Fault("GetAlias 5xx once", "aliases.read", "SUCCEEDED", DONE),
    Fault("GetAlias (reader) 5xx once", "alias_reads.read", "SUCCEEDED", DONE),
    Fault("GetMetricData throttled once", "metrics.query", "SUCCEEDED", DONE),
    Fault(
        "GetMetricData throttled every time",
        "metrics.query",
        "HALTED",
        {"ingest": {"42": 100.0}, "enrich": {"17": 50.0, "18": 50.0}, "store": {"5": 100.0}},
        times=None,
        tells="CloudWatch metrics could not be read",
    ),
    Fault("GetQueueAttributes throttled once", "queues.depth", "SUCCEEDED", DONE),
    Fault("DynamoDB PutItem throttled once", "records.put", "SUCCEEDED", DONE),
    Fault(
        "DynamoDB PutItem lost right after a move",
        "records.put",
        "SUCCEEDED",
        DONE,
        lost_reply=True,
    ),
    Fault("DynamoDB Query throttled once", "records.list", "SUCCEEDED", DONE),
    Fault(
        "DynamoDB unavailable at ReleaseLocks",
        "leases.release",
        "SUCCEEDED",
        DONE,
        times=None,
        error=lambda: EnvironmentProblemError("DynamoDB unavailable"),
        tells="its locks were left behind",
    ),
    Fault(
        "SNS unavailable during a roll-forward",
        "notifier.publish",
        "ROLLED_FORWARD",
        {"ingest": {"43": 100.0}, "enrich": {"19": 100.0}, "store": {"5": 100.0}},
        times=None,
        error=lambda: EnvironmentProblemError("SNS unavailable"),
        scenario=BREAKS,
    ),
    Fault(
        "PrepareShift crashes every time",
        "step:PrepareShift",
        "HALTED",
        UNTOUCHED,
        times=None,
        error=lambda: RuntimeError("injected crash"),
        tells="injected crash",
    ),
    Fault(
        "Advance crashes once",
        "step:Advance",
        "HALTED",
        {"ingest": {"42": 100.0}, "enrich": {"17": 50.0, "18": 50.0}, "store": {"5": 100.0}},
        error=lambda: RuntimeError("injected crash"),
        tells="injected crash",
    ),
    Fault(
        "FinishShift (promotion) crashes once",
        "step:FinishShift",
        "HALTED",
        {"ingest": {"42": 100.0}, "enrich": {"18": 100.0}, "store": {"5": 100.0}},
        error=lambda: RuntimeError("injected crash"),
        tells="injected crash",
    ),
]


class Injector:
    """Counts the calls it fails and the alias moves that really happened."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.left = fault.times
        self.fired = 0
        self.real_moves: list[dict[str, float]] = []

    def should_fire(self) -> bool:
        if self.left is None:
            self.fired += 1
            return True
        if self.left > 0:
            self.left -= 1
            self.fired += 1
            return True
        return False

    def wrap(self, method: Callable[..., Any], *, moves: bool = False) -> Callable[..., Any]:
        fault = self.fault

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not fault.lost_reply and self.should_fire():
                raise fault.error()
            result = method(*args, **kwargs)
            if moves:
                self.real_moves.append(dict(result.weights))
            if fault.lost_reply and self.armed_for(args) and self.should_fire():
                raise fault.error()
            return result

        return wrapped

    def armed_for(self, args: tuple[Any, ...]) -> bool:
        # a lost DynamoDB write matters right after a move: the component's ledger entry
        if self.fault.target == "records.put":
            return (
                len(args) >= 2 and str(args[1]).startswith("component#") and bool(self.real_moves)
            )
        return True


def install(run: Any, fault: Fault, monkeypatch: pytest.MonkeyPatch) -> Injector:
    injector = Injector(fault)
    ports = run.deployment.ports
    router = ports.aliases
    if fault.target.startswith("step:"):
        step = fault.target.split(":", 1)[1]
        hook = run.deployment.before_step

        def before(name: str, event: Any) -> None:
            if name == step and injector.should_fire():
                raise fault.error()
            if hook is not None:
                hook(name, event)

        run.deployment.before_step = before
        monkeypatch.setattr(router, "set_weights", _counting(injector, router.set_weights))
        return injector
    port, method = fault.target.split(".")
    adapter = getattr(ports, port)
    if port == "aliases" and method == "set_weights":
        monkeypatch.setattr(adapter, method, injector.wrap(adapter.set_weights, moves=True))
    else:
        monkeypatch.setattr(adapter, method, injector.wrap(getattr(adapter, method)))
        monkeypatch.setattr(router, "set_weights", _counting(injector, router.set_weights))
    return injector


def _counting(injector: Injector, method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        injector.real_moves.append(dict(result.weights))
        return result

    return wrapped


def record_row(fault: Fault, observed: str) -> None:
    if TABLE:
        with open(TABLE, "a", encoding="utf-8") as out:
            out.write(
                json.dumps({"fault": fault.name, "expected": fault.expected, "observed": observed})
                + "\n"
            )


def tells(result: Any, phrase: str) -> bool:
    texts = [json.dumps(result.report.get("error") or {})]
    texts += [json.dumps(result.report.get("cleanup") or {})]
    texts += [n["subject"] + "\n" + n["message"] for n in result.notifications]
    return any(phrase in text for text in texts)


@pytest.mark.parametrize("fault", ROWS, ids=lambda f: f.name)
def test_fault(dry: MakeRun, monkeypatch: pytest.MonkeyPatch, fault: Fault) -> None:
    run = dry(seed(), fault.scenario)
    injector = install(run, fault, monkeypatch)
    result = run.run(timeout=TIMEOUT)
    final = {name: c["weights"] for name, c in result.report["final"].items()}
    observed = f"{result.status}; final {final}"
    record_row(fault, observed)
    assert injector.fired, "the fault never fired: the row tests nothing"
    assert result.status == fault.expected, (observed, result.report.get("error"))
    assert final == fault.final
    # the recorded actions are exactly the alias moves that happened, once each
    assert [a["weights"] for a in result.report["actions"]] == injector.real_moves
    if fault.tells:
        assert tells(result, fault.tells), (fault.tells, result.report.get("error"))
    if fault.expected != "ROLLED_FORWARD":
        assert not any("hotfix needed" in n["subject"] for n in result.notifications)


STORY = [
    ("enrich", "shift", {"17": 50.0, "18": 50.0}),
    ("enrich", "shift", {"18": 100.0}),
    ("ingest", "shift", {"42": 50.0, "43": 50.0}),
    ("ingest", "pull-back", {"42": 100.0}),
    ("enrich", "hotfix-shift", {"18": 50.0, "19": 50.0}),
    ("enrich", "hotfix-shift", {"19": 100.0}),
    ("ingest", "shift", {"42": 50.0, "43": 50.0}),
    ("ingest", "shift", {"43": 100.0}),
]
"""The seed's roll-forward story in steps [50, 100]: enrich first, ingest's canary breaks
enrich@18 and is pulled back, hotfix enrich@19 ships, ingest goes again."""


def test_every_step_retried_after_its_effect(dry: MakeRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step runs twice on the same input (a retry after its effect): the release tells
    the same story as without the repeats, with every action recorded once and one round."""
    invoke = StepHandler.invoke

    def twice(self: StepHandler[Any, Any], event: dict[str, Any], ports: Any) -> dict[str, Any]:
        invoke(self, event, ports)
        return invoke(self, event, ports)

    monkeypatch.setattr(StepHandler, "invoke", twice)
    repeated = dry(seed(), BREAKS).run(timeout=TIMEOUT)
    record_row(
        Fault("every step retried after its effect", "step:*", "ROLLED_FORWARD", {}),
        repeated.status,
    )
    assert repeated.status == "ROLLED_FORWARD"
    moves = [(a["component"], a["action"], a["weights"]) for a in repeated.report["actions"]]
    assert moves == STORY
    assert [r["round"] for r in repeated.report["rounds"]] == [1]
    assert [h["version"] for h in repeated.report["hotfixes"]] == ["19"]


def test_the_story_without_repeats(dry: MakeRun) -> None:
    """The baseline of the row above: the same story, each step run once."""
    result = dry(seed(), BREAKS).run(timeout=TIMEOUT)
    assert result.status == "ROLLED_FORWARD"
    assert [(a["component"], a["action"], a["weights"]) for a in result.report["actions"]] == STORY


def test_metric_series_incomplete_once_rebakes(
    dry: MakeRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial GetMetricData answer is an ERROR verdict: the step bakes again, never PASSES."""
    run = dry(seed())
    assert run.deployment is not None
    metrics = run.deployment.ports.metrics
    query = metrics.query
    state = {"left": 1}

    def partial(queries: Any, start: Any, end: Any) -> dict[str, MetricResult]:
        answer: dict[str, MetricResult] = query(queries, start, end)
        if state["left"] and queries:
            state["left"] -= 1
            return {k: v.model_copy(update={"complete": False}) for k, v in answer.items()}
        return answer

    monkeypatch.setattr(metrics, "query", partial)
    result = run.run(timeout=TIMEOUT)
    record_row(
        Fault("GetMetricData partial once", "metrics.query", "SUCCEEDED", DONE), result.status
    )
    assert result.status == "SUCCEEDED"
    phases = [v["phase"] for c in result.report["final"].values() for v in c["verdicts"]]
    assert "ERROR" in phases
    assert not any(
        v["phase"] == "PASSED" and not v["values"]
        for c in result.report["final"].values()
        for v in c["verdicts"]
    )
