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
    AliasReader,
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
    alias_reads: AliasReader
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


PORT_NAMES = tuple(Ports.__dataclass_fields__)


class _Undeclared:
    """Stands in for a port a step did not declare: any use fails loudly (tests catch it)."""

    def __init__(self, step: str, port: str) -> None:
        self._step = step
        self._port = port

    def __getattr__(self, attr: str) -> Any:
        raise AttributeError(
            f"step {self._step} uses port {self._port!r} ({attr}) but does not declare it in "
            "PORTS, so its IAM policy would lack the actions"
        )


def restrict(ports: Ports, step: str, allowed: tuple[str, ...]) -> Ports:
    """``ports`` with every port outside ``allowed`` replaced by a loud stand-in."""
    unknown = set(allowed) - set(PORT_NAMES)
    if unknown:
        raise ValueError(f"step {step} declares unknown ports {sorted(unknown)}")
    return Ports(
        **{
            name: getattr(ports, name) if name in allowed else _Undeclared(step, name)
            for name in PORT_NAMES
        }
    )


class StepHandler(Generic[M, R]):
    """A step function wrapped as a Lambda handler. Calling it uses ``default_ports()``."""

    def __init__(
        self,
        name: str,
        model: type[M],
        run: Callable[[M, Ports], R],
        ports: tuple[str, ...] = PORT_NAMES,
    ) -> None:
        self.name = name
        self.model = model
        self.run = run
        self.ports = ports

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
        result = self.run(parsed, restrict(ports, self.name, self.ports))
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


def entrypoint(
    name: str, model: type[M], run: Callable[[M, Ports], R], ports: tuple[str, ...]
) -> StepHandler[M, R]:
    """Wrap ``run`` as the Lambda handler of task ``name``, allowed to use ``ports`` only."""
    return StepHandler(name, model, run, ports)
