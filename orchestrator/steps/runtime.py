"""What every step handler shares: the ports bundle and the Lambda entry wrapper.

A step is a pure function ``run(event_model, ports) -> result_model``. ``entrypoint`` turns it into
a Lambda handler (Powertools Logger with the release id as correlation id, Tracer, Metrics) that
parses the event, calls the function with the process's ports, and dumps the result as JSON. In
AWS the ports are built lazily from settings on the first call (never at import time); the embedded
engine binds handlers to its own ports with ``StepHandler.bind``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel

from orchestrator.ports import (
    AliasRouter,
    Clock,
    LeaseStore,
    MetricSource,
    Notifier,
    QueueInspector,
    RecordStore,
)

logger = Logger(service="rollout")
tracer = Tracer(service="rollout")
metrics = Metrics(namespace="Rollout", service="rollout")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Ports:
    """Every outside-world dependency a step may use."""

    aliases: AliasRouter
    queues: QueueInspector
    metrics: MetricSource
    leases: LeaseStore
    records: RecordStore
    notifier: Notifier
    clock: Clock


_default_ports: Ports | None = None
_default_lock = threading.Lock()


def default_ports() -> Ports:
    """Ports for a real Lambda environment, built once from settings on first use."""
    global _default_ports
    with _default_lock:
        if _default_ports is None:
            from orchestrator.aws.wiring import ports_from_settings

            _default_ports = ports_from_settings()
        return _default_ports


class StepHandler(Generic[M, R]):
    """A step function wrapped as a Lambda handler. Calling it uses ``default_ports()``."""

    def __init__(self, name: str, model: type[M], run: Callable[[M, Ports], R]) -> None:
        self.name = name
        self.model = model
        self.run = run

        @logger.inject_lambda_context(correlation_id_path="release", clear_state=True)
        @tracer.capture_lambda_handler(capture_response=False)
        @metrics.log_metrics
        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            logger.append_keys(step=name)
            metrics.add_dimension(name="step", value=name)
            metrics.add_metric(name="StepInvocations", unit="Count", value=1)
            return self.invoke(event, default_ports())

        self._lambda_handler = lambda_handler

    def invoke(self, event: dict[str, Any], ports: Ports) -> dict[str, Any]:
        parsed = self.model.model_validate(event)
        result = self.run(parsed, ports)
        return result.model_dump(mode="json")

    def bind(self, ports: Ports) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """A Lambda-style handler that uses ``ports`` (the embedded engine's account)."""

        @logger.inject_lambda_context(correlation_id_path="release", clear_state=True)
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            logger.append_keys(step=self.name)
            return self.invoke(event, ports)

        return handler

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """The AWS Lambda entry point (``orchestrator.steps.<module>.handler``)."""
        return self._lambda_handler(event, context)  # type: ignore[no-any-return]


def entrypoint(name: str, model: type[M], run: Callable[[M, Ports], R]) -> StepHandler[M, R]:
    return StepHandler(name, model, run)
