"""Run Lambda functions in-process: botocore's ``before-send.lambda.Invoke`` hook (DESIGN §6).

moto can emulate Lambda's control plane but cannot run function code without Docker. botocore has
a documented extension point that solves this without touching moto: a handler registered for the
event ``before-send.<service-id>.<Operation>`` may return an ``AWSResponse``, and botocore then
uses it instead of sending the HTTP request. This module registers one such handler for
``before-send.lambda.Invoke``. When an ``Invoke`` request is addressed to the port of a running
:class:`~orchestrator.local.engine.EmbeddedEngine` and names a function the engine has a Python
handler for, the handler is called in-process and its result becomes the response:

* success: status 200, ``x-amzn-requestid``, ``X-Amz-Executed-Version`` and a JSON body;
* a raised exception: status 200 with ``X-Amz-Function-Error: Unhandled`` and the body
  ``{"errorType": <exception class name>, "errorMessage": str(exc), "stackTrace": []}``, exactly
  what the Lambda runtime returns, so ASL ``Retry``/``Catch`` match the project's error names
  (``AliasDriftError``, ``TransientError`` ...);
* a result that is not JSON-serialisable: ``errorType`` ``Runtime.MarshalError``, as on AWS.

Anything else (another port, a function without a handler, real AWS) falls through untouched
(the hook returns ``None``), so moto or AWS answers as usual.

A dry run's *component* functions (the ones the release shifts) have no code either: a direct
invocation of one (PrepareShift's smoke test) is answered by the simulator, which registers a
resolver for the engine's port (:func:`register_simulated_functions`): function name -> handler
or None. The step functions' own handlers come first.

Why ``botocore.handlers.BUILTIN_HANDLERS`` and why before any client exists
---------------------------------------------------------------------------
moto's ASL interpreter calls Lambda through a *new* ``boto3.client("lambda")`` per task, built
from boto3's default session; we cannot pass it a client or a session. A botocore ``Session``
copies ``BUILTIN_HANDLERS`` into its event emitter when the session is created, and every client
copies its session's emitter when the client is created. Appending to ``BUILTIN_HANDLERS`` is
therefore the only registration that reaches sessions created later (boto3's lazily created
default session, the sessions moto resets, our own per-engine sessions). A session or client
that already existed before :func:`install` ran does not see the hook, hence "install once, before
any client is created": :class:`EmbeddedEngine` calls :func:`install` before it creates anything.
For good measure :func:`install` also registers the hook on ``boto3.DEFAULT_SESSION`` if that
already exists, so clients that session creates afterwards are covered too. Installation is
idempotent (guarded by a lock and a flag) because a second copy would run every handler twice.

A second handler, for every ``before-send`` event (:func:`before_send_in_process`), answers the
other requests to a port whose engine registered its WSGI app
(:mod:`~orchestrator.local.wsgi_transport`): moto's app is called on the caller's thread instead
of over the socket. botocore calls *every* ``before-send`` handler and takes the first answer, so
that handler leaves alone an ``Invoke`` the first one answers (a function would run twice).

Routing is by the request URL's port: the interpreter calls ``http://localhost:$MOTO_PORT``,
test clients call ``http://127.0.0.1:<port>``; both carry the engine's port. Requests to real AWS
(port ``None``) never match. Everything here is thread-safe: the interpreter runs each execution
(and each Map iteration) in its own thread, so the handlers themselves must be too.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from orchestrator.local import wsgi_transport
from orchestrator.local.wsgi_transport import request_body

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``(event, context) -> JSON-serialisable result``."""

EVENT_NAME = "before-send.lambda.Invoke"
IN_PROCESS_EVENT = "before-send"
"""Every request: the hook that answers the engine's own port in-process."""
DEFAULT_TIMEOUT_SECONDS = 900
DEFAULT_MEMORY_MB = 128


@dataclass
class LambdaContext:
    """The parts of the Lambda runtime's context object that handlers (and Powertools) use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int = DEFAULT_MEMORY_MB
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            day = time.strftime("%Y/%m/%d", time.gmtime())
            self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def parse_function_name(name_or_arn: str) -> tuple[str, str | None]:
    """``(function name, qualifier or None)`` from a name, a partial ARN or a full ARN.

    Accepted: ``my-fn``, ``my-fn:live``, ``123456789012:function:my-fn[:live]``,
    ``arn:aws:lambda:us-east-1:123456789012:function:my-fn[:live]``.
    """
    parts = name_or_arn.split(":")
    if parts[0] == "arn" and len(parts) >= 7 and parts[5] == "function":
        name, rest = parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        name, rest = parts[2], parts[3:]
    else:
        name, rest = parts[0], parts[1:]
    qualifier = rest[0] if rest and rest[0] else None
    return name, qualifier


class InvocationRouter:
    """Function name -> Python handler for one engine, with per-function invocation counts."""

    def __init__(self, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.invocations: Counter[str] = Counter()

    def register(self, handlers: Mapping[str, Handler]) -> None:
        with self._lock:
            self._handlers.update(handlers)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def handler_for(self, function_name: str) -> Handler | None:
        with self._lock:
            return self._handlers.get(function_name)

    def count(self, function_name: str) -> None:
        with self._lock:
            self.invocations[function_name] += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.invocations.clear()

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"


_ROUTERS: dict[int, InvocationRouter] = {}
SimulatedFunctions = Callable[[str], Handler | None]
"""Function name -> the simulator's handler for it, or None (not a simulated function)."""
_SIMULATED: dict[int, SimulatedFunctions] = {}
_ROUTERS_LOCK = threading.Lock()
_INSTALL_LOCK = threading.Lock()
_installed = False


def register_router(port: int, router: InvocationRouter) -> None:
    """Route ``Invoke`` requests addressed to ``port`` to ``router``."""
    with _ROUTERS_LOCK:
        _ROUTERS[port] = router


def unregister_router(port: int) -> None:
    with _ROUTERS_LOCK:
        _ROUTERS.pop(port, None)


def register_simulated_functions(port: int, resolver: SimulatedFunctions) -> None:
    """Answer ``Invoke`` of the functions ``resolver`` knows, on ``port``, with its handlers
    (after the step handlers; not counted in the router's invocations)."""
    with _ROUTERS_LOCK:
        _SIMULATED[port] = resolver


def unregister_simulated_functions(port: int, resolver: SimulatedFunctions | None = None) -> None:
    """Forget the simulated functions of ``port`` (only ``resolver``'s, when given)."""
    with _ROUTERS_LOCK:
        if resolver is None or _SIMULATED.get(port) == resolver:
            _SIMULATED.pop(port, None)


def _simulated_handler(port: int | None, name: str) -> Handler | None:
    if port is None:
        return None
    with _ROUTERS_LOCK:
        resolver = _SIMULATED.get(port)
    return resolver(name) if resolver is not None else None


def _router_for(port: int | None) -> InvocationRouter | None:
    if port is None:
        return None
    with _ROUTERS_LOCK:
        return _ROUTERS.get(port)


def install() -> None:
    """Register the hook in ``BUILTIN_HANDLERS`` and boto3's default session. Idempotent."""
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        import boto3  # imported here: boto3 is only needed to reach an existing default session

        for event, hook in _HOOKS:
            botocore.handlers.BUILTIN_HANDLERS.append((event, hook))
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION.events.register(event, cast("Callable[..., None]", hook))
        _installed = True


def is_installed() -> bool:
    return _installed and all(
        any(spec[0] == event and spec[1] is hook for spec in botocore.handlers.BUILTIN_HANDLERS)
        for event, hook in _HOOKS
    )


def _response(
    url: str, status: int, body: bytes, *, version: str, function_error: bool
) -> AWSResponse:
    headers = HTTPHeaders()
    for key, value in {
        "x-amzn-requestid": str(uuid.uuid4()),
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Amz-Executed-Version": version,
    }.items():
        headers[key] = value
    if function_error:
        headers["X-Amz-Function-Error"] = "Unhandled"
    return AWSResponse(url, status, headers, wsgi_transport.RawBody(body))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The body Lambda's runtime returns for an unhandled exception."""
    return {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": []}


@dataclass(frozen=True)
class _Target:
    """What an ``Invoke`` request addressed to an engine's port resolves to."""

    router: InvocationRouter
    port: int
    name: str
    qualifier: str | None
    handler: Handler
    simulated: bool


def _invocation_target(request: Any) -> _Target | None:
    """The in-process handler an ``Invoke`` request is for, or ``None`` (sent as usual)."""
    parts = urlsplit(str(request.url))
    try:
        port = parts.port
    except ValueError:
        return None
    router = _router_for(port)
    if router is None or port is None:
        return None
    segments = parts.path.split("/")
    # /2015-03-31/functions/{FunctionName}/invocations
    if len(segments) < 5 or segments[2] != "functions" or segments[-1] != "invocations":
        return None
    name, qualifier = parse_function_name(unquote(segments[3]))
    handler = router.handler_for(name)
    simulated = handler is None
    if handler is None:
        handler = _simulated_handler(port, name)
    if handler is None:
        return None
    query_qualifier = parse_qs(parts.query).get("Qualifier")
    if query_qualifier:
        qualifier = query_qualifier[0]
    return _Target(router, port, name, qualifier, handler, simulated)


def before_send_lambda_invoke(request: Any, **_: Any) -> AWSResponse | None:
    """The botocore hook: answer ``Invoke`` for registered functions, else return ``None``."""
    target = _invocation_target(request)
    if target is None:
        return None
    url = str(request.url)
    router, name, qualifier = target.router, target.name, target.qualifier
    invocation_type = str(request.headers.get("X-Amz-Invocation-Type") or "RequestResponse")
    version = "$LATEST" if qualifier is None or not qualifier.isdigit() else qualifier
    if invocation_type == "DryRun":
        return _response(url, 204, b"", version=version, function_error=False)

    raw = request_body(request.body)
    arn = router.function_arn(name) + (f":{qualifier}" if qualifier else "")
    context = LambdaContext(function_name=name, function_version=version, invoked_function_arn=arn)
    if not target.simulated:
        router.count(name)
    function_error = False
    try:
        event = json.loads(raw) if raw else {}
        result = target.handler(event, context)
        try:
            body = json.dumps(result).encode("utf-8")
        except (TypeError, ValueError) as exc:
            function_error = True
            body = json.dumps(
                {"errorType": "Runtime.MarshalError", "errorMessage": str(exc), "stackTrace": []}
            ).encode("utf-8")
    except Exception as exc:
        function_error = True
        body = json.dumps(error_payload(exc), default=str).encode("utf-8")
    if invocation_type == "Event":
        return _response(url, 202, b"", version=version, function_error=False)
    return _response(url, 200, body, version=version, function_error=function_error)


def before_send_in_process(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
    """The botocore hook for every other request to an engine's port: its WSGI app answers it
    in-process (:mod:`~orchestrator.local.wsgi_transport`), or ``None`` when the port has no app
    registered (another process's engine, AWS). botocore calls every ``before-send`` handler, so
    an ``Invoke`` that :func:`before_send_lambda_invoke` answers is left to it."""
    try:
        port = urlsplit(str(request.url)).port
    except ValueError:
        return None
    app = wsgi_transport.app_for(port)
    if app is None:
        return None
    if event_name == EVENT_NAME and _invocation_target(request) is not None:
        return None
    return wsgi_transport.respond(app, request)


_HOOKS: tuple[tuple[str, Callable[..., AWSResponse | None]], ...] = (
    (EVENT_NAME, before_send_lambda_invoke),
    (IN_PROCESS_EVENT, before_send_in_process),
)
