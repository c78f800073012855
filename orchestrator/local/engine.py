"""The embedded engine: Step Functions (and the emulated AWS account) in-process, on moto.

:class:`EmbeddedEngine` serves moto on a local port (as ``ThreadedMotoServer`` does) with moto's ASL
interpreter switched on, so the project's real JSONPath state machine runs locally with no Docker
and no Java. Lambda tasks call Python handlers in-process through the botocore hook in
:mod:`orchestrator.local.invoke_hook`; the handlers' functions also exist in moto's Lambda
(dummy zip, ``python3.12``) so the ARNs the ASL names are real. Clients from :meth:`client` and the
CLI talk to it with ordinary boto3 through ``endpoint_url``, exactly as they talk to AWS or to
Step Functions Local (DESIGN §6). Inside this process those requests never touch the socket: the
same botocore hook hands them to moto's WSGI app directly (:mod:`orchestrator.local.wsgi_transport`,
``in_process=True``, the default); other processes use the port.

Usage::

    with EmbeddedEngine({"Plan": plan_handler}) as engine:
        arn = engine.deploy_state_machine("rollout", asl, {"Plan": engine.function_arn("Plan")})
        sfn = engine.client("stepfunctions")
        run = sfn.start_execution(stateMachineArn=arn, name="r1", input="{}")
        result = wait_for_execution(sfn, run["executionArn"], timeout=30)
        output = json.loads(result["output"])     # present when status == "SUCCEEDED"

Things to know (measured on moto 5.2.5; the full list is in :mod:`orchestrator.local.moto_compat`):

* moto's state lives in module-level globals, so it is *process-wide*: two servers in one process
  would share every account, and the interpreter reaches "its" server through the process-wide
  ``MOTO_PORT`` environment variable (it calls ``http://localhost:$MOTO_PORT``). One engine runs
  per process at a time; :meth:`EmbeddedEngine.start` refuses a second one
  (:class:`~orchestrator.errors.EnvironmentProblemError`). With ``fresh=True`` (the default)
  ``start`` empties moto first, so an engine never sees a previous engine's state machines.
* The moto config (``execute_state_machine``, ``lambda.use_docker``) is process-wide too and must
  be set before any state machine is created: with it off, moto keeps state machines in another
  backend that never runs them. ``start`` sets it first; ``stop`` puts moto's defaults back,
  restores ``MOTO_PORT`` and reverts the moto_compat patches it applied.
* Both Lambda ``Resource`` forms work: the plain function ARN (result = the handler's return
  value) and ``arn:aws:states:::lambda:invoke`` (result = ``{"StatusCode", "ExecutedVersion",
  "Payload"}``); ``.waitForTaskToken`` needs the second.
* ``start_execution`` returns at once; executions run in daemon threads. Poll with
  :func:`wait_for_execution`, which always has a timeout. Always pass an execution ``name``.
* Execution output is ``describe_execution(...)["output"]`` (a JSON string) once the status is
  ``SUCCEEDED``; a failed execution carries ``error`` (the exception's class name) and ``cause``
  (the JSON error payload) instead.
* ``SendTaskFailure`` keeps the error name but drops the cause. ``StopExecution`` interrupts a
  Wait at once but not a task parked on a task token: that execution stays ``RUNNING`` until the
  token is answered or the task's ``TimeoutSeconds`` passes, so give callback tasks a timeout.
* ``Retry`` intervals and ``Wait`` states really sleep (``IntervalSeconds`` must be >= 1).
* Handlers run on the interpreter's threads (one per execution and per Map iteration), so they
  must be thread-safe; :attr:`EmbeddedEngine.invocations` counts calls per function.
* The engine fails where AWS fails (``history_event_limit``, ``payload_limit``; AWS's figures
  by default, small ones for tests): an execution whose next event would be its 25,000th and does
  not end it FAILS with ``States.Runtime`` and AWS's cause "The execution reached the maximum
  number of history events (25000)." (that ``ExecutionFailed`` is the 25,000th event); a state's
  input or output, a task's input (after ``Parameters``) or result over 262,144 bytes of UTF-8
  JSON fails with ``States.DataLimitExceeded`` (cause with the figures), which ``States.ALL``
  does not catch (:mod:`~orchestrator.local.moto_compat`, patches ``history-limit`` and
  ``payload-limit``).
* ``quiet=True`` (the default) silences werkzeug's access log and the interpreter's ERROR log line
  for every caught ASL error, unless those loggers were configured already.
* The interpreter can fail in itself, outside the ASL's error handling: a ``Map`` worker whose
  evaluation raised (moto logs "Unhandled termination error in item processor worker"), a program
  that ended on a Python exception ("Stepfunctions computation ended with exception ..."), or an
  interpreter thread that died. Such an execution may stay ``RUNNING`` for ever (a ``Map`` waits
  for a worker that is gone). :attr:`EmbeddedEngine.faults` collects these, in order, from moto's
  log records and from ``threading.excepthook``, so a caller following an execution can stop at
  once instead of waiting out its timeout (``DryRun`` does).
* moto, its server extra (werkzeug, flask) and jsonpath-ng come with the ``local`` extra
  (``pip install 'rollout-orchestrator[local]'``); :func:`require_local_extra` turns their absence
  into an :class:`~orchestrator.errors.EnvironmentProblemError` (exit 3) naming that command.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import socket
import threading
import time
import traceback
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from orchestrator.errors import EnvironmentProblemError, InputError, Issue, RolloutError
from orchestrator.local import invoke_hook, moto_compat, wsgi_transport
from orchestrator.local.invoke_hook import Handler, InvocationRouter
from orchestrator.local.message_mover import MoveTasks, move_task_app
from orchestrator.local.wsgi_transport import WsgiApp

__all__ = [
    "ACCOUNT_ID",
    "LOCAL_EXTRA",
    "EmbeddedEngine",
    "EngineFault",
    "Handler",
    "local_extra_guard",
    "require_local_extra",
    "wait_for_execution",
]

ACCOUNT_ID = "123456789012"
"""moto's default account: every ARN the engine hands out is in it."""

ENGINE_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
_DEFAULT_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": False},
    "lambda": {"use_docker": True},
}
ROLE_NAME = "embedded-engine"
RUNTIME = "python3.12"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
_START_TIMEOUT = 30.0

LOCAL_EXTRA = "pip install 'rollout-orchestrator[local]'"
"""What installs the embedded engine (moto with its server) and the local Lambda endpoint."""
ENGINE_MODULES = ("moto", "werkzeug", "flask", "jsonpath_ng")
"""What the embedded engine imports: moto, its server extra, its ASL interpreter's JSONPath."""
ENDPOINT_MODULES = ("werkzeug",)
"""What the local Lambda endpoint (`rollout local-lambda`) imports."""

_FAULT_LOGGERS = {
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker": (
        "Unhandled termination error"
    ),
    "moto.stepfunctions.parser.asl.component.program.program": "computation ended with exception",
}
"""moto's loggers whose records mean the interpreter itself failed, and the message they carry
(measured on moto 5.2.5; an ASL error caught by Retry/Catch logs neither)."""


TRANSPORT_ENV = "ROLLOUT_ENGINE_TRANSPORT"
"""``in-process`` (the default) answers this process's requests to the engine by calling moto's
app directly (1.7-2x faster dry runs); ``http`` sends them over the socket: for comparing the two,
or to rule the shortcut out."""


def _in_process_default() -> bool:
    value = os.environ.get(TRANSPORT_ENV, "in-process").strip().lower()
    if value not in ("in-process", "http"):
        raise EnvironmentProblemError(
            f"{TRANSPORT_ENV}={value!r}: use 'in-process' (the default) or 'http'"
        )
    return value == "in-process"


def wait_for_execution(
    sfn_client: Any, execution_arn: str, timeout: float, *, poll_interval: float = 0.02
) -> dict[str, Any]:
    """Poll ``describe_execution`` until the execution leaves ``RUNNING``; return that description.

    Sleeps start at ``poll_interval`` and grow to 0.25 s. Raises ``TimeoutError`` naming the last
    status seen when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    interval = poll_interval
    while True:
        described: dict[str, Any] = sfn_client.describe_execution(executionArn=execution_arn)
        status = str(described.get("status"))
        if status in _TERMINAL:
            return described
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"execution {execution_arn} is still {status} after {timeout:g} s")
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 0.25)


def fill_placeholders(definition: str, substitutions: Mapping[str, str]) -> str:
    """Replace every ``${key}`` like CloudFormation's ``DefinitionSubstitutions`` (plain text).

    Raises :class:`InputError` naming every placeholder without a substitution.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in substitutions:
            return str(substitutions[key])
        missing.append(key)
        return match.group(0)

    filled = _PLACEHOLDER.sub(replace, definition)
    if missing:
        names = ", ".join(f"${{{key}}}" for key in sorted(set(missing)))
        raise InputError([Issue("definition", f"placeholders without a substitution: {names}")])
    return filled


def missing_local_packages(modules: Iterable[str] = ENGINE_MODULES) -> list[str]:
    """The modules of ``modules`` that cannot be imported here (moto also needs its package
    metadata: :mod:`~orchestrator.local.moto_compat` reads its version)."""
    missing: list[str] = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
            continue
        if name == "moto":
            try:
                metadata.version("moto")
            except metadata.PackageNotFoundError:
                missing.append("moto (package metadata)")
    return missing


def require_local_extra(command: str, modules: Iterable[str] = ENGINE_MODULES) -> None:
    """Raise :class:`EnvironmentProblemError` (exit 3) naming ``command`` and the ``local`` extra
    when a module it needs is not installed (a plain ``pip install rollout-orchestrator``)."""
    missing = missing_local_packages(modules)
    if missing:
        raise EnvironmentProblemError(_extra_message(command, missing))


def _extra_message(command: str, missing: Iterable[str]) -> str:
    return f"{command} needs the local extra: {LOCAL_EXTRA} (not installed: {', '.join(missing)})"


@contextlib.contextmanager
def local_extra_guard(command: str) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` of a module the ``local`` extra installs into the same
    :class:`EnvironmentProblemError` as :func:`require_local_extra` (an import deep inside moto
    that the up-front check cannot see)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        root = (exc.name or "").split(".")[0]
        if root not in ENGINE_MODULES:
            raise
        raise EnvironmentProblemError(_extra_message(command, [exc.name or root])) from None


def _definition_error(name: str, exc: ClientError) -> RolloutError:
    """moto rejects a definition it cannot parse with an error whose message names it."""
    error = exc.response.get("Error", {})
    message = str(error.get("Message", exc))
    if error.get("Code") in ("", "InvalidDefinition", "ValidationException") or (
        " in definition " in message
    ):
        return InputError([Issue("definition", f"state machine {name} rejected: {message}")])
    return EnvironmentProblemError(f"cannot deploy state machine {name}: {message}")


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "lambda_function.py",
            "def handler(event, context):\n"
            "    raise RuntimeError('runs in-process through the embedded engine')\n",
        )
    return buffer.getvalue()


def _quiet_loggers() -> None:
    """Silence werkzeug's access log and the interpreter's ERROR log of every caught ASL error.

    Only loggers nobody configured (level NOTSET) are touched, so a test or the CLI can still
    turn them on.
    """
    for name, level in (
        ("werkzeug", logging.WARNING),
        ("moto.stepfunctions.parser.asl.component.eval_component", logging.CRITICAL),
        # "State Task encountered an unhandled exception ...": also when a Wait or a task is
        # interrupted by StopExecution; a real interpreter failure is in ``faults``
        ("moto.stepfunctions.parser.asl.component.state.exec.execute_state", logging.ERROR),
    ):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


@dataclass(frozen=True)
class EngineFault:
    """The interpreter failed in itself (not an ASL error): what it said, and when."""

    source: str
    """``log`` (one of moto's records) or ``thread`` (an interpreter thread died)."""
    message: str
    at: float
    """``time.monotonic()`` when it was seen."""


class _FaultMonitor(logging.Handler):
    """Collects :class:`EngineFault` s from moto's log records and dying interpreter threads."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.faults: list[EngineFault] = []
        self._faults_lock = threading.Lock()
        self._previous_hook: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        marker = _FAULT_LOGGERS.get(record.name)
        if marker is None:
            return
        with contextlib.suppress(Exception):
            message = record.getMessage()
            if marker in message:
                self._add("log", message)

    def _add(self, source: str, message: str) -> None:
        with self._faults_lock:
            self.faults.append(EngineFault(source, message, time.monotonic()))

    def _thread_died(self, args: threading.ExceptHookArgs) -> None:
        frames = traceback.extract_tb(args.exc_traceback) if args.exc_traceback else []
        if any("moto/stepfunctions" in frame.filename.replace("\\", "/") for frame in frames):
            name = args.thread.name if args.thread is not None else "?"
            self._add(
                "thread",
                f"interpreter thread {name} died: {args.exc_type.__name__}({args.exc_value})",
            )
        if self._previous_hook is not None:
            self._previous_hook(args)

    def install(self) -> None:
        for name in _FAULT_LOGGERS:
            logging.getLogger(name).addHandler(self)
        self._previous_hook = threading.excepthook
        threading.excepthook = self._thread_died

    def uninstall(self) -> None:
        for name in _FAULT_LOGGERS:
            logging.getLogger(name).removeHandler(self)
        if threading.excepthook == self._thread_died:
            threading.excepthook = self._previous_hook
        self._previous_hook = None

    def snapshot(self) -> list[EngineFault]:
        with self._faults_lock:
            return list(self.faults)


class _EngineServer:
    """moto's server app on a threaded werkzeug server, with SQS's message move tasks answered
    in front of it (:func:`~orchestrator.local.message_mover.move_task_app`: moto has none).

    The app is built as moto's own ``moto_server`` command and ``ThreadedMotoServer`` build it
    (``DomainDispatcherApplication(create_backend_app)`` with ``MotoRequestHandler``, from
    ``moto.moto_server.werkzeug_app``, which ``moto.server`` imports for them). Should a moto
    upgrade move those names, the engine falls back to ``ThreadedMotoServer`` itself and only the
    move tasks are lost (``tests/functional/test_dryrun_move_tasks.py`` then fails loudly)."""

    def __init__(self, host: str, port: int, tasks: MoveTasks) -> None:
        self._host = host
        self._port = port
        self._tasks = tasks
        self._server: Any = None
        self._threaded: Any = None
        self._thread: threading.Thread | None = None
        self.app: WsgiApp | None = None
        """The WSGI app the server runs (None on the ``ThreadedMotoServer`` fallback)."""

    move_tasks = True
    """False when moto's server app could not be built here (see above)."""

    def start(self) -> None:
        from werkzeug.serving import make_server

        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
        except ImportError:
            self.move_tasks = False
            self._start_threaded_moto_server()
            return
        app = move_task_app(DomainDispatcherApplication(create_backend_app), self._tasks)
        self.app = app
        try:
            self._server = make_server(
                self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
            )
        except (OSError, SystemExit) as exc:  # werkzeug exits on a port it cannot bind
            raise EnvironmentProblemError(
                f"moto's server cannot listen on {self._host}:{self._port}: {exc}"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="embedded-engine", daemon=True
        )
        self._thread.start()

    def _start_threaded_moto_server(self) -> None:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        starter = threading.Thread(target=server.start, name="embedded-engine-start", daemon=True)
        starter.start()
        starter.join(_START_TIMEOUT)
        if starter.is_alive():
            raise EnvironmentProblemError(
                f"moto's server did not start on {self._host}:{self._port} "
                f"within {_START_TIMEOUT:g} s"
            )
        self._threaded = server

    def get_host_and_port(self) -> tuple[str, int]:
        if self._threaded is not None:
            host, port = self._threaded.get_host_and_port()
            return str(host), int(port)
        assert self._server is not None, "call start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._threaded is not None:
            self._threaded.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT)


class EmbeddedEngine:
    """moto's server and ASL interpreter in this process, with Lambda tasks run in-process."""

    _active: EmbeddedEngine | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        region: str = "us-east-1",
        port: int = 0,
        host: str = "127.0.0.1",
        patch_moto: bool = True,
        quiet: bool = True,
        fresh: bool = True,
        history_event_limit: int = moto_compat.HISTORY_EVENT_LIMIT,
        payload_limit: int = moto_compat.PAYLOAD_LIMIT,
        in_process: bool | None = None,
    ) -> None:
        self.in_process = _in_process_default() if in_process is None else in_process
        """Answer this process's own requests to the engine by calling moto's app directly
        (:mod:`~orchestrator.local.wsgi_transport`) instead of over the socket; other processes
        still use the port. Default on; ``ROLLOUT_ENGINE_TRANSPORT=http`` turns it off."""
        self.limits = moto_compat.Limits(history_event_limit, payload_limit)
        """What the engine enforces as AWS does (the ``history-limit`` and ``payload-limit``
        patches, so with ``patch_moto=True``): AWS's 25,000 events and 262,144 bytes by default."""
        self._saved_limits: moto_compat.Limits | None = None
        self.region = region
        self.account_id = ACCOUNT_ID
        self._requested_port = port
        self._host = host
        self._patch_moto = patch_moto
        self._our_patches: list[str] = []
        self._quiet = quiet
        self._fresh = fresh
        self._router = InvocationRouter(region, ACCOUNT_ID)
        self._router.register(dict(handlers or {}))
        self._server: Any = None
        self._port: int | None = None
        self._saved_moto_port: str | None = None
        self._created_functions: set[str] = set()
        self._role_arn: str | None = None
        self._session: boto3.session.Session | None = None
        self._lock = threading.RLock()
        self._monitor = _FaultMonitor()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> EmbeddedEngine:
        """Start the server, switch on the interpreter, create the handlers' functions."""
        with EmbeddedEngine._active_lock:
            if EmbeddedEngine._active is self:
                return self
            if EmbeddedEngine._active is not None:
                raise EnvironmentProblemError(
                    "another EmbeddedEngine is already running in this process "
                    f"({EmbeddedEngine._active.endpoint_url}); moto's state and MOTO_PORT are "
                    "process-wide, so stop it first or share it"
                )
            EmbeddedEngine._active = self
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def _start(self) -> None:
        # Order matters: the hook must be in BUILTIN_HANDLERS before any client exists (see
        # invoke_hook), and the patch before the first execution parses a JSONPath.
        invoke_hook.install()
        if self._quiet:
            _quiet_loggers()
        if self._patch_moto:
            already = set(moto_compat.active_patches())
            moto_compat.apply_patches()
            self._our_patches = [p for p in moto_compat.active_patches() if p not in already]
        self._saved_limits = moto_compat.set_limits(self.limits)
        if self._requested_port:
            self._check_port_free(self._requested_port)
        require_local_extra("the embedded engine")
        self._monitor.install()
        with local_extra_guard("the embedded engine"):
            server = _EngineServer(self._host, self._requested_port, MoveTasks(self._engine_sqs))
            server.start()
        self._server = server
        self._port = int(server.get_host_and_port()[1])
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self._port)
        self._bypass_proxies()
        invoke_hook.register_router(self._port, self._router)
        if self.in_process and server.app is not None:
            wsgi_transport.register_app(self._port, server.app)
        if self._fresh:
            self._post_moto_api("/moto-api/reset", None)
        self._post_moto_api("/moto-api/config", ENGINE_CONFIG)
        self._ensure_functions()

    def stop(self) -> None:
        """Stop running executions, put moto's config and ``MOTO_PORT`` back, stop the server."""
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._stop_running_executions()
            with contextlib.suppress(Exception):
                self._post_moto_api("/moto-api/config", _DEFAULT_CONFIG)
        self._teardown()

    def _teardown(self) -> None:
        self._monitor.uninstall()
        if self._port is not None:
            invoke_hook.unregister_router(self._port)
            wsgi_transport.unregister_app(self._port)
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
        if self._our_patches:  # leave moto as we found it (the client cache is per MOTO_PORT)
            moto_compat.revert_patches(self._our_patches)
            self._our_patches = []
        if self._saved_limits is not None:
            moto_compat.set_limits(self._saved_limits)
            self._saved_limits = None
        self._server = None
        self._port = None
        self._session = None
        self._created_functions.clear()
        self._role_arn = None
        with EmbeddedEngine._active_lock:
            if EmbeddedEngine._active is self:
                EmbeddedEngine._active = None

    def __enter__(self) -> EmbeddedEngine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty every moto backend, then re-apply the config and re-create role and functions."""
        self._require_running()
        self._stop_running_executions()
        with self._lock:
            self._post_moto_api("/moto-api/reset", None)
            self._created_functions.clear()
            self._role_arn = None
            self._post_moto_api("/moto-api/config", ENGINE_CONFIG)
            self._router.reset_counts()
            self._ensure_functions()

    def _stop_running_executions(self) -> None:
        """Stop every execution still running: emptying the backends does not stop an
        interpreter thread, and one left running (a test that ended while its release waited)
        would go on calling the step handlers, against the next deployment's records."""
        sfn = self.client("stepfunctions")
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                pages = sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
                )
                for listed in pages:
                    for execution in listed["executions"]:
                        with contextlib.suppress(ClientError):
                            sfn.stop_execution(
                                executionArn=execution["executionArn"],
                                error="EngineReset",
                                cause="the embedded engine was reset",
                            )

    # -- properties and clients ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        self._require_running()
        assert self._port is not None
        return self._port

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "", "::") else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def invocations(self) -> Counter[str]:
        """Invocations per function name since start (or the last :meth:`reset`). Live object."""
        return self._router.invocations

    @property
    def faults(self) -> list[EngineFault]:
        """Every failure of the interpreter itself seen since :meth:`start`, oldest first (see
        the module's docstring). A copy: compare lengths to see new ones."""
        return self._monitor.snapshot()

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{ROLE_NAME}"

    def _engine_sqs(self) -> Any:
        """The SQS client the emulated move tasks use (created on the first task)."""
        return self.client("sqs")

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this engine (dummy credentials, few retries)."""
        self._require_running()
        with self._lock:  # boto3 sessions are not thread-safe while creating clients
            if self._session is None:
                self._session = boto3.session.Session(
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    region_name=self.region,
                )
            return self._session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                config=Config(
                    retries={"max_attempts": 2, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )

    # -- Lambda handlers -------------------------------------------------------------------------

    def register_handlers(self, handlers: Mapping[str, Handler]) -> None:
        """Map Lambda function names to Python handlers (creating the functions if running)."""
        self._router.register(dict(handlers))
        if self.running:
            self._ensure_functions()

    def function_arn(self, name: str) -> str:
        return self._router.function_arn(name)

    def _ensure_functions(self) -> None:
        with self._lock:
            names = [n for n in self._router.names() if n not in self._created_functions]
            if not names:
                return
            self._ensure_role()
            lam = self.client("lambda")
            code = _dummy_zip()
            for name in names:
                try:
                    lam.create_function(
                        FunctionName=name,
                        Runtime=RUNTIME,
                        Role=self.role_arn,
                        Handler="lambda_function.handler",
                        Code={"ZipFile": code},
                        Timeout=900,
                    )
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceConflictException":
                        raise EnvironmentProblemError(
                            f"cannot create Lambda function {name} on the embedded engine: {exc}"
                        ) from exc
                self._created_functions.add(name)

    def _ensure_role(self) -> None:
        if self._role_arn is not None:
            return
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        self._role_arn = self.role_arn

    # -- state machines --------------------------------------------------------------------------

    def state_machine_arn(self, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def deploy_state_machine(
        self,
        name: str,
        definition: str | Mapping[str, Any],
        substitutions: Mapping[str, str],
        role_arn: str | None = None,
    ) -> str:
        """Fill ``${key}`` placeholders, create or update the state machine, return its ARN.

        Raises :class:`InputError` for a placeholder without a substitution or a definition that
        is not JSON (moto validates nothing else: an invalid ASL only fails when it runs).
        """
        self._require_running()
        text = definition if isinstance(definition, str) else json.dumps(definition)
        filled = fill_placeholders(text, substitutions)
        try:
            json.loads(filled)
        except ValueError as exc:
            raise InputError([Issue("definition", f"not valid JSON: {exc}")]) from exc
        self._ensure_role()
        role = role_arn or self.role_arn
        sfn = self.client("stepfunctions")
        arn = self.state_machine_arn(name)
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "StateMachineDoesNotExist":
                raise
            try:
                created = sfn.create_state_machine(name=name, definition=filled, roleArn=role)
            except ClientError as exc:
                raise _definition_error(name, exc) from exc
            return str(created["stateMachineArn"])
        try:
            sfn.update_state_machine(stateMachineArn=arn, definition=filled, roleArn=role)
        except ClientError as exc:
            raise _definition_error(name, exc) from exc
        return arn

    # -- helpers ---------------------------------------------------------------------------------

    def _require_running(self) -> None:
        if self._server is None or self._port is None:
            raise EnvironmentProblemError("the embedded engine is not running: call start() first")

    def _post_moto_api(self, path: str, body: Mapping[str, Any] | None) -> None:
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise EnvironmentProblemError(
                f"the embedded engine's moto API refused POST {path}: {exc}"
            ) from exc

    @staticmethod
    def _check_port_free(port: int) -> None:
        """Refuse a port something listens on. ``SO_REUSEADDR`` as the server sets it, so a port
        whose last connections are in TIME_WAIT (a restart right after a stop) counts as free."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise EnvironmentProblemError(
                    f"port {port} is taken; the embedded engine cannot listen there"
                ) from exc

    @staticmethod
    def _bypass_proxies() -> None:
        """Keep a configured HTTP proxy away from the interpreter's ``localhost`` calls."""
        if not any(
            os.environ.get(v) for v in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
        ):
            return
        for var in ("NO_PROXY", "no_proxy"):
            current = [h for h in os.environ.get(var, "").split(",") if h]
            for host in ("localhost", "127.0.0.1"):
                if host not in current:
                    current.append(host)
            os.environ[var] = ",".join(current)
