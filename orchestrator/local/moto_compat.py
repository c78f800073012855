"""The one place that touches moto's internals (DESIGN §6), and what we measured about moto.

Everything else in :mod:`orchestrator.local` uses moto only through public APIs (its server, the
``/moto-api`` endpoints, the AWS APIs it serves) and the botocore hook in
:mod:`~orchestrator.local.invoke_hook`. This module holds the patches the embedded engine applies
(speed, and AWS's limits, which moto does not enforce), each guarded by a version check and an
identity check of every function or method it replaces, and :func:`check_internals`, which
``tests/functional/test_engine.py`` calls so that a moto upgrade that moves these internals fails
loudly instead of silently running slow or lax.

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
``server-dispatch-cache``
    moto's server does two things on every request whose answer cannot change while the process
    runs: ``get_backend_for_host`` lists the moto package's folders (``listdir`` and a ``stat``
    per entry, through ``moto.backends.list_of_moto_modules``) and ``call_action`` runs
    ``inspect.getmembers`` over the response class (``method_names_from_class``). Both are
    computed once (per class for the second). About 8% of a 30-component dry run's CPU
    (profiled: 6.9 s and 2.8 s of 118 s). And ``DomainDispatcherApplication.get_application``
    finds each request's app under one process-wide lock, running ``get_backend_for_host``'s 183
    URL regexes inside it: with the in-process transport every interpreter thread contends for
    that lock (the largest busy share of a 300-component profile, 41%, growing 17x for 3x the
    components). The backend is memoised per host (a known host only) and the lock is taken only
    to create an app the first time, by moto's own code; a request otherwise finds moto's app
    for moto's backend without it.
``cloudwatch-index``
    ``CloudWatchBackend.get_metric_data`` scans every stored datapoint once per request and once
    per query and period (O(datapoints x queries x periods); the store grows with components x
    simulated time). ``get_metric_data`` and ``get_metric_statistics`` answer instead through
    :class:`~orchestrator.local.moto_cloudwatch_index.MetricIndex` (by namespace and name, by name
    and dimensions, each series sorted by time), with moto's semantics and quirks kept so that
    every answer is moto's own, float for float (``tests/functional/test_engine.py`` compares
    them on random data). ``python -m tests.bench.bench_engine --cloudwatch 30,100,300``: stock
    3.6 / 12 / 39 ms per call for 10,800 / 36,000 / 108,000 datapoints, indexed 0.10 ms at every
    size.
``dynamodb-serial``
    moto's server answers requests on threads (werkzeug, ``threaded=True``), and its DynamoDB
    backend has no lock: a ``Query`` iterating a table's items while another thread's ``PutItem``
    adds one dies with ``RuntimeError: dictionary changed size during iteration`` (measured: a
    dry run of 1,000 components with 100 children at once), and a conditional write's check and
    write are two steps another thread can come between. On AWS each item write is atomic, and the
    scheduler's ``slot#``/``started#``/``told#`` claims rely on it. ``DynamoHandler.call_action``
    (every DynamoDB request) runs under one process-wide lock: DynamoDB requests are served one at
    a time, each as atomic as AWS makes it (``tests/functional/test_engine.py`` races conditional
    writes through the server and asserts exactly one wins).
``dynamodb-partition-query``
    moto's ``Table.query`` on a table's own key starts from ``all_items()``: every item of every
    partition, *sorted*, then keeps the queried partition's. The ledger keeps a release in one
    partition, so every ``begins_with`` read of a 1,000-component release (``slot#``,
    ``waiting#``, ``component#`` ...) sorted the whole table: in a profile of a 1,000-component
    dry run, a third of the CPU was ``FinishShift``'s slot Query. The patched query reads only the
    queried partition, and, for ``begins_with`` on a string range key, only the items with that
    prefix and their two neighbours, found by bisection in sorted keys that
    :class:`~orchestrator.local.moto_dynamodb_index.PartitionIndex` keeps per partition beside
    ``Table.put_item``/``Table.delete_item``: O(log N + result) per read. moto's own code answers
    on that view, so the answer (order, paging, limits, projections) is moto's own
    (``tests/functional/test_engine.py`` compares both on random tables, with writes and deletes
    between the reads). Index queries and tables without a range key go to moto unchanged.
``payload-limit``
    AWS: a task's, a state's or an execution's input or output is at most 262,144 bytes of UTF-8
    (``PAYLOAD_LIMIT``); beyond it the execution fails with ``States.DataLimitExceeded``, a
    terminal error ``States.ALL`` does not catch. moto checks a state's output and a task's
    result, but against ``< 256 KiB`` of spaced, ASCII-escaped JSON, and its ``States.ALL``
    catches the error. The patch: the three ``_verify_size_quota`` methods count compact UTF-8
    JSON against :func:`current_limits` (``<=``; over it moto's own failure is raised, with the
    figures in its cause); a state's input (``_get_state_entered_event_details``) and a task's
    input after ``Parameters`` (``StateTaskLambda._eval_parameters``,
    ``StateTaskService._before_eval_execution``) are checked too; ``ErrorEqualsDecl._eval_body``
    lets ``States.ALL`` (Retry and Catch) miss ``States.DataLimitExceeded``.
``iteration-errors``
    A Map iteration or Parallel branch that failed with a ``States.*`` error re-raises it through
    ``CustomErrorName``, which refuses that prefix (``ValueError``): the worker dies ("Unhandled
    termination error", an engine fault) instead of failing the Map. The patch gives those two
    modules a ``CustomErrorName`` that builds moto's ``StatesErrorName`` for known ``States.*``
    names.
``history-limit``
    AWS: at most 25,000 events (``HISTORY_EVENT_LIMIT``); when event number 25,000 is not
    ``ExecutionSucceeded``, ``ExecutionFailed`` is that event, error ``States.Runtime``, cause
    "The execution reached the maximum number of history events (25000)." moto has no cap. The
    patch: ``EventManager.add_event`` refuses a non-final event that would take the last number
    and fails the execution (``Environment.set_error`` on its root, whose ``__init__`` the patch
    wraps to give the event manager a reference; ``set_error`` wrapped so that no later error
    replaces it); events its still-running frames write afterwards are dropped, and
    ``Program.eval`` does not start a program in a frame opened after the failure (a Map worker
    taking its next item would raise, an engine fault).

The limits are process-wide (:func:`set_limits`; ``EmbeddedEngine(history_event_limit=...,
payload_limit=...)`` sets them while it runs); ``tests/functional/test_engine_limits.py`` checks
each rule on the engine.

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
  ``nextToken``). The 25,000-event cap is not enforced by moto (``history-limit`` does).
* ``start_execution`` with the name of a RUNNING execution and the same input returns that
  execution (idempotent); with another input, or once it finished, ``ExecutionAlreadyExists``.
* The interpreter logs every caught ASL error at ERROR level with the whole state's ``repr``
  (logger ``moto.stepfunctions.parser.asl.component.eval_component``); the engine quiets it.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from orchestrator.errors import EnvironmentProblemError
from orchestrator.local import moto_cloudwatch_index, moto_dynamodb_index

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
    """A name in moto that must be ``original``: a module-level function (``attribute="parse"``,
    ``original="package.module:function"``) or a method defined on a class of that module
    (``attribute="Class.method"``, ``original="package.module:Class.method"``). ``wrap``, when
    given, replaces the :class:`Patch`'s own for this target."""

    module: str
    attribute: str
    original: str
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None

    def original_function(self) -> Callable[..., Any]:
        module_name, _, path = self.original.partition(":")
        found: Callable[..., Any] = _lookup(importlib.import_module(module_name), path)
        return found

    def owner(self) -> tuple[Any, str]:
        """The module or class that holds the name, and the name."""
        *parents, name = self.attribute.split(".")
        owner: Any = importlib.import_module(self.module)
        for parent in parents:
            owner = getattr(owner, parent)
        return owner, name


def _lookup(owner: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        owner = getattr(owner, part)
    return owner


@dataclass(frozen=True)
class Patch:
    """Replace every target with ``wrap(original)`` (or the target's own ``wrap``); targets
    sharing an original and a wrap share one wrapper."""

    name: str
    targets: tuple[PatchTarget, ...]
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
    on_apply: Callable[[], None] | None = None
    """Called each time the patch is applied (a cache the patch keeps may have gone stale)."""

    def wrap_for(self, target: PatchTarget) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        wrap = target.wrap or self.wrap
        if wrap is None:
            raise ValueError(f"patch {self.name}: no wrap for {target.module}.{target.attribute}")
        return wrap


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


# -- AWS's limits on one execution (history events, payload bytes) ---------------------------------

HISTORY_EVENT_LIMIT = 25_000
"""Step Functions' hard quota on the history of one (standard) execution, in events."""
PAYLOAD_LIMIT = 262_144
"""Step Functions' quota on a task's, a state's or an execution's input or output: 262,144 bytes of
data as a UTF-8 encoded string (256 KiB)."""
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
HISTORY_LIMIT_ERROR = "States.Runtime"


@dataclass(frozen=True)
class Limits:
    """What the ``history-limit`` and ``payload-limit`` patches enforce (AWS's figures by default;
    tests set small ones). Process-wide, like the rest of moto's state."""

    history_events: int = HISTORY_EVENT_LIMIT
    payload_bytes: int = PAYLOAD_LIMIT

    def __post_init__(self) -> None:
        if self.history_events < 2:  # ExecutionStarted is the first event
            raise ValueError(f"history_events must be at least 2, got {self.history_events}")
        if self.payload_bytes < 1:
            raise ValueError(f"payload_bytes must be at least 1, got {self.payload_bytes}")


AWS_LIMITS = Limits()
_limits = AWS_LIMITS


def set_limits(limits: Limits) -> Limits:
    """Enforce ``limits`` from now on (every execution, running ones included); the previous."""
    global _limits
    previous, _limits = _limits, limits
    return previous


def current_limits() -> Limits:
    return _limits


def history_limit_cause(limit: int) -> str:
    """AWS's cause, word for word, when an execution reaches its history quota."""
    return f"The execution reached the maximum number of history events ({limit})."


def _json_default(value: Any) -> Any:
    # as moto's own encoder (asl/utils/encoding.py): dates in ISO form, anything else as str
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def payload_bytes(value: Any) -> int:
    """The size Step Functions counts: the value as compact JSON, UTF-8 encoded (moto counts
    ``json.dumps`` with spaces and ``\\uXXXX`` escapes, up to 6 bytes for 2)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return len(text.encode("utf-8", "surrogatepass"))


def _size_cause(what: str, size: int, limit: int) -> str:
    return (
        f"{what} with a size exceeding the maximum number of bytes service limit: {size:,} bytes "
        f"(UTF-8 JSON), over the limit of {limit:,} bytes."
    )


def _limited_result(measured: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Any]:
    """Wrap one of moto's ``_verify_size_quota(self, env, value)``: ``measured(value)`` against
    the configured limit (``<=``, where moto refuses exactly 256 KiB). Over it, moto's own check
    raises its own failure (its history event type and details, which differ per state kind), fed
    a value it must refuse, and the cause gets the figures."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        oversized: list[str] = []

        def verify_size_quota(self: Any, env: Any, value: Any) -> None:
            limit = _limits.payload_bytes
            size = payload_bytes(measured(value))
            if size <= limit:
                return
            if not oversized:
                quotas = importlib.import_module("moto.stepfunctions.parser.quotas")
                oversized.append("x" * int(quotas.MAX_STATE_SIZE_UTF8_BYTES))
            try:
                original(self, env, oversized[0])
            except Exception as exc:
                _set_failure_cause(exc, size, limit)
                raise
            raise MotoCompatError(
                "moto's _verify_size_quota accepted a value over its own quota: re-check the "
                "payload-limit patch in orchestrator/local/moto_compat.py"
            )

        return verify_size_quota

    return wrap


def _set_failure_cause(exc: BaseException, size: int, limit: int) -> None:
    """Put the figures in the cause of one of moto's ``FailureEventException`` s (in place)."""
    failure = getattr(exc, "failure_event", None)
    details = getattr(failure, "event_details", None)
    if not isinstance(details, dict) or len(details) != 1:
        return
    spec = next(iter(details.values()))
    cause = str(spec.get("cause") or "")
    what = cause.split(" with a size exceeding", 1)[0] or "The state/task returned a result"
    spec["cause"] = _size_cause(what, size, limit)


def _task_result(value: Any) -> Any:
    """A plain-ARN Lambda task's result is the function's payload (moto holds the response)."""
    if isinstance(value, dict) and "Payload" in value:
        return value["Payload"]
    return value


def _data_limit_failure(env: Any, cause: str, event_type: str, details_key: str) -> Exception:
    """A ``FailureEventException`` for ``States.DataLimitExceeded`` (moto's own types)."""
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    typ = StatesErrorNameType.StatesStatesDataLimitExceeded
    details: Any = {details_key: {"error": typ.to_name(), "cause": cause}}
    failure = FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=typ),
        event_type=HistoryEventType(event_type),
        event_details=details,
    )
    exception: Exception = FailureEventException(failure_event=failure)
    return exception


def _limited_state_input(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``CommonStateField._get_state_entered_event_details``: a state entered with an input
    over the limit fails before its ``*StateEntered`` event (outside any Catch, as on AWS)."""

    def state_entered_event_details(self: Any, env: Any) -> Any:
        details = original(self, env)
        text = details.get("input") if isinstance(details, dict) else None
        limit = _limits.payload_bytes
        # moto's text is compact and ASCII-escaped: never shorter than the UTF-8 count
        if isinstance(text, str) and len(text) > limit:
            size = payload_bytes(json.loads(text))
            if size > limit:
                cause = _size_cause(f"The state '{self.name}' received an input", size, limit)
                raise _data_limit_failure(env, cause, "TaskFailed", "executionFailedEventDetails")
        return details

    return state_entered_event_details


def _limited_lambda_input(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``StateTaskLambda._eval_parameters``: the payload after ``Parameters`` is the task's
    input (a plain-ARN Lambda task)."""

    def eval_parameters(self: Any, env: Any) -> Any:
        parameters = original(self, env)
        limit = _limits.payload_bytes
        size = payload_bytes(parameters.get("Payload"))
        if size > limit:
            cause = _size_cause(f"The state/task '{self.name}' was given an input", size, limit)
            raise _data_limit_failure(
                env,
                cause,
                "LambdaFunctionScheduleFailed",
                "lambdaFunctionScheduleFailedEventDetails",
            )
        return parameters

    return eval_parameters


def _limited_service_input(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``StateTaskService._before_eval_execution``: the parameters after ``Parameters`` are
    an integration task's input (``arn:aws:states:::lambda:invoke`` and the other services)."""

    def before_eval_execution(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        raw_parameters = kwargs.get("raw_parameters", args[1] if len(args) > 1 else None)
        limit = _limits.payload_bytes
        size = payload_bytes(raw_parameters)
        if size > limit:
            cause = _size_cause(f"The state/task '{self.name}' was given an input", size, limit)
            raise _data_limit_failure(env, cause, "TaskFailed", "taskFailedEventDetails")
        return original(self, env, *args, **kwargs)

    return before_eval_execution


_UNCATCHABLE_BY_ALL = frozenset({DATA_LIMIT_EXCEEDED})
"""Errors ``States.ALL`` does not match on AWS ("a terminal error"); moto's matches them. Named
explicitly in ``ErrorEquals`` they still match. (``States.Runtime`` is left as moto has it: moto
raises it where AWS raises other names.)"""


def _all_not_terminal(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``ErrorEqualsDecl._eval_body`` (Retry and Catch): ``States.ALL`` does not match a
    terminal error."""

    def eval_body(self: Any, env: Any) -> None:
        error = getattr(env.stack[-1], "error_name", None) if env.stack else None
        if error in _UNCATCHABLE_BY_ALL:
            names = [getattr(name, "error_name", None) for name in self.error_names]
            if error not in names:
                env.stack.pop()
                env.stack.append(False)
                return
        original(self, env)

    return eval_body


_ENV_REF = "_moto_compat_env"
_HISTORY_FULL = "_moto_compat_history_full"
_FINAL_EVENTS = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
_history_lock = threading.Lock()


def _remember_environment(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Environment.__init__``: the execution's event manager knows its root environment
    (a frame builds its own manager, then takes its parent's, which keeps the root)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        manager = getattr(self, "event_manager", None)
        if manager is not None and getattr(manager, _ENV_REF, None) is None:
            setattr(manager, _ENV_REF, weakref.ref(self))

    return __init__


def _limited_history(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``EventManager.add_event`` with AWS's rule: the last event an execution may write is
    number ``history_events``, and it must end the execution. A non-final event that would take
    that number is not written; the execution fails instead (``set_error`` on its root, which
    stops every frame as StopExecution does), and its ``ExecutionFailed`` becomes that event,
    with AWS's error and cause. Later events of its running frames are dropped."""

    from moto.stepfunctions.parser.api import HistoryEventType

    execution_failed = HistoryEventType.ExecutionFailed

    def add_event(
        self: Any,
        context: Any,
        event_type: Any,
        event_details: Any = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        kind = str(getattr(event_type, "value", event_type))
        stop: tuple[Any, Any] | None = None
        with _history_lock:
            full = getattr(self, _HISTORY_FULL, None)
            next_id = int(self._event_id_gen._next_id)
            if full is not None:
                if kind not in _FINAL_EVENTS or full.get("closed"):
                    return next_id - 1
                full["closed"] = True
                details = {"executionFailedEventDetails": dict(full["details"])}
                return int(
                    original(
                        self, context, execution_failed, details, timestamp, update_source_event_id
                    )
                )
            limit = _limits.history_events
            if next_id < limit or kind in _FINAL_EVENTS:
                return int(
                    original(
                        self, context, event_type, event_details, timestamp, update_source_event_id
                    )
                )
            failed = {"error": HISTORY_LIMIT_ERROR, "cause": history_limit_cause(limit)}
            setattr(self, _HISTORY_FULL, {"details": failed, "closed": False})
            reference = getattr(self, _ENV_REF, None)
            stop = (reference() if reference is not None else None, failed)
        environment, failed = stop
        if environment is not None:
            environment.set_error(dict(failed))
        return next_id - 1

    return add_event


_ENDED_BADLY = frozenset({"ProgramError", "ProgramStopped"})
"""The program states ``IterationWorker._eval_job`` turns into the iteration's failure."""


def _no_program_in_an_ended_frame(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Program.eval``: a frame opened after its execution ended (a Map worker taking its
    next item once the history is full) does not start its program. moto's ``Program.eval``
    sets the first state's name first, which raises ``RuntimeError`` in an ended frame: the
    worker logs "Unhandled termination error" (an engine fault) although the execution failed
    as it should. The frame's failed or stopped state is then its result, as for any iteration
    that failed or was stopped."""

    def eval(self: Any, env: Any) -> None:
        if env.is_frame() and type(env.program_state()).__name__ in _ENDED_BADLY:
            return
        original(self, env)

    return eval


def _keep_history_error(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Environment.set_error``: once the history is full, that is the execution's error
    (a frame that fails while it stops cannot replace it)."""

    def set_error(self: Any, error: Any) -> None:
        full = getattr(getattr(self, "event_manager", None), _HISTORY_FULL, None)
        original(self, dict(full["details"]) if full is not None else error)

    return set_error


def _states_error_names(original: Callable[..., Any]) -> Callable[..., Any]:
    """Replace ``CustomErrorName`` where a Map iteration or a Parallel branch re-raises its
    program's error: moto builds a ``CustomErrorName`` from it, which refuses ``States.*`` names
    (``ValueError``), so an iteration that failed with ``States.Runtime`` or
    ``States.DataLimitExceeded`` killed its worker ("Unhandled termination error in item processor
    worker", an engine fault) instead of failing the Map. A known ``States.*`` name becomes moto's
    ``StatesErrorName``, as when the error was first raised."""
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    def error_name_of(error_name: Any = None) -> Any:
        if isinstance(error_name, str) and error_name.startswith("States."):
            with contextlib.suppress(ValueError):
                return StatesErrorName.from_name(error_name)
        return original(error_name=error_name)

    return error_name_of


_dynamodb_lock = threading.RLock()


def _serialised(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call_action(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _dynamodb_lock:
            return original(self, *args, **kwargs)

    return call_action


def _through_index(implementation: Callable[..., Any]) -> Callable[[Callable[..., Any]], Any]:
    """Wrap a ``CloudWatchBackend`` query method: ``implementation(original, backend, ...)``
    answers through :mod:`~orchestrator.local.moto_cloudwatch_index` (moto's own answer)."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def query(self: Any, *args: Any, **kwargs: Any) -> Any:
            return implementation(original, self, *args, **kwargs)

        return query

    return wrap


def _listed_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``moto.backends.list_of_moto_modules``: moto's server asks, on every request
    (``get_backend_for_host``), for the folders of the installed moto package, listing the
    directory and ``stat``-ing each entry anew; the list cannot change while the process runs."""
    listed: list[tuple[str, ...]] = []

    def list_of_moto_modules() -> tuple[str, ...]:
        if not listed:
            listed.append(tuple(original()))
        return listed[0]

    return list_of_moto_modules


def _backend_per_host(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``DomainDispatcherApplication.get_backend_for_host``: the backend a host maps to is
    fixed by the installed moto (its URL patterns); remembered per application and host, for the
    hosts that map to one (an unknown host keeps moto's answer and its message every time)."""

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        known: dict[str, Any] | None = self.__dict__.get("_rollout_backend_per_host")
        if known is None:
            known = self.__dict__.setdefault("_rollout_backend_per_host", {})
        if host is not None and host in known:
            return known[host]
        backend = original(self, host)
        if host is not None and backend:
            known[host] = backend
        return backend

    return get_backend_for_host


def _app_without_the_lock(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``DomainDispatcherApplication.get_application``: moto's version takes the server's
    lock on every request; this one finds the host and the backend as moto does, without it, and
    returns the app moto created for that backend. The first request for a backend (no app yet)
    goes to moto's own code, which creates it under the lock."""

    def get_application(self: Any, environ: dict[str, Any]) -> Any:
        path_info = environ.get("PATH_INFO", "")
        if isinstance(path_info, bytes):
            path_info = path_info.decode("utf-8")
        if path_info.startswith("/moto-api") or path_info == "/favicon.ico":
            host: str | None = "moto_api"
        elif path_info.startswith(("/latest/meta-data/", "/latest/api/")):
            host = "instance_metadata"
        else:
            host = None
        backend = self.get_backend_for_host(host)
        if not backend:
            host = self.infer_service_region_host(environ, path_info)
            backend = self.get_backend_for_host(host) if host is not None else None
        app = self.app_instances.get(backend) if backend else None
        if app is None:
            return original(self, environ)
        return app

    return get_application


def _names_per_class(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``method_names_from_class`` in ``moto.core.responses``: ``call_action`` runs
    ``inspect.getmembers`` over the response class on every request; once per class here (a
    method added to a response class later would not be seen)."""
    names: dict[type, tuple[str, ...]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = tuple(original(clazz))
        return list(found)

    return method_names_from_class


_STATE = f"{_SFN_PARSER}.component.state.state"
_LAMBDA_TASK = f"{_TASK}.state_task_lambda"
_SERVICE_TASK = f"{_TASK}.service.state_task_service"
_ERROR_EQUALS = f"{_SFN_PARSER}.component.common.error_name.error_equals_decl"
_ENVIRONMENT = f"{_SFN_PARSER}.eval.environment"
_CUSTOM_ERROR = f"{_SFN_PARSER}.component.common.error_name.custom_error_name:CustomErrorName"
_ERROR_REBUILDERS = (
    f"{_SFN_PARSER}.component.state.exec.state_map.iteration.iteration_worker",
    f"{_SFN_PARSER}.component.state.exec.state_parallel.branches_decl",
)
_EVENT_MANAGER = f"{_SFN_PARSER}.eval.event.event_manager"
_PROGRAM = f"{_SFN_PARSER}.component.program.program"
_CLOUDWATCH = "moto.cloudwatch.models"
_SERVER = "moto.moto_server.werkzeug_app"
_TABLE = "moto.dynamodb.models.table"


def _method(module: str, attribute: str, wrap: Callable[..., Any]) -> PatchTarget:
    return PatchTarget(module, attribute, f"{module}:{attribute}", wrap)


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
    Patch(
        "server-dispatch-cache",
        (
            PatchTarget(
                "moto.backends",
                "list_of_moto_modules",
                "moto.backends:list_of_moto_modules",
                _listed_once,
            ),
            PatchTarget(
                "moto.core.responses",
                "method_names_from_class",
                "moto.core.utils:method_names_from_class",
                _names_per_class,
            ),
            _method(
                _SERVER,
                "DomainDispatcherApplication.get_backend_for_host",
                _backend_per_host,
            ),
            _method(_SERVER, "DomainDispatcherApplication.get_application", _app_without_the_lock),
        ),
    ),
    Patch(
        "cloudwatch-index",
        (
            _method(
                _CLOUDWATCH,
                "CloudWatchBackend.get_metric_data",
                _through_index(moto_cloudwatch_index.indexed_get_metric_data),
            ),
            _method(
                _CLOUDWATCH,
                "CloudWatchBackend.get_metric_statistics",
                _through_index(moto_cloudwatch_index.indexed_get_metric_statistics),
            ),
        ),
    ),
    Patch(
        "dynamodb-serial",
        (_method("moto.dynamodb.responses", "DynamoHandler.call_action", _serialised),),
    ),
    Patch(
        "dynamodb-partition-query",
        (
            _method(_TABLE, "Table.query", moto_dynamodb_index.indexed_query),
            _method(_TABLE, "Table.put_item", moto_dynamodb_index.indexed_put_item),
            _method(_TABLE, "Table.delete_item", moto_dynamodb_index.indexed_delete_item),
        ),
        on_apply=moto_dynamodb_index.invalidate,
    ),
    Patch(
        "payload-limit",
        (
            _method(_STATE, "CommonStateField._verify_size_quota", _limited_result(lambda v: v)),
            _method(
                _LAMBDA_TASK, "StateTaskLambda._verify_size_quota", _limited_result(_task_result)
            ),
            _method(
                _SERVICE_TASK, "StateTaskService._verify_size_quota", _limited_result(lambda v: v)
            ),
            _method(
                _STATE, "CommonStateField._get_state_entered_event_details", _limited_state_input
            ),
            _method(_LAMBDA_TASK, "StateTaskLambda._eval_parameters", _limited_lambda_input),
            _method(
                _SERVICE_TASK, "StateTaskService._before_eval_execution", _limited_service_input
            ),
            _method(_ERROR_EQUALS, "ErrorEqualsDecl._eval_body", _all_not_terminal),
        ),
    ),
    Patch(
        "iteration-errors",
        tuple(
            PatchTarget(module, "CustomErrorName", _CUSTOM_ERROR) for module in _ERROR_REBUILDERS
        ),
        _states_error_names,
    ),
    Patch(
        "history-limit",
        (
            _method(_ENVIRONMENT, "Environment.__init__", _remember_environment),
            _method(_ENVIRONMENT, "Environment.set_error", _keep_history_error),
            _method(_EVENT_MANAGER, "EventManager.add_event", _limited_history),
            _method(_PROGRAM, "Program.eval", _no_program_in_an_ended_frame),
        ),
    ),
)
PATCH_NAMES = tuple(patch.name for patch in PATCHES)
PATCHES_BY_NAME = {patch.name: patch for patch in PATCHES}

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


def _marked(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper``, carrying the function it replaces (what :func:`check_internals` compares)."""
    if getattr(wrapper, _ORIGINAL_MARK, None) is None:
        setattr(wrapper, _ORIGINAL_MARK, original)
    return wrapper


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
                owner, name = target.owner()
                expected = _unwrapped(target.original_function())
            except (ImportError, AttributeError) as exc:
                problems.append(f"{where}: cannot import: {exc}")
                continue
            current = getattr(owner, name, None)
            if current is None:
                problems.append(f"{where}: no longer exists")
            elif isinstance(owner, type) and name not in vars(owner):
                problems.append(f"{where}: is inherited, no longer defined on {owner.__name__}")
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
            wrappers: dict[tuple[int, int], Callable[..., Any]] = {}
            for target in patch.targets:
                owner, name = target.owner()
                original = getattr(owner, name)
                wrap = patch.wrap_for(target)
                key = (id(original), id(wrap))
                if key not in wrappers:
                    wrappers[key] = _marked(wrap(original), original)
                saved[target] = original
                setattr(owner, name, wrappers[key])
            _applied[patch.name] = saved
            if patch.on_apply is not None:
                patch.on_apply()
        return ok


def revert_patches(names: Iterable[str] | None = None) -> None:
    """Put moto's own functions back (the benchmark compares stock and patched). Idempotent."""
    with _lock:
        for patch in _select(names):
            saved = _applied.pop(patch.name, None)
            for target, original in (saved or {}).items():
                owner, name = target.owner()
                setattr(owner, name, original)


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
            owner, name = target.owner()
            current = getattr(owner, name)
            cache_info = getattr(current, "cache_info", None)
            if cache_info is not None:
                info[f"{target.module}.{target.attribute}"] = dict(cache_info()._asdict())
    return info
