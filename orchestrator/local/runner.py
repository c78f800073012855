"""The orchestrator deployed on an engine: state machine, step functions, table, topic.

``LocalDeployment`` puts the real ``rollout.asl.json`` and the real step handlers on the embedded
engine (or, with ``invoke`` routed over HTTP, behind a Lambda endpoint), builds the ports the
handlers use from the engine's emulated account, and runs executions to their end. The dry run
(``rollout dry-run``) and every workflow test use it.

With ``remote=RemoteStepFunctions(url, lambda_port=...)`` the state machine runs elsewhere: on the
Step Functions endpoint at ``url`` (AWS's Step Functions Local, or ``rollout local serve
--lambda-endpoint``). The emulated account and the step handlers stay in this process: the
handlers answer Lambda's Invoke API on a :class:`~orchestrator.local.lambda_endpoint.LambdaEndpoint`
on ``lambda_host:lambda_port`` (the remote's ``LAMBDA_ENDPOINT`` must point there), the state
machine is created (or updated) at ``url`` with Lambda ARNs that endpoint answers, and executions
are started, polled, read back and handed task tokens at ``url``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.aws.alias_router import LambdaAliasRouter
from orchestrator.aws.store import create_table
from orchestrator.aws.wiring import build_ports
from orchestrator.definition import load_child_definition, load_definition
from orchestrator.errors import EnvironmentProblemError
from orchestrator.local.sfn_deploy import (
    CHILD_STATE_MACHINE_NAME,
    STATE_MACHINE_NAME,
    function_name,
)
from orchestrator.release import ledger
from orchestrator.step_handler import logger
from orchestrator.steps import step_handlers

if TYPE_CHECKING:
    from orchestrator.local.engine import EmbeddedEngine
    from orchestrator.local.lambda_endpoint import LambdaEndpoint
    from orchestrator.model.live import AliasState
    from orchestrator.ports import Callbacks, Clock, ShiftLauncher

TABLE_NAME = "rollout-releases"
TOPIC_NAME = "rollout-notifications"
INBOX_NAME = "rollout-notifications-inbox"
"""An SQS queue subscribed to the topic, so a dry run can show what on-call would receive."""
DEFAULT_LAMBDA_PORT = 8083
"""Where the step handlers answer Step Functions Local's ``LAMBDA_ENDPOINT`` by default."""
REMOTE_REGION = "us-east-1"
REMOTE_ACCOUNT_ID = "123456789012"
"""Step Functions Local's default region and account: the ARNs of a remote deployment."""

BeforeStep = Callable[[str, dict[str, Any]], None]
AfterStep = Callable[[str, dict[str, Any], BaseException | None, Any], None]
"""Told ``(step, event, error or None, result or None)`` once a step handler returned or
raised."""
ChildStarted = Callable[[str, Mapping[str, object]], None]
"""Told ``(execution name, payload)`` right before the release starts a child execution."""
Answered = Callable[[str], None]
"""Told the task token right before a step answers it (the parent is about to wake)."""
AliasMoved = Callable[[str, str, Mapping[str, float] | None], None]
"""Told ``(function, alias, new weights in percent)`` after the release moves an alias."""


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
    """The parent execution's history."""
    executions: dict[str, int] = field(default_factory=dict)
    """``count`` (parent and children), ``max_events`` (the largest history of any of them),
    ``parent_events``; ``events`` and ``transitions`` count every execution of the release."""
    children: list[dict[str, Any]] = field(default_factory=list)
    """Each child execution: ``name``, ``status``, ``events``, ``transitions``."""
    child_histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each child execution's history, by name."""

    def all_events(self) -> list[dict[str, Any]]:
        """The parent's history, then each child's (by name)."""
        out = list(self.history)
        for name in sorted(self.child_histories):
            out.extend(self.child_histories[name])
        return out


@dataclass(frozen=True)
class RemoteStepFunctions:
    """A Step Functions endpoint at ``url`` whose Lambda tasks call back into this process.

    The endpoint's ``LAMBDA_ENDPOINT`` (Step Functions Local) or ``--lambda-endpoint``
    (``rollout local serve``) must be ``http://<lambda_host>:<lambda_port>`` as the endpoint sees
    this machine. Clients use dummy credentials, region ``region``.
    """

    url: str
    lambda_port: int = DEFAULT_LAMBDA_PORT
    lambda_host: str = "127.0.0.1"
    region: str = REMOTE_REGION
    account_id: str = REMOTE_ACCOUNT_ID

    def client(self, *, max_attempts: int = 3) -> Any:
        """A ``stepfunctions`` client on ``url``."""
        return boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=self.region,
        ).client(
            "stepfunctions",
            endpoint_url=self.url,
            config=Config(
                retries={"max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    def check(self) -> None:
        """Raise :class:`EnvironmentProblemError` unless Step Functions answers at ``url``."""
        try:
            self.client(max_attempts=1).list_state_machines(maxResults=1)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            raise EnvironmentProblemError(
                f"the Step Functions endpoint at {self.url} refused ListStateMachines: {message}"
            ) from None
        except (BotoCoreError, ValueError) as exc:
            raise EnvironmentProblemError(
                f"no Step Functions endpoint answers at {self.url} ({exc}); start Step Functions "
                "Local (docs/step-functions-local.md) or `rollout local serve --lambda-endpoint "
                f"http://{self.lambda_host}:{self.lambda_port}` there first"
            ) from None


class LocalDeployment:
    """The orchestrator on an embedded engine (or, with ``remote``, on Step Functions at a URL
    with the handlers served from here), ready to start releases."""

    def __init__(
        self,
        engine: EmbeddedEngine,
        *,
        clock: Clock | None = None,
        before_step: BeforeStep | None = None,
        log_level: str = "WARNING",
        on_alias_move: AliasMoved | None = None,
        remote: RemoteStepFunctions | None = None,
        after_step: AfterStep | None = None,
        on_child_start: ChildStarted | None = None,
        on_answer: Answered | None = None,
    ) -> None:
        logger.setLevel(log_level)
        self.engine = engine
        self.remote = remote
        self.after_step = after_step
        self.lambda_endpoint: LambdaEndpoint | None = None
        """With ``remote``: the endpoint serving the step handlers (started by :meth:`deploy`)."""
        self.before_step = before_step
        self._lock = threading.Lock()
        self._inbox: list[dict[str, str]] = []
        self._notifications_lock = threading.Lock()
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
        self.sfn = remote.client() if remote is not None else engine.client("stepfunctions")
        self.child_state_machine_arn = (
            f"arn:aws:states:{remote.region}:{remote.account_id}:stateMachine:"
            f"{CHILD_STATE_MACHINE_NAME}"
            if remote is not None
            else engine.state_machine_arn(CHILD_STATE_MACHINE_NAME)
        )
        # the one wiring function, on the engine's clients: the metric-counting CloudWatch
        # client, the release's SNS topic, Step Functions (remote or embedded); alias moves on
        # `lambda_client` (tests inject faults on it) and reported to the simulator
        own = {
            "cloudwatch": cloudwatch,
            "dynamodb": dynamodb,
            "sns": sns,
            "stepfunctions": self.sfn,
        }
        self.ports = build_ports(
            lambda service: own[service] if service in own else engine.client(service),
            table_name=TABLE_NAME,
            topic_arn=self.topic_arn,
            clock=clock,
            aliases=lambda _: _ReportingRouter(
                LambdaAliasRouter(self.lambda_client), on_alias_move
            ),
            shift_state_machine_arn=self.child_state_machine_arn,
            shifts=lambda launcher: _ObservedLauncher(launcher, on_child_start),
            callbacks=lambda answers: _ObservedCallbacks(answers, on_answer),
        )
        self.state_machine_arn = self.deploy()

    def _count_metric_call(self, **_: Any) -> None:
        with self._lock:
            self.metric_calls += 1

    def notifications(self) -> list[dict[str, str]]:
        """Every situation report published so far (an SQS inbox subscribed to the topic).

        One reader at a time: a caller that found the inbox empty while another (the dry run's
        poll loop) held messages it had received but not yet added would miss them."""
        with self._notifications_lock:
            return self._drain_inbox()

    def _drain_inbox(self) -> list[dict[str, str]]:
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
            try:
                result = bound(event, context)
            except BaseException as exc:
                if self.after_step is not None:
                    self.after_step(step, event, exc, None)
                raise
            if self.after_step is not None:
                self.after_step(step, event, None, result)
            return result

        return handler

    def substitutions(self) -> dict[str, str]:
        return {
            f"{step}Arn": self.engine.function_arn(function_name(step)) for step in step_handlers()
        }

    def deploy(self) -> str:
        if self.remote is not None:
            return self._deploy_remote(self.remote)
        self.engine.register_handlers(self.handlers())
        self.engine.deploy_state_machine(
            CHILD_STATE_MACHINE_NAME, load_child_definition(), self.substitutions()
        )
        return self.engine.deploy_state_machine(
            STATE_MACHINE_NAME, load_definition(), self.substitutions()
        )

    def _deploy_remote(self, remote: RemoteStepFunctions) -> str:
        """Serve the handlers on the Lambda endpoint, then create or update the state machine at
        ``remote.url`` with the ARNs it answers."""
        from orchestrator.local.lambda_endpoint import LambdaEndpoint
        from orchestrator.local.sfn_deploy import deploy_both

        endpoint = LambdaEndpoint(
            self.handlers(),
            host=remote.lambda_host,
            port=remote.lambda_port,
            region=remote.region,
            account_id=remote.account_id,
        ).start()
        self.lambda_endpoint = endpoint
        try:
            parent, _ = deploy_both(self.sfn, region=remote.region, account_id=remote.account_id)
            return parent
        except (BotoCoreError, ClientError) as exc:
            self.close()
            raise EnvironmentProblemError(
                f"cannot deploy the state machine to {remote.url}: {exc}"
            ) from None
        except BaseException:
            self.close()
            raise

    @property
    def invocations(self) -> Counter[str]:
        """Step handler calls per function name: the engine's, or (remote) the endpoint's."""
        if self.lambda_endpoint is not None:
            return self.lambda_endpoint.invocations
        return self.engine.invocations

    def close(self) -> None:
        """Stop serving the handlers (remote only; the embedded engine is its owner's to stop)."""
        endpoint, self.lambda_endpoint = self.lambda_endpoint, None
        if endpoint is not None:
            with contextlib.suppress(Exception):
                endpoint.stop()

    # -- executions ------------------------------------------------------------------------------

    def start(
        self,
        manifest_data: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> str:
        """Start (or find) the execution named ``name`` (default: the release id)."""
        release = str(manifest_data["release"])
        name = name or release
        payload = ledger.execution_input(
            self.ports.records, dict(manifest_data), dict(options or {})
        )
        try:
            started = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=payload
            )
            return str(started["executionArn"])
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return self.execution_arn(name)

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def wait(
        self,
        execution_arn: str,
        timeout: float = 120.0,
        *,
        on_poll: Callable[[], None] | None = None,
        poll_interval: float = 0.25,
        on_end: Callable[[], None] | None = None,
        children_timeout: float = 60.0,
    ) -> ExecutionResult:
        """Poll until the execution ends (``on_poll`` runs between polls); TimeoutError after
        ``timeout`` seconds. Polls are spaced out: each one competes with the interpreter's
        threads for the engine. Then ``on_end`` runs, and the release's child executions still
        running (frozen siblings finishing their step) get ``children_timeout`` seconds to end
        before the result, children included, is read."""
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
        if on_end is not None:
            on_end()
        if self.wait_children(execution_arn.rsplit(":", 1)[-1], timeout=children_timeout):
            described = self.sfn.describe_execution(executionArn=execution_arn)
        return self.result(execution_arn, described)

    def result(self, execution_arn: str, described: Mapping[str, Any]) -> ExecutionResult:
        history = self.history(execution_arn)
        report: dict[str, Any] | None = None
        if described.get("output"):
            report = json.loads(described["output"])
        if report is None:
            report = last_report(history)
        # children are named after the parent execution
        name = execution_arn.rsplit(":", 1)[-1]
        children = []
        child_histories: dict[str, list[dict[str, Any]]] = {}
        for child in self.children(name):
            events = self.history(child["executionArn"])
            child_histories[str(child["name"])] = events
            children.append(
                {
                    "name": child["name"],
                    "status": child["status"],
                    "events": len(events),
                    "transitions": _transitions(events),
                }
            )
        parent_events = len(history)
        return ExecutionResult(
            execution_arn=execution_arn,
            status=str(described["status"]),
            report=report,
            events=parent_events + sum(c["events"] for c in children),
            transitions=_transitions(history) + sum(c["transitions"] for c in children),
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            executions={
                "count": 1 + len(children),
                "max_events": max([parent_events, *(c["events"] for c in children)]),
                "parent_events": parent_events,
            },
            children=children,
            child_histories=child_histories,
        )

    def children(self, release: str, *, status: str | None = None) -> list[dict[str, Any]]:
        """The child executions of the parent execution named ``release`` (children are named
        ``<parent>--<component>--r<n>``), by name; ``status`` filters (``RUNNING``)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self.child_state_machine_arn}
        if status is not None:
            kwargs["statusFilter"] = status
        prefix = f"{release}--"
        while True:
            page = self.sfn.list_executions(maxResults=1000, **kwargs)
            out.extend(e for e in page.get("executions", []) if e["name"].startswith(prefix))
            token = page.get("nextToken")
            if not token:
                return sorted(out, key=lambda e: str(e["name"]))
            kwargs["nextToken"] = token

    def wait_children(self, release: str, timeout: float = 60.0) -> list[str]:
        """Poll until no child of ``release`` runs; returns the names still running at the
        timeout (empty when all ended)."""
        deadline = time.monotonic() + timeout
        while True:
            running = [c["name"] for c in self.children(release, status="RUNNING")]
            if not running or time.monotonic() > deadline:
                return running
            time.sleep(0.1)

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


class _ObservedLauncher:
    """A ``ShiftLauncher`` that tells the dry run a child is about to start (so its simulated
    clock counts the child as running before it runs)."""

    def __init__(self, inner: ShiftLauncher, seen: ChildStarted | None) -> None:
        self._inner = inner
        self._seen = seen

    def start(self, name: str, payload: Mapping[str, object]) -> str:
        if self._seen is not None:
            self._seen(name, payload)
        return self._inner.start(name, payload)

    def stop(self, execution: str, error: str, cause: str) -> None:
        self._inner.stop(execution, error, cause)


class _ObservedCallbacks:
    """``Callbacks`` that tell the dry run the parent is about to wake."""

    def __init__(self, inner: Callbacks, seen: Answered | None) -> None:
        self._inner = inner
        self._seen = seen

    def succeed(self, token: str, output: Mapping[str, object]) -> bool:
        if self._seen is not None:
            self._seen(token)
        return self._inner.succeed(token, output)

    def fail(self, token: str, error: str, cause: str) -> bool:
        if self._seen is not None:
            self._seen(token)
        return self._inner.fail(token, error, cause)


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


def _transitions(history: list[dict[str, Any]]) -> int:
    return sum(1 for e in history if e["type"].endswith("StateEntered"))


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
