"""Lambda's Invoke API over HTTP, for Python handlers (DESIGN §6, `rollout local-lambda`).

AWS's Step Functions Local calls Lambda at the URL in its ``LAMBDA_ENDPOINT`` setting with the
ordinary Invoke API. :class:`LambdaEndpoint` is a small WSGI app (werkzeug) that answers it by
calling Python handlers in a thread per request:

``POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=Q]``
    ``FunctionName`` is a name, a partial ARN or a full ARN (any region and account); the
    ``X-Amz-Invocation-Type`` header picks what happens:

    * ``RequestResponse`` (default): 200, the handler's result as JSON, headers
      ``X-Amz-Executed-Version`` and ``x-amzn-RequestId``. A raised exception is still a 200, with
      ``X-Amz-Function-Error: Unhandled`` and ``{"errorType": <class name>, "errorMessage",
      "stackTrace": []}`` (as the Lambda runtime answers), so ASL ``Retry``/``Catch`` see the
      project's error names; a result that is not JSON gives ``errorType`` ``Runtime.MarshalError``.
    * ``Event``: 202 at once, the handler runs in a background thread.
    * ``DryRun``: 204, the handler is not called.

    Errors of the API itself carry ``x-amzn-ErrorType``, so boto3 raises the named exception:
    an unknown function is 404 ``ResourceNotFoundException``; a body that is not JSON is 400
    ``InvalidRequestContentException``; an unknown invocation type is 400
    ``InvalidParameterValueException``.

``GET /2015-03-31/functions/``
    ``ListFunctions`` (name and ARN of each handler), handy as a readiness probe.

Usage::

    endpoint = LambdaEndpoint({"rollout-Plan": plan_handler}, port=0).start()
    lam = boto3.client("lambda", endpoint_url=endpoint.url, ...)
    lam.invoke(FunctionName="rollout-Plan", Payload=b"{}")
    endpoint.stop()

Everything here is thread-safe: the server runs each request in its own thread, and the handlers
must be thread-safe too. :attr:`LambdaEndpoint.invocations` counts handler calls per function.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from orchestrator.errors import EnvironmentProblemError
from orchestrator.local.invoke_hook import (
    Handler,
    LambdaContext,
    error_payload,
    parse_function_name,
)
from orchestrator.local.sfn_deploy import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "Handler", "LambdaEndpoint"]

log = logging.getLogger(__name__)

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
LIST_PATH = re.compile(r"^/2015-03-31/functions/?$")
INVOCATION_TYPES = frozenset({"RequestResponse", "Event", "DryRun"})
_STOP_TIMEOUT = 10.0


class _QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without the access log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class LambdaEndpoint:
    """Lambda's Invoke API on ``host:port``, answered by Python handlers keyed by function name."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        quiet: bool = True,
    ) -> None:
        self.host = host
        self.region = region
        self.account_id = account_id
        self._requested_port = port
        self._quiet = quiet
        self._handlers: dict[str, Handler] = dict(handlers)
        self._invocations: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._background: set[threading.Thread] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LambdaEndpoint:
        """Listen (port 0: a free one) and serve in a daemon thread. Idempotent."""
        with self._lock:
            if self._server is not None:
                return self
            if self._requested_port:
                _check_port_free(self.host, self._requested_port)
            try:
                server = make_server(
                    self.host,
                    self._requested_port,
                    self.wsgi_app,
                    threaded=True,
                    request_handler=_QuietRequestHandler if self._quiet else WSGIRequestHandler,
                )
            except (OSError, SystemExit) as exc:
                # werkzeug exits (SystemExit) when the port is in use on some platforms
                raise EnvironmentProblemError(
                    f"port {self._requested_port} on {self.host} is taken or not available; "
                    f"the Lambda endpoint cannot listen there ({exc})"
                ) from None
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"lambda-endpoint-{server.server_port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket, wait (briefly) for ``Event`` invocations to finish."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
            background = list(self._background)
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(_STOP_TIMEOUT)
        for worker in background:
            worker.join(_STOP_TIMEOUT)

    def __enter__(self) -> LambdaEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- properties ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise EnvironmentProblemError("the Lambda endpoint is not running: call start() first")
        return int(server.server_port)

    @property
    def url(self) -> str:
        """``http://host:port`` (``127.0.0.1`` when listening on every interface)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def invocations(self) -> Counter[str]:
        """Handler calls per function name so far (a copy)."""
        with self._lock:
            return Counter(self._invocations)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def register(self, handlers: Mapping[str, Handler]) -> None:
        """Add or replace handlers (also while serving)."""
        with self._lock:
            self._handlers.update(handlers)

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    # -- the WSGI app ----------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception as exc:  # a bug here must not kill the server thread
            log.exception("Lambda endpoint failed on %s %s", request.method, request.path)
            response = _api_error(500, "ServiceException", f"{type(exc).__name__}: {exc}")
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if LIST_PATH.match(path) and request.method == "GET":
            return self._list_functions()
        match = INVOKE_PATH.match(path)
        if match is None:
            return _api_error(
                404, "UnknownOperationException", f"no such operation: {request.method} {path}"
            )
        if request.method != "POST":
            return _api_error(
                405, "UnknownOperationException", f"Invoke takes POST, not {request.method}"
            )
        return self._invoke(request, unquote(match.group("name")))

    def _list_functions(self) -> Response:
        functions = [
            {
                "FunctionName": name,
                "FunctionArn": self.function_arn(name),
                "Runtime": "python3.12",
                "Handler": "in-process",
                "Version": "$LATEST",
            }
            for name in self.names()
        ]
        return _json_response(200, {"Functions": functions})

    def _invoke(self, request: Request, function: str) -> Response:
        name, qualifier = parse_function_name(function)
        qualifier = request.args.get("Qualifier") or qualifier
        with self._lock:
            handler = self._handlers.get(name)
        if handler is None:
            arn = self.function_arn(name) + (f":{qualifier}" if qualifier else "")
            return _api_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            return _api_error(
                400,
                "InvalidParameterValueException",
                f"X-Amz-Invocation-Type {invocation_type!r}: expected one of "
                f"{', '.join(sorted(INVOCATION_TYPES))}",
            )
        raw = request.get_data(cache=False)
        try:
            event: Any = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _api_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {exc}",
            )
        version = qualifier if qualifier is not None and qualifier.isdigit() else "$LATEST"
        request_id = str(uuid.uuid4())
        headers = {"X-Amz-Executed-Version": version, "x-amzn-RequestId": request_id}
        if invocation_type == "DryRun":
            return Response(status=204, headers=headers)
        context = LambdaContext(
            function_name=name,
            function_version=version,
            invoked_function_arn=self.function_arn(name) + (f":{qualifier}" if qualifier else ""),
            aws_request_id=request_id,
        )
        if invocation_type == "Event":
            self._run_in_background(name, handler, event, context)
            return Response(status=202, headers={"x-amzn-RequestId": request_id})
        body, failed = self._call(name, handler, event, context)
        if failed:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return Response(body, status=200, headers=headers, content_type="application/json")

    def _call(
        self, name: str, handler: Handler, event: Any, context: LambdaContext
    ) -> tuple[bytes, bool]:
        """Run the handler: ``(JSON body, True when it is a function error)``."""
        with self._lock:
            self._invocations[name] += 1
        try:
            result = handler(event, context)
        except Exception as exc:
            return json.dumps(error_payload(exc), default=str).encode("utf-8"), True
        try:
            return json.dumps(result).encode("utf-8"), False
        except (TypeError, ValueError) as exc:
            marshal = {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}
            return json.dumps({**marshal, "stackTrace": []}).encode("utf-8"), True

    def _run_in_background(
        self, name: str, handler: Handler, event: Any, context: LambdaContext
    ) -> None:
        def work() -> None:
            try:
                body, failed = self._call(name, handler, event, context)
                if failed:
                    log.warning("asynchronous invocation of %s failed: %s", name, body.decode())
            finally:
                with self._lock:
                    self._background.discard(threading.current_thread())

        worker = threading.Thread(target=work, name=f"lambda-event-{name}", daemon=True)
        with self._lock:
            self._background.add(worker)
        worker.start()


def _check_port_free(host: str, port: int) -> None:
    """Refuse a taken port before werkzeug does (it prints to stderr and calls ``sys.exit``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise EnvironmentProblemError(
                f"port {port} on {host} is taken; the Lambda endpoint cannot listen there ({exc})"
            ) from None


def _json_response(status: int, document: Mapping[str, Any], **headers: str) -> Response:
    return Response(
        json.dumps(document),
        status=status,
        headers={"x-amzn-RequestId": str(uuid.uuid4()), **headers},
        content_type="application/json",
    )


def _api_error(status: int, error_type: str, message: str) -> Response:
    """An error of the Lambda API itself: boto3 raises ``error_type`` from the header."""
    return _json_response(
        status, {"Type": "User", "message": message}, **{"x-amzn-ErrorType": error_type}
    )
