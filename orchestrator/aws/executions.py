"""Step Functions adapters: the per-component child executions and task-token callbacks.

``StepFunctionsShiftLauncher`` starts a child execution of the ``shift_component`` state machine
by name. Step Functions makes a start idempotent by name: the same name and input while the
execution runs returns the same execution; a name already used otherwise is
``ExecutionAlreadyExists``, which here means "already started" and returns its ARN too, so a
retried step never starts a second child for the same component and round.

``StepFunctionsCallbacks`` answers a task token; a token whose wait is over (answered already,
timed out, its execution stopped) is reported as ``False``, not raised: two children may race to
tell the parent the same thing, and the first one wins.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.aws.errors import error_code, translate_error

if TYPE_CHECKING:
    from collections.abc import Mapping

ENDED_TOKEN_ERRORS = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})
"""SendTask* error codes that mean the wait is over, not that something is broken."""

MAX_CAUSE_CHARS = 32_768
"""SendTaskFailure's limit on ``cause``."""
MAX_ERROR_CHARS = 256


class StepFunctionsShiftLauncher:
    """``ShiftLauncher`` on Step Functions: StartExecution / StopExecution by name."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ("states:StartExecution", "states:StopExecution")

    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def start(self, name: str, payload: Mapping[str, object]) -> str:
        body = json.dumps(dict(payload), sort_keys=True, separators=(",", ":"))
        try:
            started = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=body)
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return self.execution_arn(name)
            raise translate_error(exc, "states:StartExecution", name) from exc
        except BotoCoreError as exc:
            raise translate_error(exc, "states:StartExecution", name) from exc
        return str(started["executionArn"])

    def stop(self, execution: str, error: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(
                executionArn=execution, error=error[:MAX_ERROR_CHARS], cause=cause[:32_000]
            )
        except ClientError as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ExecutionNotRunning"):
                return
            raise translate_error(exc, "states:StopExecution", execution) from exc
        except BotoCoreError as exc:
            raise translate_error(exc, "states:StopExecution", execution) from exc


class StepFunctionsShiftMonitor:
    """``ShiftMonitor`` on Step Functions: DescribeExecution."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ("states:DescribeExecution",)

    def __init__(self, client: Any) -> None:
        self._sfn = client

    def status(self, execution: str) -> str:
        try:
            described = self._sfn.describe_execution(executionArn=execution)
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return "MISSING"
            raise translate_error(exc, "states:DescribeExecution", execution) from exc
        except BotoCoreError as exc:
            raise translate_error(exc, "states:DescribeExecution", execution) from exc
        return str(described["status"])


class StepFunctionsCallbacks:
    """``Callbacks`` on Step Functions: SendTaskSuccess / SendTaskFailure."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ("states:SendTaskFailure", "states:SendTaskSuccess")

    def __init__(self, client: Any) -> None:
        self._sfn = client

    def _send(self, call: str, **kwargs: Any) -> bool:
        try:
            getattr(self._sfn, call)(**kwargs)
        except ClientError as exc:
            if error_code(exc) in ENDED_TOKEN_ERRORS:
                return False
            raise translate_error(exc, f"states:{call}", "") from exc
        except BotoCoreError as exc:
            raise translate_error(exc, f"states:{call}", "") from exc
        return True

    def succeed(self, token: str, output: Mapping[str, object]) -> bool:
        return self._send("send_task_success", taskToken=token, output=json.dumps(dict(output)))

    def fail(self, token: str, error: str, cause: str) -> bool:
        with contextlib.suppress(UnicodeError):
            cause = cause.encode("utf-8")[:MAX_CAUSE_CHARS].decode("utf-8", "ignore")
        return self._send(
            "send_task_failure", taskToken=token, error=error[:MAX_ERROR_CHARS], cause=cause
        )
