"""What every step handler shares: the port restrictions and the Lambda entry wrapper.

A step is a pure function ``run(event_model, ports) -> result_model``. ``entrypoint`` wraps it as a
:class:`StepHandler` that parses the event, calls the function with only the ports it declares,
and dumps the result as JSON. The handler knows nothing of AWS: ``orchestrator.lambda_entry`` (the
composition root of the step functions) gives each one ports built from settings, lazily on the
first event; the embedded engine binds handlers to its own ports with ``StepHandler.bind``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel

from orchestrator.ports import PORT_NAMES, Ports

logger = Logger(service="rollout")
tracer = Tracer(service="rollout")
metrics = Metrics(namespace="Rollout", service="rollout")

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

__all__ = ["PORT_NAMES", "Ports", "StepHandler", "entrypoint", "logger", "restrict"]


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
    """A step function with its event model and the ports it may use.

    ``invoke`` runs it on given ports; ``bind`` makes a Lambda-style handler on fixed ports (the
    embedded engine); ``lambda_handler`` makes the AWS Lambda entry, with Powertools Logger,
    Tracer and Metrics, on ports built lazily by a factory (``orchestrator.lambda_entry``).
    """

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

    def lambda_handler(
        self, ports: Callable[[], Ports]
    ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """The AWS Lambda entry point of this step; ``ports()`` is called on the first event
        (never at import time) and may cache what it builds."""
        name = self.name

        @logger.inject_lambda_context(correlation_id_path="release", clear_state=True)
        @tracer.capture_lambda_handler(capture_response=False)
        @metrics.log_metrics
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            logger.append_keys(step=name)
            metrics.add_dimension(name="step", value=name)
            metrics.add_metric(name="StepInvocations", unit="Count", value=1)
            return self.invoke(event, ports())

        handler.step = name
        entry: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
        return entry


def entrypoint(
    name: str, model: type[M], run: Callable[[M, Ports], R], ports: tuple[str, ...]
) -> StepHandler[M, R]:
    """Wrap ``run`` as the Lambda handler of task ``name``, allowed to use ``ports`` only."""
    return StepHandler(name, model, run, ports)
