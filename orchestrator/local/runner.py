"""The orchestrator deployed on an engine: state machine, step functions, table, topic.

``LocalDeployment`` puts the real ``rollout.asl.json`` and the real step handlers on the embedded
engine (or, with ``invoke`` routed over HTTP, behind a Lambda endpoint), builds the ports the
handlers use from the engine's emulated account, and runs executions to their end. The dry run
(``rollout dry-run``) and every workflow test use it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.aws.alias_router import LambdaAliasReader, LambdaAliasRouter
from orchestrator.aws.clock import SystemClock
from orchestrator.aws.metrics import CloudWatchMetricSource
from orchestrator.aws.notifier import SnsNotifier
from orchestrator.aws.queue_inspector import SqsQueueInspector
from orchestrator.aws.store import DynamoLeaseStore, DynamoRecordStore, create_table
from orchestrator.definition import load_definition
from orchestrator.steps import step_handlers
from orchestrator.steps.runtime import Ports, logger

if TYPE_CHECKING:
    from orchestrator.local.engine import EmbeddedEngine
    from orchestrator.model.live import AliasState
    from orchestrator.ports import Clock

TABLE_NAME = "rollout-releases"
TOPIC_NAME = "rollout-notifications"
INBOX_NAME = "rollout-notifications-inbox"
"""An SQS queue subscribed to the topic, so a dry run can show what on-call would receive."""
STATE_MACHINE_NAME = "rollout"
FUNCTION_PREFIX = "rollout-"

BeforeStep = Callable[[str, dict[str, Any]], None]
AliasMoved = Callable[[str, str, Mapping[str, float] | None], None]
"""Told ``(function, alias, new weights in percent)`` after the release moves an alias."""


def function_name(step: str) -> str:
    return f"{FUNCTION_PREFIX}{step}"


@dataclass
class ExecutionResult:
    """How an execution ended, with its report and history figures."""

    execution_arn: str
    status: str
    report: dict[str, Any] | None
    events: int
    transitions: int
    error: str | None = None
    cause: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


class LocalDeployment:
    """The orchestrator on an embedded engine, ready to start releases."""

    def __init__(
        self,
        engine: EmbeddedEngine,
        *,
        clock: Clock | None = None,
        before_step: BeforeStep | None = None,
        log_level: str = "WARNING",
        on_alias_move: AliasMoved | None = None,
    ) -> None:
        logger.setLevel(log_level)
        self.engine = engine
        self.before_step = before_step
        self._lock = threading.Lock()
        self._inbox: list[dict[str, str]] = []
        dynamodb = engine.client("dynamodb")
        cloudwatch = engine.client("cloudwatch")
        sns = engine.client("sns")
        self.topic_arn: str = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        self.sqs = engine.client("sqs")
        self.lambda_client = engine.client("lambda")
        """The client behind the release's alias moves (tests inject faults on it)."""
        self.inbox_url: str = self.sqs.create_queue(QueueName=INBOX_NAME)["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.inbox_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.metric_calls = 0
        cloudwatch.meta.events.register(
            "before-call.cloudwatch.GetMetricData", self._count_metric_call
        )
        if TABLE_NAME not in dynamodb.list_tables().get("TableNames", []):
            create_table(dynamodb, TABLE_NAME)
        self.ports = Ports(
            aliases=_ReportingRouter(LambdaAliasRouter(self.lambda_client), on_alias_move),
            alias_reads=LambdaAliasReader(engine.client("lambda")),
            queues=SqsQueueInspector(engine.client("sqs"), cloudwatch),
            metrics=CloudWatchMetricSource(cloudwatch),
            leases=DynamoLeaseStore(dynamodb, TABLE_NAME),
            records=DynamoRecordStore(dynamodb, TABLE_NAME),
            notifier=SnsNotifier(sns, self.topic_arn),
            clock=clock or SystemClock(),
        )
        self.sfn = engine.client("stepfunctions")
        self.state_machine_arn = self.deploy()

    def _count_metric_call(self, **_: Any) -> None:
        with self._lock:
            self.metric_calls += 1

    def notifications(self) -> list[dict[str, str]]:
        """Every situation report published so far (an SQS inbox subscribed to the topic)."""
        out: list[dict[str, str]] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                break
            for message in got:
                body = json.loads(message["Body"])
                out.append({"subject": body.get("Subject", ""), "message": body.get("Message", "")})
            self.sqs.delete_message_batch(
                QueueUrl=self.inbox_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )
        with self._lock:
            self._inbox.extend(out)
            return list(self._inbox)

    def handlers(self) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
        out: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        for step, handler in step_handlers().items():
            bound = handler.bind(self.ports)
            out[function_name(step)] = self._with_hook(step, bound)
        return out

    def _with_hook(
        self, step: str, bound: Callable[[dict[str, Any], Any], Any]
    ) -> Callable[[dict[str, Any], Any], Any]:
        def handler(event: dict[str, Any], context: Any) -> Any:
            if self.before_step is not None:
                self.before_step(step, event)
            return bound(event, context)

        return handler

    def substitutions(self) -> dict[str, str]:
        return {
            f"{step}Arn": self.engine.function_arn(function_name(step)) for step in step_handlers()
        }

    def deploy(self) -> str:
        self.engine.register_handlers(self.handlers())
        return self.engine.deploy_state_machine(
            STATE_MACHINE_NAME, load_definition(), self.substitutions()
        )

    # -- executions ------------------------------------------------------------------------------

    def start(
        self, manifest_data: Mapping[str, Any], options: Mapping[str, Any] | None = None
    ) -> str:
        """Start (or find) the execution named after the release id."""
        release = str(manifest_data["release"])
        payload = json.dumps({"manifest": dict(manifest_data), "options": dict(options or {})})
        try:
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=release, input=payload
            )
            return str(started["executionArn"])
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return self.execution_arn(release)

    def execution_arn(self, release: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{release}"

    def wait(
        self,
        execution_arn: str,
        timeout: float = 120.0,
        *,
        on_poll: Callable[[], None] | None = None,
        poll_interval: float = 0.25,
    ) -> ExecutionResult:
        """Poll until the execution ends (``on_poll`` runs between polls); TimeoutError after
        ``timeout`` seconds. Polls are spaced out: each one competes with the interpreter's
        threads for the engine."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} did not end within {timeout:g} s")
            if on_poll is not None:
                on_poll()
            time.sleep(poll_interval)
        if on_poll is not None:
            on_poll()
        return self.result(execution_arn, described)

    def result(self, execution_arn: str, described: Mapping[str, Any]) -> ExecutionResult:
        history = self.history(execution_arn)
        report: dict[str, Any] | None = None
        if described.get("output"):
            report = json.loads(described["output"])
        if report is None:
            report = last_report(history)
        return ExecutionResult(
            execution_arn=execution_arn,
            status=str(described["status"]),
            report=report,
            events=len(history),
            transitions=sum(1 for e in history if e["type"].endswith("StateEntered")),
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token


class _ReportingRouter:
    """An ``AliasRouter`` that tells the simulator when the release moved an alias."""

    def __init__(self, inner: LambdaAliasRouter, moved: AliasMoved | None) -> None:
        self._inner = inner
        self._moved = moved

    def read(self, function: str, alias: str) -> AliasState:
        return self._inner.read(function, alias)

    def version_exists(self, function: str, version: str) -> bool:
        return self._inner.version_exists(function, version)

    def set_weights(
        self, current: AliasState, version: str, extra: Mapping[str, float] | None
    ) -> AliasState:
        try:
            state = self._inner.set_weights(current, version, extra)
        except BaseException:
            if self._moved is not None:
                self._moved(current.function, current.alias, None)  # unknown now: re-read
            raise
        if self._moved is not None:
            self._moved(state.function, state.alias, state.weights)
        return state


def last_report(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The output of the last Report task in a history (a failed execution has no output)."""
    report_task = None
    found: dict[str, Any] | None = None
    for event in history:
        if event["type"] == "TaskStateEntered":
            name = event.get("stateEnteredEventDetails", {}).get("name", "")
            report_task = name if name.startswith("Report") else None
        if event["type"] in ("TaskSucceeded", "LambdaFunctionSucceeded") and report_task:
            details = event.get("taskSucceededEventDetails") or event.get(
                "lambdaFunctionSucceededEventDetails", {}
            )
            output = details.get("output")
            if output:
                found = json.loads(output)
    return found
