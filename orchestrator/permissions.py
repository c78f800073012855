"""Least-privilege IAM actions of every step, derived from the code (DESIGN §8).

Each step module declares the ports it uses (``PORTS``); each boto3 adapter behind a port declares
the IAM actions it calls (``AWS_ACTIONS``). A step's actions are the union over its ports::

    step_actions("Promote")  # PORTS = ("aliases", "records", "clock")
    == sorted(AWS_ACTIONS of LambdaAliasRouter | DynamoRecordStore | SystemClock)

``infra/template.yaml`` is static; ``tests/functional/test_infra.py`` checks that the inline policy
of each step's function grants exactly ``step_actions(step)``, so a step that starts using another
port (and ``runtime.restrict`` makes undeclared use fail loudly) cannot ship without its permission.
Steps are read from ``STEP_MODULES`` at call time, so new steps are covered without edits here.
"""

from __future__ import annotations

import importlib
from typing import ClassVar, Protocol

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
from orchestrator.steps import STEP_MODULES


class Adapter(Protocol):
    """What the derivation needs from an adapter class: the IAM actions it may call."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]]


PORT_ADAPTERS: dict[str, type[Adapter]] = {
    "aliases": LambdaAliasRouter,
    "alias_reads": LambdaAliasReader,
    "queues": SqsQueueInspector,
    "metrics": CloudWatchMetricSource,
    "leases": DynamoLeaseStore,
    "records": DynamoRecordStore,
    "notifier": SnsNotifier,
    "clock": SystemClock,
    "shifts": StepFunctionsShiftLauncher,
    "shift_status": StepFunctionsShiftMonitor,
    "callbacks": StepFunctionsCallbacks,
    "invoker": LambdaFunctionInvoker,
}
"""Port name (a field of ``orchestrator.ports.Ports``) -> the adapter wired to it in AWS."""

STEP_NAMES: tuple[str, ...] = tuple(STEP_MODULES)
"""ASL task names that have a step module, in ``STEP_MODULES`` order (a snapshot at import)."""

RUNTIME_ACTIONS: tuple[str, ...] = (
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
)
"""What every step function needs besides its step's actions: write its own log group (logs) and
send traces (``Tracing: Active``). The template grants them in a separate ``runtime`` policy."""


def step_module_name(step: str) -> str:
    """The module of ASL task ``step``; ``KeyError`` naming the known steps if there is none."""
    try:
        return STEP_MODULES[step]
    except KeyError:
        raise KeyError(f"no step module for {step!r}; known: {sorted(STEP_MODULES)}") from None


def step_ports(step: str) -> tuple[str, ...]:
    """The ``PORTS`` a step module declares (imports the module)."""
    module = importlib.import_module(step_module_name(step))
    ports: tuple[str, ...] = tuple(module.PORTS)
    unknown = sorted(set(ports) - set(PORT_ADAPTERS))
    if unknown:
        raise ValueError(f"step {step} declares ports with no adapter: {unknown}")
    return ports


def port_actions(port: str) -> tuple[str, ...]:
    """The IAM actions of the adapter behind ``port``."""
    return PORT_ADAPTERS[port].AWS_ACTIONS


def step_actions(step: str) -> list[str]:
    """Sorted IAM actions step ``step`` may call: the union of its ports' adapters' actions."""
    return sorted({action for port in step_ports(step) for action in port_actions(port)})


def all_step_actions() -> dict[str, list[str]]:
    """``step_actions`` of every step currently in ``STEP_MODULES``."""
    return {step: step_actions(step) for step in STEP_MODULES}
