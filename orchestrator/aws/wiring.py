"""Wiring the adapters into the ports bundle: one function for every caller; AWS settings are read
once, at the edge."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.aws.alias_router import LambdaAliasReader, LambdaAliasRouter
from orchestrator.aws.clock import SystemClock
from orchestrator.aws.executions import (
    StepFunctionsCallbacks,
    StepFunctionsShiftLauncher,
    StepFunctionsShiftMonitor,
)
from orchestrator.aws.invoker import LambdaFunctionInvoker
from orchestrator.aws.metrics import CloudWatchMetricSource
from orchestrator.aws.notifier import SnsNotifier
from orchestrator.aws.queue_inspector import SqsQueueInspector
from orchestrator.aws.store import DynamoLeaseStore, DynamoRecordStore
from orchestrator.ports import AliasRouter, Callbacks, Clock, Ports, ShiftLauncher


class Settings(BaseSettings):
    """Environment of the step functions (set by infra/template.yaml)."""

    model_config = SettingsConfigDict(env_prefix="ROLLOUT_", extra="ignore")

    table_name: str
    topic_arn: str
    shift_state_machine_arn: str = ""
    """The ``shift_component`` state machine the steps start per component (child executions)."""
    region: str | None = None
    endpoint_url: str | None = None


ClientFactory = Callable[[str], Any]
"""Makes the boto3 client of a service (``"lambda"``, ``"sqs"``, ...)."""


def build_ports(
    client: ClientFactory,
    *,
    table_name: str,
    topic_arn: str,
    clock: Clock | None = None,
    aliases: Callable[[LambdaAliasRouter], AliasRouter] | None = None,
    shift_state_machine_arn: str = "",
    shifts: Callable[[ShiftLauncher], ShiftLauncher] | None = None,
    callbacks: Callable[[Callbacks], Callbacks] | None = None,
) -> Ports:
    """The one place the adapters are wired into a :class:`~orchestrator.ports.Ports` bundle.

    Used by the Lambda entry (``default_ports``), the CLI (``cli.connect``) and the local engine
    (``local.runner``); they differ only in how clients are made and in ``clock``. ``aliases``
    may wrap the alias router (the local engine reports every move to its simulator); ``shifts``
    and ``callbacks`` may wrap the child-execution launcher and the task-token callbacks (the
    local engine's simulated clock follows who is running).
    """
    cloudwatch = client("cloudwatch")
    dynamodb = client("dynamodb")
    router = LambdaAliasRouter(client("lambda"))
    sfn = client("stepfunctions")
    launcher: ShiftLauncher = StepFunctionsShiftLauncher(sfn, shift_state_machine_arn)
    answers: Callbacks = StepFunctionsCallbacks(sfn)
    return Ports(
        aliases=aliases(router) if aliases is not None else router,
        alias_reads=LambdaAliasReader(client("lambda")),
        queues=SqsQueueInspector(client("sqs"), cloudwatch),
        metrics=CloudWatchMetricSource(cloudwatch),
        leases=DynamoLeaseStore(dynamodb, table_name),
        records=DynamoRecordStore(dynamodb, table_name),
        notifier=SnsNotifier(client("sns"), topic_arn),
        clock=clock or SystemClock(),
        shifts=shifts(launcher) if shifts is not None else launcher,
        shift_status=StepFunctionsShiftMonitor(sfn),
        callbacks=callbacks(answers) if callbacks is not None else answers,
        invoker=LambdaFunctionInvoker(client("lambda")),
    )


def ports_from_settings(settings: Settings | None = None) -> Ports:
    """Ports for a real Lambda environment, from its settings (``ROLLOUT_*``)."""
    s = settings or Settings()
    session = boto3.session.Session(region_name=s.region)
    config = Config(retries={"max_attempts": 3, "mode": "standard"})

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=s.endpoint_url, config=config)  # type: ignore[call-overload]

    return build_ports(
        client,
        table_name=s.table_name,
        topic_arn=s.topic_arn,
        shift_state_machine_arn=s.shift_state_machine_arn,
    )


@functools.cache
def default_ports() -> Ports:
    """The process's ports, built once on first use (a Lambda container reuses them)."""
    return ports_from_settings()
