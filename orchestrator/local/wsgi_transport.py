"""Requests to the embedded engine's own port, answered in-process by the same WSGI app.

The embedded engine serves moto's app on a local port so that anything speaking HTTP can reach it
(the CLI in another process, ``aws --endpoint-url``, Step Functions Local's tooling). Inside the
engine's own process, though, every boto3 call (the step handlers', the simulator's and moto's
ASL interpreter's, which calls ``http://localhost:$MOTO_PORT``) would go through a socket, a new
server thread, werkzeug's HTTP parser and back, only to reach the very app object that sits in
the same process. Profiles of 1,000-component dry runs put 40% of the interpreter's time there.

:func:`respond` turns botocore's prepared request into the WSGI ``environ`` werkzeug's server
builds (with moto's request handler's one addition: header names with underscores keep their
spelling), calls the app on the caller's thread and wraps what it answers in an
``AWSResponse``. The app is the same object the server runs, so the answers are the same bytes;
only the transport is skipped. The hook in :mod:`orchestrator.local.invoke_hook` calls it for
requests addressed to a port registered here (:func:`register_app`); requests to any other port,
or to AWS, are sent as usual.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

__all__ = [
    "RawBody",
    "WsgiApp",
    "app_for",
    "register_app",
    "request_body",
    "respond",
    "unregister_app",
]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
"""A WSGI application: ``(environ, start_response) -> body chunks``."""

_PRESERVED_KEY = "moto.preserved_header_names"
"""moto's ``PRESERVED_HEADER_NAMES_ENVIRON_KEY`` (read from moto when it is importable)."""

_INTERNAL_ERROR = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was "
    b"unable to complete your request.</p>\n"
)
"""werkzeug's answer to an exception the app let out."""
_server_log = logging.getLogger("werkzeug")
"""The logger werkzeug's server reports those exceptions to (the engine quiets it)."""

_APPS: dict[int, WsgiApp] = {}
_APPS_LOCK = threading.Lock()


def register_app(port: int, app: WsgiApp) -> None:
    """Answer requests addressed to ``port`` by calling ``app`` in-process."""
    with _APPS_LOCK:
        _APPS[port] = app


def unregister_app(port: int) -> None:
    with _APPS_LOCK:
        _APPS.pop(port, None)


def app_for(port: int | None) -> WsgiApp | None:
    """The app registered for ``port``. Read without the lock (one ``dict.get``, atomic in
    CPython): every in-process request asks, and a lock here was 18% of a 100-component dry
    run's busy samples; registering and unregistering still take it."""
    if port is None:
        return None
    return _APPS.get(port)


class RawBody(io.BytesIO):
    """The ``raw`` of a synthetic response: botocore reads it or calls ``stream()``."""

    def stream(self, **_: Any) -> Iterable[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def request_body(body: Any) -> bytes:
    """botocore's request body (bytes, text, a file-like or nothing) as bytes."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return bytes(body)


def _preserved_key() -> str:
    try:
        from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
    except ImportError:  # an older moto: nothing reads the key
        return _PRESERVED_KEY
    return str(PRESERVED_HEADER_NAMES_ENVIRON_KEY)


def environ_for(
    method: str, url: str, headers: Iterable[tuple[Any, Any]], body: bytes
) -> dict[str, Any]:
    """The WSGI environ werkzeug's development server builds for this request (PEP 3333)."""
    parts = urlsplit(url)
    raw_path = parts.path or "/"
    host = parts.hostname or "127.0.0.1"
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "werkzeug.socket": None,
        "SERVER_SOFTWARE": "rollout-embedded-engine",
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        # WSGI's PATH_INFO is the decoded path as latin-1 text (werkzeug's "encoding dance")
        "PATH_INFO": unquote(raw_path).encode("utf-8").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "REQUEST_URI": raw_path + (f"?{parts.query}" if parts.query else ""),
        "RAW_URI": raw_path + (f"?{parts.query}" if parts.query else ""),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": host,
        "SERVER_PORT": str(parts.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
    }
    underscored: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name, value = _text(raw_name), _text(raw_value).replace("\r\n", "")
        if "_" in name:  # werkzeug drops these; moto's request handler keeps them as spelt
            key = "HTTP_" + name.upper().replace("-", "_")
            names.setdefault(key, name)
            underscored.setdefault(key, []).append(value)
            continue
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            continue  # the body's own length, set above
        else:
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ.setdefault("HTTP_HOST", parts.netloc or host)
    for key, values in underscored.items():
        if key not in environ:
            environ[key] = ",".join(values)
    environ[_preserved_key()] = {k: v for k, v in names.items() if k in underscored}
    return environ


def call_app(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run ``app`` on ``environ``: ``(status code, headers, body)``."""
    started: dict[str, Any] = {}

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"] = status
        started["headers"] = list(response_headers)
        return chunks.append

    chunks: list[bytes] = []
    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception:
        # what werkzeug's server does with an exception the app let out (moto has a few, e.g.
        # StopExecution racing the execution's start): log it, answer 500, which botocore
        # retries and then raises as a ClientError, never the server's Python exception
        _server_log.exception(
            "Error on request %s %s", environ.get("REQUEST_METHOD"), environ.get("RAW_URI")
        )
        return 500, [("Content-Type", "text/html; charset=utf-8")], _INTERNAL_ERROR
    status = int(str(started.get("status", "500")).split(" ", 1)[0])
    return status, started.get("headers", []), b"".join(chunks)


def respond(app: WsgiApp, request: Any) -> AWSResponse:
    """Answer botocore's prepared ``request`` with ``app``, as its HTTP server would."""
    url = str(request.url)
    body = request_body(request.body)
    environ = environ_for(str(request.method), url, request.headers.items(), body)
    status, response_headers, content = call_app(app, environ)
    headers = HTTPHeaders()
    for name, value in response_headers:
        headers[name] = value
    if request.method.upper() == "HEAD":
        content = b""
    return AWSResponse(url, status, headers, RawBody(content))
