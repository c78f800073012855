"""The one place that touches moto's internals (DESIGN §6), and what we measured about moto.

Everything else in :mod:`orchestrator.local` uses moto only through public APIs (its server, the
``/moto-api`` endpoints, the AWS APIs it serves) and the botocore hook in
:mod:`~orchestrator.local.invoke_hook`. This module holds the two speed patches the embedded
engine applies, each guarded by a version check and an identity check of every function it
replaces, and :func:`check_internals`, which ``tests/functional/test_engine.py`` calls so that a
moto upgrade that moves these internals fails loudly instead of silently running slow.

The patches (``apply_patches()`` is idempotent; ``revert_patches()`` undoes them)
--------------------------------------------------------------------------------------------
``jsonpath-cache``
    moto's interpreter parses the JSONPath text of every path it evaluates, on every evaluation:
    ``asl/utils/json_path.py:extract_json`` calls ``jsonpath_ng.ext.parse(path)`` (InputPath,
    OutputPath, ``"x.$"`` parameters, ItemsPath, SecondsPath, Choice variables ...) and
    ``asl/component/common/path/result_path.py:ResultPath._eval_body`` calls
    ``jsonpath_ng.parse(result_path)``. We replace the module-level name ``parse`` in those two
    modules with an ``lru_cache`` keyed by the expression string. jsonpath_ng's expression objects
    are immutable after construction (``find`` and ``update_or_create`` only read them), so
    sharing one per string across threads gives the same results.
``client-cache``
    ``asl/utils/boto_client.py:boto_client_for`` builds a new boto3 client for every Lambda task
    (and every SQS/SNS/DynamoDB/SDK task), ~3.5 ms of CPU each and far more under the GIL
    contention of a parallel Map. The cached version returns one client per (region, service,
    moto's stub mode, ``MOTO_PORT``), created under a lock; botocore clients are thread-safe for
    calls. In moto 5.2.5 ``boto_client_for`` ignores the state's credentials (always ``ak``/``sk``),
    so leaving them out of the key changes nothing. The client is created after the invoke hook
    is installed (the engine installs the hook first), so it carries the hook.

Measured on moto 5.2.5 / jsonpath-ng 1.16, 2 cores (``python -m tests.bench.bench_engine``: a Map
of 30 components, each 3 x Lambda task -> Choice -> Wait 0 s, 271 state transitions, 876 history
events; best of 3): stock 150-220 transitions/s (1.2-1.8 s); jsonpath-cache alone 230-270/s;
client-cache alone about 640/s; both about 1,200-1,300/s (0.2 s), i.e. 5-8x stock. With this
jsonpath-ng one parse costs only ~0.3 ms, so the per-task boto3 client is the larger cost; figures
vary with machine load.

Findings about moto 5.2.5's ASL interpreter (measured with the embedded engine)
-------------------------------------------------------------------------------
Lambda ``Resource`` forms: both work, through the same ``lambda.Invoke`` call (and our hook).

* ``"Resource": "arn:aws:lambda:<region>:<account>:function:<name>"`` (the plain function ARN,
  what ``${...}`` placeholders are filled with): the task's effective input is the payload and the
  task result is the handler's return value, as on AWS. History: ``LambdaFunctionScheduled``,
  ``LambdaFunctionStarted``, ``LambdaFunctionSucceeded``/``LambdaFunctionFailed``.
* ``"Resource": "arn:aws:states:::lambda:invoke"`` with ``"Parameters": {"FunctionName":
  "${Fn}", "Payload.$": "$"}``: the result is the Invoke response
  ``{"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": <handler result>}``, so a state
  needs ``"ResultSelector": {"x.$": "$.Payload"}`` or ``OutputPath: "$.Payload"`` to get the
  handler's result, as on AWS. ``FunctionName`` may be a plain name or an ARN. History:
  ``TaskScheduled``, ``TaskStarted``, ``TaskSucceeded``/``TaskFailed``. This is the form
  required for ``.waitForTaskToken`` (``arn:aws:states:::lambda:invoke.waitForTaskToken`` with
  ``"Payload": {"token.$": "$$.Task.Token", ...}``).

Either way a raised exception is a ``FunctionError``; the ASL error name is the payload's
``errorType`` (the exception's class name) and the ``Cause`` is the JSON error payload string
``{"errorType":...,"errorMessage":...,"stackTrace":[]}``. The recommended form for the project's
plain tasks is the plain function ARN (shortest, result is the handler's return value directly).

Behaviour measured:

* ``Wait`` with ``SecondsPath`` resolving to 0 returns at once (2 history events). A positive wait
  really sleeps (``Seconds: 1`` took 1.2 s); ``StopExecution`` interrupts a Wait at once.
* ``Map`` honours ``MaxConcurrency``: 1 ran the 6 iterations strictly one at a time, 3 never more
  than 3 at once, 0 runs them all in parallel threads. An empty ``ItemsPath`` array succeeds
  with ``[]``. Events: 4 per Map state (``MapStateEntered/Started/Succeeded/Exited``) and 2 per
  iteration (``MapIterationStarted/Succeeded``) plus each iteration's own states.
* ``Retry`` with ``ErrorEquals: ["AliasDriftError"]`` (any custom class name) matches the raised
  exception's class name. ``IntervalSeconds`` must be >= 1 (0 is rejected by create/update with
  a ValueError in the message), and the interval really sleeps: a workflow test that exercises a
  Retry costs at least ``IntervalSeconds``. Each retried attempt adds 3 events (Scheduled, Started,
  Failed).
* ``Catch`` with ``ErrorEquals: ["MyError"]`` or ``States.ALL`` routes to ``Next`` with
  ``{"Error": "MyError", "Cause": "<the JSON error payload as a string>"}`` at ``ResultPath``.
* ``.waitForTaskToken``: the execution stays ``RUNNING`` until ``SendTaskSuccess`` (the
  ``output`` JSON becomes the task result: 6 events for the task, ``TaskSubmitted`` included).
  ``SendTaskFailure(error=E, cause=C)`` fails the task with error ``E`` (Catch/Retry match it), but
  the cause is dropped (``Cause`` is ``null``). Reusing a token: ``SendTaskSuccess`` raises
  ``InvalidToken``, ``SendTaskFailure`` is accepted silently; an unknown token raises
  ``InvalidToken``. ``TimeoutSeconds`` and ``HeartbeatSeconds`` both surface as
  ``States.Timeout``. ``StopExecution`` does NOT end an execution parked on a task token: it stays
  ``RUNNING`` until the token is answered (then ``ABORTED``) or the task's ``TimeoutSeconds``
  passes (the default is ~3 years), so give every callback task a ``TimeoutSeconds``.
* History events: 5 per Lambda task (``TaskStateEntered`` + 3 + ``TaskStateExited``), 2 per
  Wait, Choice, Pass or Succeed state, 4 per Map state, 2 per Map iteration, 6 per
  ``.waitForTaskToken`` task, 3 per retried attempt, 2 for the execution itself (started and
  succeeded/failed). ``get_execution_history`` pages at 1,000 by default (``maxResults``,
  ``nextToken``). The 25,000-event cap is not enforced.
* ``start_execution`` with the name of a RUNNING execution and the same input returns that
  execution (idempotent); with another input, or once it finished, ``ExecutionAlreadyExists``.
* The interpreter logs every caught ASL error at ERROR level with the whole state's ``repr``
  (logger ``moto.stepfunctions.parser.asl.component.eval_component``); the engine quiets it.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from orchestrator.errors import EnvironmentProblemError

TESTED_MOTO = (5, 2)
"""The moto minor version the patches were written against (``pyproject.toml`` pins ``<5.3``)."""

PARSE_CACHE_SIZE = 4096
_ORIGINAL_MARK = "_moto_compat_original"
_SFN_PARSER = "moto.stepfunctions.parser.asl"
_TASK = f"{_SFN_PARSER}.component.state.exec.state_task"


class MotoCompatError(EnvironmentProblemError):
    """moto's internals are not where this module expects them (a moto upgrade moved them)."""


@dataclass(frozen=True)
class PatchTarget:
    """A module-level name in moto that must be ``original`` (``"package.module:function"``)."""

    module: str
    attribute: str
    original: str

    def original_function(self) -> Callable[..., Any]:
        module_name, _, function = self.original.partition(":")
        found: Callable[..., Any] = getattr(importlib.import_module(module_name), function)
        return found


@dataclass(frozen=True)
class Patch:
    """Replace every target with ``wrap(original)``; targets sharing an original share a wrapper."""

    name: str
    targets: tuple[PatchTarget, ...]
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]]


def _cached_parse(original: Callable[..., Any]) -> Callable[..., Any]:
    cache = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(original)

    def cached_parse(path: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(path, str):
            return original(path, *args, **kwargs)
        return cache(path)

    setattr(cached_parse, _ORIGINAL_MARK, original)
    cached_parse.cache_info = cache.cache_info  # type: ignore[attr-defined]
    cached_parse.cache_clear = cache.cache_clear  # type: ignore[attr-defined]
    return cached_parse


def _cached_client(original: Callable[..., Any]) -> Callable[..., Any]:
    lock = threading.Lock()
    clients: dict[tuple[str, str, bool, str], Any] = {}

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber

        key = (region, service, bool(botocore_stubber.enabled), os.environ.get("MOTO_PORT", ""))
        with lock:
            client = clients.get(key)
            if client is None:
                client = original(region=region, service=service, state_credentials=None)
                clients[key] = client
            return client

    setattr(boto_client_for, _ORIGINAL_MARK, original)
    boto_client_for.cache_clear = clients.clear  # type: ignore[attr-defined]
    return boto_client_for


_BOTO_CLIENT = f"{_SFN_PARSER}.utils.boto_client:boto_client_for"
_CLIENT_USERS = (
    f"{_SFN_PARSER}.utils.boto_client",
    f"{_TASK}.lambda_eval_utils",
    *(
        f"{_TASK}.service.state_task_service_{service}"
        for service in (
            "aws_sdk",
            "batch",
            "dynamodb",
            "ecs",
            "events",
            "glue",
            "sfn",
            "sns",
            "sqs",
            "unsupported",
        )
    ),
)

PATCHES: tuple[Patch, ...] = (
    Patch(
        "jsonpath-cache",
        (
            PatchTarget(f"{_SFN_PARSER}.utils.json_path", "parse", "jsonpath_ng.ext:parse"),
            PatchTarget(
                f"{_SFN_PARSER}.component.common.path.result_path", "parse", "jsonpath_ng:parse"
            ),
        ),
        _cached_parse,
    ),
    Patch(
        "client-cache",
        tuple(PatchTarget(module, "boto_client_for", _BOTO_CLIENT) for module in _CLIENT_USERS),
        _cached_client,
    ),
)
PATCH_NAMES = tuple(patch.name for patch in PATCHES)

_lock = threading.Lock()
_applied: dict[str, dict[PatchTarget, Callable[..., Any]]] = {}


def moto_version() -> tuple[int, ...]:
    parts: list[int] = []
    for piece in metadata.version("moto").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _unwrapped(function: Any) -> Any:
    return getattr(function, _ORIGINAL_MARK, function)


def check_internals(names: Iterable[str] | None = None) -> list[str]:
    """What is not as the patches expect on the installed moto; empty when all is well."""
    problems: list[str] = []
    version = moto_version()
    if version[:2] != TESTED_MOTO:
        problems.append(
            f"moto {'.'.join(map(str, version))} is installed, but orchestrator/local/"
            f"moto_compat.py was written for moto {'.'.join(map(str, TESTED_MOTO))}.x: "
            "re-check its patches"
        )
    for patch in _select(names):
        for target in patch.targets:
            where = f"[{patch.name}] {target.module}.{target.attribute}"
            try:
                module = importlib.import_module(target.module)
                expected = _unwrapped(target.original_function())
            except ImportError as exc:
                problems.append(f"{where}: cannot import: {exc}")
                continue
            current = getattr(module, target.attribute, None)
            if current is None:
                problems.append(f"{where}: no longer exists")
            elif _unwrapped(current) is not expected:
                problems.append(f"{where}: is {current!r}, expected {target.original}")
    if names is None:
        problems.extend(_server_app_problems())
    return problems


SERVER_APP_NAMES = ("DomainDispatcherApplication", "create_backend_app", "MotoRequestHandler")
"""What ``orchestrator.local.engine`` builds its own moto server from (to answer SQS message move
tasks, which moto lacks): not patched, but used beyond ``ThreadedMotoServer``."""


def _server_app_problems() -> list[str]:
    try:
        module = importlib.import_module("moto.moto_server.werkzeug_app")
    except ImportError as exc:
        return [f"moto.moto_server.werkzeug_app: cannot import: {exc}"]
    return [
        f"moto.moto_server.werkzeug_app.{name}: no longer exists (the engine's server app)"
        for name in SERVER_APP_NAMES
        if getattr(module, name, None) is None
    ]


def _select(names: Iterable[str] | None) -> list[Patch]:
    if names is None:
        return list(PATCHES)
    wanted = set(names)
    unknown = wanted - set(PATCH_NAMES)
    if unknown:
        raise ValueError(f"unknown patches {sorted(unknown)}; known: {PATCH_NAMES}")
    return [patch for patch in PATCHES if patch.name in wanted]


def apply_patches(names: Iterable[str] | None = None, *, strict: bool = False) -> bool:
    """Apply the named patches (default: all). Idempotent; True when they are all active.

    A patch whose internals are not as expected is skipped (the engine still works, only slower)
    and False is returned; with ``strict=True`` :class:`MotoCompatError` is raised instead.
    """
    with _lock:
        ok = True
        for patch in _select(names):
            if patch.name in _applied:
                continue
            problems = check_internals([patch.name])
            if problems:
                if strict:
                    raise MotoCompatError("; ".join(problems))
                ok = False
                continue
            saved: dict[PatchTarget, Callable[..., Any]] = {}
            wrappers: dict[int, Callable[..., Any]] = {}
            for target in patch.targets:
                module = importlib.import_module(target.module)
                original = getattr(module, target.attribute)
                if id(original) not in wrappers:
                    wrappers[id(original)] = patch.wrap(original)
                saved[target] = original
                setattr(module, target.attribute, wrappers[id(original)])
            _applied[patch.name] = saved
        return ok


def revert_patches(names: Iterable[str] | None = None) -> None:
    """Put moto's own functions back (the benchmark compares stock and patched). Idempotent."""
    with _lock:
        for patch in _select(names):
            saved = _applied.pop(patch.name, None)
            for target, original in (saved or {}).items():
                setattr(importlib.import_module(target.module), target.attribute, original)


def active_patches() -> list[str]:
    with _lock:
        return [name for name in PATCH_NAMES if name in _applied]


def patches_active() -> bool:
    """Whether every patch is applied."""
    return active_patches() == list(PATCH_NAMES)


def parse_cache_info() -> dict[str, dict[str, int]]:
    """Hits, misses and size of each cached JSONPath parser (empty when not patched)."""
    info: dict[str, dict[str, int]] = {}
    with _lock:
        for target in _applied.get("jsonpath-cache", {}):
            current = getattr(importlib.import_module(target.module), target.attribute)
            cache_info = getattr(current, "cache_info", None)
            if cache_info is not None:
                info[f"{target.module}.{target.attribute}"] = dict(cache_info()._asdict())
    return info
