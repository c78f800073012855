"""The orchestrator served on a local port for other processes (`rollout local serve`).

:class:`LocalServer` starts an :class:`~orchestrator.local.engine.EmbeddedEngine` on a fixed port,
deploys the orchestrator on it (:class:`~orchestrator.local.runner.LocalDeployment`: the real ASL,
the step handlers, the releases table and the notification topic) and keeps serving until it is
stopped, so ``rollout start|status|hotfix|abort --engine URL`` and plain boto3 clients drive it
over HTTP like AWS. Given a manifest (and optionally a scenario), it first seeds the emulated
account from the manifest and plays the scenario in simulated time, exactly as a dry run does
(:class:`~orchestrator.local.simulator.Simulator` with a :class:`SimClock`); waits are then
compressed (``time_scale`` 0) for executions that do not set ``options.time_scale`` themselves.

The step handlers normally run in-process (the botocore hook of
:mod:`orchestrator.local.invoke_hook`). :func:`route_lambda_over_http` sends them over HTTP
instead: it serves the deployment's handlers on a :class:`LambdaEndpoint` and registers, for the
same function names, thin proxies that POST each event there, so the Lambda Invoke API path that
Step Functions Local uses is exercised by the whole workflow. A remote function error is raised
again as an exception whose class name is the remote ``errorType``, so ASL ``Retry``/``Catch``
still match the project's error names.

``LocalServer(lambda_endpoint_url=URL)`` (``rollout local serve --lambda-endpoint URL``) makes the
served engine a stand-in for Step Functions Local: its ``rollout-*`` Lambda tasks are not run
in-process but proxied to the Lambda endpoint at ``URL`` (as Step Functions Local's
``LAMBDA_ENDPOINT`` does), e.g. the one ``rollout dry-run --engine URL --lambda-port P`` serves,
so that remote mode is tested end to end without Java or Docker.

:func:`deploy_to_step_functions` creates (or updates) the ``rollout`` state machine on any Step
Functions endpoint, e.g. AWS's Step Functions Local, with Lambda ARNs that a ``LambdaEndpoint``
answers (`rollout local-lambda --deploy-to URL`; see docs/step-functions-local.md).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orchestrator.aws.clock import SystemClock
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.lambda_endpoint import (
    Handler,
    LambdaEndpoint,
)
from orchestrator.local.runner import TABLE_NAME, LocalDeployment
from orchestrator.local.sfn_deploy import deploy_to_step_functions, function_name

if TYPE_CHECKING:
    from orchestrator.local.scenario import Scenario
    from orchestrator.local.simulator import Simulator
    from orchestrator.model.manifest import Manifest
    from orchestrator.ports import Clock

__all__ = [
    "LocalServer",
    "deploy_to_step_functions",
    "http_proxy",
    "remote_error_class",
    "route_lambda_in_process",
    "route_lambda_over_http",
    "wait_for_signal",
]

PROXY_TIMEOUT_SECONDS = 900.0
"""How long a proxy waits for the endpoint: Lambda's own maximum run time."""
PLAN_STEP = "ValidateAndPlan"

# -- Lambda over HTTP ------------------------------------------------------------------------------

_error_classes: dict[str, type[Exception]] = {}
_error_classes_lock = threading.Lock()


def remote_error_class(error_type: str) -> type[Exception]:
    """An ``Exception`` subclass named ``error_type`` (one class per name, created on first use).

    The engine reports a raised exception by its class name, so re-raising a remote error under
    its remote name keeps ``ErrorEquals: ["GateFailedError"]`` (and the rest) working.
    """
    with _error_classes_lock:
        cls = _error_classes.get(error_type)
        if cls is None:
            cls = type(error_type, (Exception,), {"__module__": __name__})
            _error_classes[error_type] = cls
        return cls


def _opener() -> urllib.request.OpenerDirector:
    # loopback calls must not go through a configured HTTP proxy
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_proxy(endpoint_url: str, name: str, *, timeout: float = PROXY_TIMEOUT_SECONDS) -> Handler:
    """A handler that invokes function ``name`` at a Lambda endpoint and returns its result.

    A function error is raised as ``remote_error_class(errorType)(errorMessage)``; an error of the
    Invoke API as ``Lambda.<x-amzn-ErrorType>`` (``Lambda.ResourceNotFoundException`` ...); an
    endpoint that does not answer as ``Lambda.SdkClientException``, as Step Functions names them.
    """
    url = f"{endpoint_url.rstrip('/')}/2015-03-31/functions/{quote(name, safe='')}/invocations"
    opener = _opener()

    def handler(event: dict[str, Any], context: Any) -> Any:
        request = urllib.request.Request(
            url,
            data=json.dumps(event).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Amz-Invocation-Type": "RequestResponse",
            },
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.read()
                function_error = response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as exc:
            error_type = exc.headers.get("x-amzn-ErrorType") or (
                "ServiceException" if exc.code >= 500 else "AWSLambdaException"
            )
            detail = exc.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = str(json.loads(detail).get("message", detail))
            raise remote_error_class(f"Lambda.{error_type.split(':')[0]}")(detail) from None
        except (urllib.error.URLError, OSError) as exc:
            raise remote_error_class("Lambda.SdkClientException")(
                f"cannot reach the Lambda endpoint at {endpoint_url}: {exc}"
            ) from None
        result = json.loads(body) if body else None
        if function_error:
            payload = result if isinstance(result, dict) else {}
            error_type = str(payload.get("errorType") or "Lambda.Unknown")
            raise remote_error_class(error_type)(str(payload.get("errorMessage", "")))
        return result

    handler.__name__ = f"proxy_{name}"
    return handler


def route_lambda_over_http(
    deployment: LocalDeployment,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    handlers: Mapping[str, Handler] | None = None,
) -> LambdaEndpoint:
    """Serve the deployment's handlers on a started :class:`LambdaEndpoint` and route the engine's
    Lambda calls to it through HTTP proxies. Stop the endpoint when done; a later
    ``LocalDeployment`` (or :func:`route_lambda_in_process`) registers in-process handlers again.

    ``handlers`` defaults to ``deployment.handlers()`` (with the deployment's ``before_step``).
    """
    served = dict(handlers) if handlers is not None else deployment.handlers()
    endpoint = LambdaEndpoint(
        served,
        host=host,
        port=port,
        region=deployment.engine.region,
        account_id=deployment.engine.account_id,
    ).start()
    try:
        deployment.engine.register_handlers(
            {name: http_proxy(endpoint.url, name) for name in served}
        )
    except BaseException:
        endpoint.stop()
        raise
    return endpoint


def route_lambda_in_process(
    deployment: LocalDeployment, handlers: Mapping[str, Handler] | None = None
) -> None:
    """Undo :func:`route_lambda_over_http`: the engine calls the handlers in-process again."""
    deployment.engine.register_handlers(
        dict(handlers) if handlers is not None else deployment.handlers()
    )


def with_run_defaults(
    handlers: Mapping[str, Handler], defaults: Mapping[str, Any]
) -> dict[str, Handler]:
    """``handlers`` with ``ValidateAndPlan`` filling ``options`` keys an execution left out."""
    out = dict(handlers)
    plan_name = function_name(PLAN_STEP)
    inner = out.get(plan_name)
    if inner is None or not defaults:
        return out

    def handler(event: dict[str, Any], context: Any) -> Any:
        if isinstance(event, dict):
            # the state machine hands ValidateAndPlan the whole execution input as `start`
            wrapped = isinstance(event.get("start"), dict)
            start = event["start"] if wrapped else event
            options = start.get("options")
            merged = {**defaults, **(options if isinstance(options, dict) else {})}
            start = {**start, "options": merged}
            event = {"start": start} if wrapped else start
        return inner(event, context)

    out[plan_name] = handler
    return out


# -- the server ------------------------------------------------------------------------------------


class LocalServer:
    """An embedded engine on ``host:port`` with the orchestrator deployed, for other processes.

    Usage::

        with LocalServer(port=8083) as server:
            print(server.endpoint_url, server.state_machine_arn)
            wait_for_signal()                 # until SIGINT or SIGTERM
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8083,
        manifest: Manifest | None = None,
        scenario: Scenario | None = None,
        time_scale: float | None = None,
        lambda_port: int | None = None,
        lambda_endpoint_url: str | None = None,
        log_level: str = "WARNING",
    ) -> None:
        """``manifest``/``scenario``: seed and simulate the account (as a dry run does).
        ``time_scale``: for executions that leave ``options.time_scale`` out (default: 0 with a
        manifest, else as on AWS). ``lambda_port``: route the step handlers over HTTP through a
        :class:`LambdaEndpoint` on that port (0: a free one) instead of in-process.
        ``lambda_endpoint_url``: send the ``rollout-*`` Lambda tasks to the Lambda endpoint at
        that URL instead (like Step Functions Local's ``LAMBDA_ENDPOINT``); the handlers, and the
        account they use, live behind it. Excludes ``lambda_port``.
        """
        if lambda_port is not None and lambda_endpoint_url is not None:
            raise ValueError("lambda_port and lambda_endpoint_url exclude each other")
        self.host = host
        self.port = port
        self.manifest = manifest
        self.scenario = scenario
        self.time_scale = time_scale if time_scale is not None else (0.0 if manifest else None)
        self.lambda_port = lambda_port
        self.lambda_endpoint_url = lambda_endpoint_url.rstrip("/") if lambda_endpoint_url else None
        self.log_level = log_level
        self.engine: EmbeddedEngine | None = None
        self.deployment: LocalDeployment | None = None
        self.simulator: Simulator | None = None
        self.lambda_endpoint: LambdaEndpoint | None = None

    def start(self) -> LocalServer:
        if self.engine is not None:
            return self
        engine = EmbeddedEngine(host=self.host, port=self.port)
        self.engine = engine
        try:
            engine.start()
            clock: Clock = SystemClock()
            timeline: Any = None
            if self.manifest is not None:
                from orchestrator.local.scenario import Scenario
                from orchestrator.local.simulator import SimClock, Simulator

                sim_clock = SimClock()
                self.simulator = Simulator(
                    self.manifest, self.scenario or Scenario(), engine.client, sim_clock
                )
                self.simulator.seed_account()
                from orchestrator.local.sim_time import SimulatedTime

                # nobody answers a served release's waits automatically: the parent lets the
                # simulated clock go while it waits for a person
                timeline = SimulatedTime(self.simulator, answers_waits=False)
                clock = sim_clock
            deployment = LocalDeployment(
                engine,
                clock=clock,
                before_step=timeline.before_step if timeline is not None else None,
                after_step=timeline.after_step if timeline is not None else None,
                on_child_start=timeline.child_started if timeline is not None else None,
                on_answer=timeline.answered if timeline is not None else None,
                log_level=self.log_level,
            )
            self.deployment = deployment
            defaults = {} if self.time_scale is None else {"time_scale": self.time_scale}
            handlers = with_run_defaults(deployment.handlers(), defaults)
            if self.lambda_endpoint_url is not None:
                url = self.lambda_endpoint_url
                proxies = {name: http_proxy(url, name) for name in handlers}
                engine.register_handlers(with_run_defaults(proxies, defaults))
            elif self.lambda_port is not None:
                self.lambda_endpoint = route_lambda_over_http(
                    deployment, host=self.host, port=self.lambda_port, handlers=handlers
                )
            elif defaults:
                engine.register_handlers(handlers)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the Lambda endpoint (if any) and the engine (running executions are stopped)."""
        endpoint, engine = self.lambda_endpoint, self.engine
        self.lambda_endpoint, self.engine, self.deployment = None, None, None
        if endpoint is not None:
            endpoint.stop()
        if engine is not None:
            engine.stop()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self.engine is not None, "call start() first"
        return self.engine.endpoint_url

    @property
    def state_machine_arn(self) -> str:
        assert self.deployment is not None, "call start() first"
        return self.deployment.state_machine_arn

    def describe(self) -> dict[str, Any]:
        """What a client needs: URLs, ARNs, names (the line `rollout local serve` prints)."""
        assert self.engine is not None and self.deployment is not None, "call start() first"
        return {
            "endpoint_url": self.endpoint_url,
            "state_machine_arn": self.state_machine_arn,
            "region": self.engine.region,
            "account_id": self.engine.account_id,
            "table_name": TABLE_NAME,
            "topic_arn": self.deployment.topic_arn,
            "lambda_endpoint_url": self.lambda_endpoint.url if self.lambda_endpoint else None,
            "lambda_proxied_to": self.lambda_endpoint_url,
            "release": self.manifest.release if self.manifest is not None else None,
            "simulated": self.simulator is not None,
            "time_scale": self.time_scale,
        }


def wait_for_signal(
    stop: threading.Event | None = None,
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> signal.Signals | None:
    """Block until one of ``signals`` arrives (or ``stop`` is set); return the signal.

    Installs handlers for the duration (main thread only) and puts the previous ones back.
    """
    stop = stop or threading.Event()
    received: list[signal.Signals] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum))
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, on_signal)
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0] if received else None
