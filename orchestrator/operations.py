"""On-call operations on a running release: status, hotfix, resume, abort, redrive.

Used by the CLI against AWS or an engine, and by the dry run's rehearsal. Each works through the
ports (the release's ledger and the live aliases) plus the Step Functions client.

Two rules hold for every operation:

* the Step Functions view decides whether a release is still running: a hotfix token or a hold
  left in the table by an execution that has ended (a hotfix wait that timed out) is no wait, and
  an operation on an ended release says that it ended, with its status (exit 1);
* no input stored by a release makes ``status`` or ``abort`` unusable: the stored context is
  loaded as far as it loads (``open_release``), what does not load is shown as a problem, and
  a stored-data problem is never reported as bad input (exit 2).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from orchestrator.errors import (
    HotfixRejectedError,
    InputError,
    Issue,
    ReleaseAbortedError,
    ReleaseNotFoundError,
    ReleaseStateError,
    RolloutError,
)
from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import (
    FUNCTION_ARN,
    RELEASE_ID,
    Manifest,
    VersionSpec,
    schema_sort_key,
)
from orchestrator.model.plan import Plan
from orchestrator.model.steps import HotfixSpec, RunOptions
from orchestrator.release import approvals, ledger
from orchestrator.release.live import observe_live
from orchestrator.steps.apply_hotfix import hotfix_problems

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from orchestrator.ports import MessageMover, Ports
    from orchestrator.release.ledger import ReleaseContext

TERMINAL_OK = frozenset({"SUCCEEDED", "ROLLED_FORWARD"})
WAIT_STATES = frozenset({"WaitForHotfix", "WaitForResume"})
ENDED_TOKEN_ERRORS = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})
"""SendTask* refusals that mean the wait is over (timed out, answered, or the execution ended)."""

TIMEOUTS: dict[tuple[str | None, str | None], str] = {
    ("States.Timeout", "WaitForHotfix"): "no hotfix was handed over within hotfix_timeout_seconds",
    ("States.Timeout", "WaitForResume"): "the held release was not resumed within "
    "hotfix_timeout_seconds",
}
"""What a timeout that carries no cause of its own means, by state."""

_LOAD_ERRORS = (RolloutError, ValidationError, ValueError, KeyError, TypeError, AssertionError)


# -- release ids and timestamps -------------------------------------------------------------------


def check_release_id(release: str) -> None:
    """Release ids are execution names: 1-80 characters of ``[A-Za-z0-9._-]`` (DESIGN §3)."""
    if not RELEASE_ID.match(release):
        raise InputError(
            [
                Issue(
                    "RELEASE",
                    f"{release!r} is not a release id: ids are 1-80 characters of letters, "
                    "digits, '.', '_' and '-' (the manifest's `release:`, e.g. 2026-11-28.1)",
                )
            ]
        )


_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def rfc3339(value: datetime | str | None) -> str | None:
    """One timestamp format everywhere: RFC 3339 in UTC with ``Z`` (naive is taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def normalise(document: Any) -> Any:
    """``document`` with every timestamp in RFC 3339 (UTC, ``Z``) and empty strings as null."""
    if isinstance(document, dict):
        return {key: normalise(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [normalise(value) for value in document]
    if isinstance(document, datetime):
        return rfc3339(document)
    if isinstance(document, str):
        if document == "":
            return None
        if _STAMP.match(document):
            with contextlib.suppress(ValueError):
                return rfc3339(document)
    return document


def duration(seconds: float) -> str:
    """``seconds`` for people: ``1d 2h 3m``, ``4m 05s``, ``7s``."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


# -- the Step Functions view ----------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    """How Step Functions sees a release's execution."""

    arn: str
    status: str
    """``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``, or ``NOT_STARTED``."""
    error: str | None = None
    cause: str | None = None
    started: datetime | None = None
    stopped: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    @property
    def ended(self) -> bool:
        return self.status not in ("RUNNING", "NOT_STARTED")

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "status": self.status,
            "error": self.error or None,
            "cause": self.cause or None,
            "started": rfc3339(self.started),
            "stopped": rfc3339(self.stopped),
        }


def describe(sfn: Any, arn: str) -> Execution:
    """The execution named by ``arn`` (``NOT_STARTED`` when there is none)."""
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return Execution(arn=arn, status="NOT_STARTED")
    return Execution(
        arn=arn,
        status=str(described["status"]),
        error=described.get("error") or None,
        cause=described.get("cause") or None,
        started=_parse_time(described.get("startDate")),
        stopped=_parse_time(described.get("stopDate")),
    )


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every history event of the execution, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            return events
        kwargs["nextToken"] = token


def state_machine_of(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:", 1)


def known_releases(sfn: Any, state_machine_arn: str, limit: int = 20) -> list[str] | None:
    """The most recent release ids the state machine ran, or None when they cannot be listed."""
    try:
        page = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=limit)
    except (ClientError, BotoCoreError):
        return None
    return [str(e["name"]) for e in page.get("executions", [])]


_FAILURE_EVENTS = {
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


def cause_text(cause: object) -> str:
    """The message of a failure's cause: a Lambda error's ``errorMessage``, else the text."""
    if not isinstance(cause, str):
        return "" if cause is None else str(cause)
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed.get("message") or cause)
    return cause


def failures_in(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every failure in a history, in order: ``{"error", "message", "state"}``."""
    found: list[dict[str, Any]] = []
    state: str | None = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            state = (event.get("stateEnteredEventDetails") or {}).get("name") or state
        key = _FAILURE_EVENTS.get(kind)
        if key is None:
            continue
        details = event.get(key) or {}
        found.append(
            {
                "error": details.get("error") or None,
                "message": cause_text(details.get("cause")) or None,
                "state": state,
            }
        )
    return found


def failure_cause(
    execution: Execution | None,
    report: dict[str, Any] | None,
    events: list[dict[str, Any]] | None,
) -> dict[str, Any] | None:
    """Why a release that ended without completing ended: ``{"error", "message", "state"}``.

    The report's ``error`` (the failure that led the release to its halted or failed end) when a
    report was stored; else the last failure in the history that carries a cause (a release that
    failed before it stored anything, e.g. an ``AliasDriftError`` at ValidateAndPlan); else the
    execution's own error and cause. None while running and after a completed release.
    """
    status = (report or {}).get("status")
    if status in TERMINAL_OK:
        return None
    if status is None and (execution is None or not execution.ended):
        return None
    if execution is not None and execution.status == "SUCCEEDED" and status is None:
        return None
    failures = failures_in(events or [])
    error = (report or {}).get("error")
    if isinstance(error, dict) and (error.get("Error") or error.get("Cause")):
        name = str(error.get("Error") or "") or None
        at = [f for f in failures if f["error"] == name]
        state = at[-1]["state"] if at else None
        message = cause_text(error.get("Cause")) or (at[-1]["message"] if at else None)
        return {
            "error": name,
            "message": message or TIMEOUTS.get((name, state)),
            "state": state,
        }
    if report is not None:
        findings = [str(f) for f in report.get("findings") or []]
        return {
            "error": None,
            "message": "; ".join(findings) or f"the release ended {status}",
            "state": None,
        }
    with_cause = [f for f in failures if f["message"]]
    if with_cause:
        return with_cause[-1]
    if execution is not None and (execution.error or execution.cause):
        return {
            "error": execution.error,
            "message": cause_text(execution.cause) or None,
            "state": failures[-1]["state"] if failures else None,
        }
    return None


def describe_cause(cause: dict[str, Any] | None) -> str:
    """One line for people: ``AliasDriftError at ValidateAndPlan: alias ...``."""
    if not cause:
        return ""
    head = str(cause.get("error") or "ended")
    if cause.get("state"):
        head += f" at {cause['state']}"
    return head + (f": {cause['message']}" if cause.get("message") else "")


def current_wait(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The wait the execution is in (WaitForHotfix or WaitForResume): when it started on the
    engine's clock, its timeout (the state input's ``hotfix_timeout_seconds``, or what the task's
    ``TaskScheduled`` event says it applies) and its ``heartbeat_seconds`` (None without one)."""
    entered: dict[str, Any] | None = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind == "TaskStateEntered":
            details = event.get("stateEnteredEventDetails") or {}
            name = details.get("name")
            if name in WAIT_STATES:
                timeout: int | None = None
                with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
                    given = json.loads(details.get("input") or "{}")
                    timeout = int(
                        given.get("hotfix_max_wait_seconds") or given["hotfix_timeout_seconds"]
                    )
                entered = {
                    "state": name,
                    "since": _parse_time(event.get("timestamp")),
                    "timeout_seconds": timeout,
                    "heartbeat_seconds": None,
                }
            else:
                entered = None
        elif kind == "TaskScheduled" and entered is not None:
            # what the engine applies to the wait: its TimeoutSeconds and HeartbeatSeconds
            scheduled = event.get("taskScheduledEventDetails") or {}
            for key, field_name in (
                ("timeoutInSeconds", "timeout_seconds"),
                ("heartbeatInSeconds", "heartbeat_seconds"),
            ):
                with contextlib.suppress(ValueError, TypeError):
                    if scheduled.get(key) is not None:
                        entered[field_name] = int(scheduled[key])
        elif kind == "TaskStateExited" and entered is not None:
            entered = None
    return entered


# -- loading a stored release, as far as it loads -------------------------------------------------


@dataclass
class StoredRelease:
    """A release as stored: its context when it loads, and what does not load."""

    release: str
    item: dict[str, Any] | None
    context: ReleaseContext | None
    problems: list[str] = field(default_factory=list)
    execution: Execution | None = None

    @property
    def manifest_data(self) -> dict[str, Any]:
        data = (self.item or {}).get("manifest")
        return data if isinstance(data, dict) else {}


def _context_without_broken_hotfixes(
    item: dict[str, Any], problems: list[str]
) -> ReleaseContext | None:
    """The context built from what loads: the manifest as started, each stored hotfix that still
    makes a valid manifest (the others are listed in ``problems``)."""
    manifest_data = item.get("manifest")
    if not isinstance(manifest_data, dict):
        problems.append("the stored context has no manifest")
        return None
    try:
        original = manifest_from_data(manifest_data)
        plan = Plan.model_validate(item.get("plan"))
    except _LOAD_ERRORS as exc:
        problems.append(f"the stored manifest or plan no longer validates: {_short(exc)}")
        return None
    try:
        options = RunOptions.model_validate(item.get("options") or {})
    except _LOAD_ERRORS as exc:
        problems.append(f"the stored run options do not validate: {_short(exc)}")
        options = RunOptions()
    raw_hotfixes = item.get("hotfixes") or {}
    hotfixes: dict[str, list[VersionSpec]] = {}
    effective: Manifest = original
    data = json.loads(json.dumps(manifest_data))
    for name, specs in dict(raw_hotfixes if isinstance(raw_hotfixes, dict) else {}).items():
        for raw in specs if isinstance(specs, list) else []:
            try:
                spec = VersionSpec.model_validate(raw)
                trial = json.loads(json.dumps(data))
                trial["components"][name]["to"] = spec.model_dump(mode="json", exclude_none=True)
                effective = manifest_from_data(trial)
            except _LOAD_ERRORS as exc:
                version = raw.get("version", "?") if isinstance(raw, dict) else "?"
                problems.append(f"stored hotfix {name}@{version} is ignored: {_short(exc)}")
                continue
            data = trial
            hotfixes.setdefault(name, []).append(spec)
    resolved = item.get("resolved_from") or {}
    return ledger.ReleaseContext(
        manifest=effective,
        plan=plan,
        options=options,
        resolved_from={str(k): str(v) for k, v in dict(resolved).items()},
        original=original,
        hotfixes=hotfixes,
    )


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def open_release(
    ports: Ports,
    release: str,
    *,
    sfn: Any = None,
    execution_arn: str | None = None,
) -> StoredRelease:
    """The stored release, loaded as far as it loads; ReleaseNotFoundError when neither a stored
    context nor an execution exists (listing the known releases when they can be listed)."""
    execution = describe(sfn, execution_arn) if sfn is not None and execution_arn else None
    item: dict[str, Any] | None
    try:
        item = ledger.context_document(ports.records, release)
    except ReleaseNotFoundError:
        item = None
    if item is None:
        if execution is not None and execution.status != "NOT_STARTED":
            why = (
                "no plan is stored: the execution ended before ValidateAndPlan stored one"
                if execution.ended
                else "no plan is stored yet: ValidateAndPlan has not stored one"
            )
            return StoredRelease(release, None, None, [why], execution)
        known = (
            known_releases(sfn, state_machine_of(execution_arn))
            if sfn is not None and execution_arn
            else None
        )
        where = f" (known releases: {', '.join(known)})" if known else ""
        if known == []:
            where = " (no release has run on this state machine yet)"
        raise ReleaseNotFoundError(f"no release {release!r} is stored{where}")
    problems: list[str] = []
    context: ReleaseContext | None
    try:
        context = ledger.load_context(ports.records, release)
    except _LOAD_ERRORS as exc:
        problems.append(f"the stored context of release {release} does not load: {_short(exc)}")
        context = _context_without_broken_hotfixes(item, problems)
    return StoredRelease(release, item, context, problems, execution)


def usable(stored: StoredRelease, what: str, hint: str) -> ReleaseContext:
    """The context, for operations that need all of it; exit 1 (never 2) when it does not load."""
    if stored.context is None or stored.problems:
        release = stored.release
        raise ReleaseStateError(
            f"cannot {what} release {release}: its stored record has a problem: "
            + "; ".join(stored.problems)
            + f". `rollout status {release}{hint}` shows what is known and "
            f"`rollout abort {release}{hint}` stops it"
        )
    return stored.context


def refuse_ended(ports: Ports, stored: StoredRelease, what: str, hint: str) -> None:
    """An ended release (by Step Functions, or by its stored report when Step Functions is not
    asked) is refused with its status: exit 1."""
    execution = stored.execution
    try:
        report = ledger.load_report(ports.records, stored.release)
    except RolloutError:
        report = None
    ended = execution.ended if execution is not None else report is not None
    if ended:
        status = (report or {}).get("status") or (execution.status if execution else None)
        raise ReleaseStateError(
            f"release {stored.release} has ended ({status}): {what}. "
            f"See `rollout status {stored.release}{hint}`"
        )


# -- hotfix, resume, abort ------------------------------------------------------------------------


def waiting_token(ports: Ports, release: str) -> dict[str, object] | None:
    """The parked task token of a release waiting for a hotfix (or held), or None."""
    return ports.records.get(release, "hotfix-token")


def _send(sfn: Any, ports: Ports, release: str, call: str, hint: str, **kwargs: Any) -> None:
    """SendTaskSuccess/Failure; a token whose wait is over is "not waiting" (exit 1), not an
    environment problem."""
    try:
        getattr(sfn, call)(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code not in ENDED_TOKEN_ERRORS:
            raise
        with contextlib.suppress(RolloutError):
            ports.records.delete(release, "hotfix-token")
        raise ReleaseStateError(
            f"release {release} is not waiting for a hotfix any more (its wait ended: {code}); "
            f"see `rollout status {release}{hint}`"
        ) from None


SCHEMA_HELP = "schemas are integers such as 2, or short tokens such as v2 ([A-Za-z0-9._-])"


def request_problems(
    context: ReleaseContext, reads: Mapping[str, Any], writes: Mapping[str, Any]
) -> list[Issue]:
    """`--reads`/`--writes` against the stored release: declared queues, and schemas of the kind
    the release uses on each queue (a token where every schema is an integer is a mistake)."""
    manifest = context.manifest
    release = manifest.release
    declared = sorted(manifest.queues)
    known: dict[str, set[int | str]] = {}
    for name in manifest.components:
        for spec in context.known_versions(name).values():
            for queue, schemas in spec.reads.items():
                known.setdefault(queue, set()).update(schemas)
            for queue, schema in spec.writes.items():
                known.setdefault(queue, set()).add(schema)
    issues: list[Issue] = []
    for option, pairs in (("--reads", reads), ("--writes", writes)):
        for queue, value in pairs.items():
            if queue not in manifest.queues:
                issues.append(
                    Issue(
                        option,
                        f"{queue!r} is not a queue of release {release} (its queues: "
                        f"{', '.join(declared)}): write {option} QUEUE=SCHEMA with one of them",
                    )
                )
                continue
            given = value if isinstance(value, list) else [value]
            used = known.get(queue, set())
            tokens = [s for s in given if isinstance(s, str)]
            if tokens and used and all(isinstance(s, int) for s in used):
                issues.append(
                    Issue(
                        option,
                        f"{queue}={','.join(map(str, given))}: the schemas of {queue} in release "
                        f"{release} are integers ({', '.join(map(str, sorted(used, key=str)))}), "
                        f"not {', '.join(map(repr, tokens))}: {SCHEMA_HELP}, as the manifest "
                        "declares them",
                    )
                )
    return issues


def hand_over_hotfix(
    ports: Ports,
    sfn: Any,
    release: str,
    hotfix: HotfixSpec,
    *,
    check: bool = True,
    execution_arn: str | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """Give a waiting release its hotfix (SendTaskSuccess). Refuses an incompatible one first.

    ``hint``: the CLI flags that reach the same engine, repeated in every copy-paste hint.
    """
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    refuse_ended(ports, stored, "it is not waiting for a hotfix", hint)
    context = usable(stored, "hand a hotfix to", hint)
    parked = waiting_token(ports, release)
    if parked is None:
        raise ReleaseStateError(
            f"release {release} is not waiting for a hotfix (see `rollout status {release}{hint}`)"
        )
    if parked.get("purpose") == "resume":
        raise ReleaseStateError(
            f"release {release} is held (its gate could not judge), not waiting for a hotfix: "
            f"nothing is broken. Continue it with `rollout resume {release}{hint}`"
        )
    if check:
        issues = request_problems(context, hotfix.reads, hotfix.writes)
        if not issues:
            _, issues = hotfix_problems(ports, context, hotfix)
        if issues:
            raise HotfixRejectedError(issues, component=hotfix.component, version=hotfix.version)
    _send(
        sfn,
        ports,
        release,
        "send_task_success",
        hint,
        taskToken=str(parked["token"]),
        output=hotfix.model_dump_json(),
    )
    ports.records.delete(release, "hotfix-token")
    return {"release": release, "handed_over": hotfix.model_dump(mode="json")}


DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str, option: str = "--extend") -> int:
    """``2h``, ``90m``, ``1h30m``, ``1d``, ``45s`` or plain seconds (``3600``) -> seconds > 0."""
    value = text.strip().lower()
    match = DURATION.match(value) if value and not value.isdigit() else None
    if value.isdigit():
        seconds = int(value)
    elif match is not None and any(match.groupdict().values()):
        seconds = sum(int(n) * UNIT_SECONDS[u] for u, n in match.groupdict().items() if n)
    else:
        raise InputError(
            [Issue(option, f"{text!r} is not a duration: write e.g. 2h, 90m, 1h30m or 3600")]
        )
    if seconds <= 0:
        raise InputError([Issue(option, f"{text!r}: give a duration longer than 0, e.g. 2h")])
    return seconds


def wait_deadline(
    wait: Mapping[str, Any] | None, parked: Mapping[str, object] | None
) -> datetime | None:
    """When a parked wait ends unless answered: its TimeoutSeconds after it began, or sooner its
    HeartbeatSeconds after the last heartbeat (``rollout hotfix --extend``) or its start."""
    wait = wait or {}
    since = wait.get("since")
    if since is None:
        return None
    ends: list[datetime] = []
    if wait.get("timeout_seconds") is not None:
        ends.append(since + timedelta(seconds=int(wait["timeout_seconds"])))
    if wait.get("heartbeat_seconds") is not None:
        beat = _parse_time((parked or {}).get("heartbeat_at"))
        last = max(since, beat) if beat is not None else since
        ends.append(last + timedelta(seconds=int(wait["heartbeat_seconds"])))
    return min(ends) if ends else None


def extend_wait(
    ports: Ports,
    sfn: Any,
    release: str,
    seconds: int,
    *,
    execution_arn: str | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """Keep a hotfix wait (or a hold) open at least ``seconds`` longer: a SendTaskHeartbeat on
    the parked token restarts the wait's HeartbeatSeconds (``hotfix_timeout_seconds``) from now,
    and the release's leases are renewed for as long. The wait's TimeoutSeconds still caps it:
    an extension the cap does not allow is refused (exit 1) and nothing is sent."""
    from orchestrator.release.shifting import renew_leases

    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    refuse_ended(ports, stored, "nothing to extend", hint)
    context = usable(stored, "extend the wait of", hint)
    parked = waiting_token(ports, release)
    if parked is None:
        raise ReleaseStateError(
            f"release {release} is not waiting for a hotfix or held: there is no wait to extend "
            f"(see `rollout status {release}{hint}`)"
        )
    events: list[dict[str, Any]] = []
    if sfn is not None and stored.execution is not None and stored.execution.running:
        events = history(sfn, stored.execution.arn)
    wait = current_wait(events) or {}
    beat = wait.get("heartbeat_seconds")
    if beat is None:
        raise ReleaseStateError(
            f"the wait of release {release} has no HeartbeatSeconds, so a heartbeat cannot "
            f"extend it; it ends at its timeout (see `rollout status {release}{hint}`)"
        )
    if seconds > beat:
        raise InputError(
            [
                Issue(
                    "--extend",
                    f"{duration(seconds)} is longer than one heartbeat keeps the wait open "
                    f"({duration(beat)}, hotfix_timeout_seconds): give at most "
                    f"{duration(beat)}, and extend again before then",
                )
            ]
        )
    now = datetime.now(UTC)
    since = wait.get("since")
    timeout = wait.get("timeout_seconds")
    if since is not None and timeout is not None:
        cap = since + timedelta(seconds=int(timeout))
        if now + timedelta(seconds=seconds) > cap:
            raise ReleaseStateError(
                f"the wait of release {release} ends at {rfc3339(cap)} whatever the "
                f"heartbeats (its TimeoutSeconds, {duration(int(timeout))}): it cannot be "
                f"extended by {duration(seconds)}; nothing was sent. Hand over a hotfix before "
                "then, or see runbooks/extend-wait.md"
            )
    _send(sfn, ports, release, "send_task_heartbeat", hint, taskToken=str(parked["token"]))
    renew_leases(ports, context)
    extensions = [*list(parked.get("extensions") or []), {"at": rfc3339(now), "seconds": seconds}]  # type: ignore[call-overload]
    updated = {**parked, "heartbeat_at": now.isoformat(), "extensions": extensions}
    ports.records.put(release, "hotfix-token", updated)
    deadline = wait_deadline(wait, updated)
    left = None if deadline is None else max(0.0, (deadline - now).total_seconds())
    return {
        "release": release,
        "extended_by_seconds": seconds,
        "heartbeat_at": rfc3339(now),
        "deadline": rfc3339(deadline),
        "left": None if left is None else duration(left),
        "purpose": parked.get("purpose") or "hotfix",
    }


def resume_release(
    ports: Ports,
    sfn: Any,
    release: str,
    *,
    execution_arn: str | None = None,
    hint: str = "",
    before_answer: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Continue a paused release (`rollout pause`: the flag is cleared and its children move on at
    their next look) and/or a held one (SendTaskSuccess: the held step re-bakes and is judged
    afresh; an approval that timed out is asked for again). ``before_answer`` is told the parent
    (``parent``) before its token is answered (the dry run's clock)."""
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    refuse_ended(ports, stored, "nothing to resume", hint)
    paused = ledger.flag(ports.records, release, approvals.PAUSE_FLAG)
    parked = waiting_token(ports, release)
    if paused is None and (parked is None or parked.get("purpose") != "resume"):
        what = "waits for a hotfix" if parked is not None else "is not held or paused"
        raise ReleaseStateError(
            f"release {release} {what}: nothing to resume (see `rollout status {release}{hint}`)"
        )
    if paused is not None:
        ledger.clear_flag(ports.records, release, approvals.PAUSE_FLAG)
    hold: dict[str, Any] = {}
    if parked is not None and parked.get("purpose") == "resume":
        hold = ports.records.get(release, "hold") or {}
        if before_answer is not None:
            before_answer("parent")
        _send(
            sfn,
            ports,
            release,
            "send_task_success",
            hint,
            taskToken=str(parked["token"]),
            output=json.dumps({"resume": True}),
        )
        ports.records.delete(release, "hotfix-token")
    return {
        "release": release,
        "resumed": True,
        "held": hold or None,
        "unpaused": paused is not None,
    }


def pause_release(
    ports: Ports,
    sfn: Any,
    release: str,
    reason: str,
    *,
    execution_arn: str | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """Stop forward moves at each component's next step without failing anything: the
    ``flag#pause`` every forward move checks (``release/approvals.py``). Idempotent; `rollout
    resume` clears it. A pause longer than ``approval_timeout_seconds`` holds the release."""
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    refuse_ended(ports, stored, "nothing to pause", hint)
    if ledger.flag(ports.records, release, "abort") is not None:
        raise ReleaseStateError(f"release {release} is being aborted: nothing to pause")
    already = ledger.flag(ports.records, release, approvals.PAUSE_FLAG)
    if already is None:
        ledger.set_flag(ports.records, release, approvals.PAUSE_FLAG, reason, ports.clock.now())
    item = ledger.flag(ports.records, release, approvals.PAUSE_FLAG) or {}
    return {
        "release": release,
        "paused": True,
        "already_paused": already is not None,
        "since": rfc3339(_parse_time(item.get("at"))),
        "reason": item.get("reason"),
    }


def approve_release(
    ports: Ports,
    sfn: Any,
    release: str,
    *,
    component: str | None = None,
    by: str = "an operator",
    execution_arn: str | None = None,
    hint: str = "",
    before_answer: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Approve the step each waiting component (or only ``component``) waits for: the approval is
    recorded (``approved#<component>#<version>#<step>``), then the child's token is answered
    (SendTaskSuccess) and it moves. ``before_answer`` is told each child (``<component>#r<round>``)
    before its token is answered (the dry run's clock). Exit 2 for a component not in the release,
    1 when nothing (or not that component) waits for an approval."""
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    if component is not None and stored.context is not None:
        known = sorted(stored.context.manifest.components)
        if component not in known:
            raise InputError(
                [
                    Issue(
                        "--component",
                        f"{component!r} is not a component of release {release}: give one of "
                        f"{', '.join(known)}, or leave --component out to approve every waiting "
                        "one",
                    )
                ]
            )
    refuse_ended(ports, stored, "nothing to approve", hint)
    parked = approvals.parked_approvals(ports.records, release)
    waiting = sorted(parked)
    if component is not None:
        if component not in parked:
            listed = ", ".join(waiting) or "none"
            raise ReleaseStateError(
                f"{component} of release {release} is not waiting for an approval (waiting: "
                f"{listed}); see `rollout status {release}{hint}`"
            )
        waiting = [component]
    if not waiting:
        raise ReleaseStateError(
            f"release {release} has no step waiting for an approval: nothing to approve (see "
            f"`rollout status {release}{hint}`)"
        )
    now = ports.clock.now()
    approved: list[dict[str, Any]] = []
    ended: list[str] = []
    for name in waiting:
        item = parked[name]
        approvals.approve(ports.records, release, item, by, now)
        if before_answer is not None:
            before_answer(f"{name}#r{item.get('round')}")
        try:
            sfn.send_task_success(
                taskToken=str(item["token"]),
                output=json.dumps({"approved": True, "by": by[:200]}),
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ENDED_TOKEN_ERRORS:
                raise
            ended.append(name)
        approvals.forget(ports.records, release, name)
        if name not in ended:
            approved.append(
                {"component": name, "version": item.get("version"), "step": item.get("step")}
            )
    if not approved:
        raise ReleaseStateError(
            f"the approval wait of {', '.join(ended)} in release {release} is over (it timed "
            f"out or its child ended); see `rollout status {release}{hint}`"
        )
    return {"release": release, "approved": approved, "by": by, "at": rfc3339(now)}


def _fail_parked_approvals(ports: Ports, sfn: Any, release: str, reason: str) -> list[str]:
    """An abort ends every parked approval wait at once (SendTaskFailure)."""
    ended: list[str] = []
    for name, item in approvals.parked_approvals(ports.records, release).items():
        with contextlib.suppress(ClientError):
            sfn.send_task_failure(
                taskToken=str(item["token"]),
                error=ReleaseAbortedError.__name__,
                cause=reason[:32_000],
            )
            ended.append(name)
        with contextlib.suppress(RolloutError):
            approvals.forget(ports.records, release, name)
    return ended


def abort_release(
    ports: Ports,
    sfn: Any,
    release: str,
    reason: str,
    *,
    execution_arn: str | None = None,
    force: bool = False,
    hint: str = "",
    stop_wait_seconds: float = 30.0,
) -> dict[str, Any]:
    """Ask a release to stop: no further forward moves, locks released, state reported.

    A release waiting for a hotfix (or held) ends at once (SendTaskFailure); a shifting one stops
    at its next step (every alias move checks the abort flag). Works whatever the stored context
    holds. ``force`` (with ``execution_arn``) also stops the execution at once (StopExecution),
    then gives back the leases this release holds and writes its report when the state machine
    did not get to (the cleanup its stopped execution cannot do). An ended release is refused.
    """
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    refuse_ended(ports, stored, "nothing to abort", hint)
    ledger.set_flag(ports.records, release, "abort", reason, ports.clock.now())
    parked = waiting_token(ports, release)
    woke = False
    if parked is not None:
        with contextlib.suppress(ReleaseStateError):  # its wait is over: the flag still stops it
            _send(
                sfn,
                ports,
                release,
                "send_task_failure",
                hint,
                taskToken=str(parked["token"]),
                error=ReleaseAbortedError.__name__,
                cause=reason[:32_000],
            )
            woke = True
        with contextlib.suppress(RolloutError):
            ports.records.delete(release, "hotfix-token")
    if sfn is not None:
        _fail_parked_approvals(ports, sfn, release, reason)
    stopped_children = _abort_children(ports, sfn, release, reason)
    document: dict[str, Any] = {
        "release": release,
        "abort_requested": True,
        "was_waiting": woke,
        "reason": reason,
        "children_stopped": stopped_children,
    }
    if force and execution_arn is not None:
        document.update(_force_stop(ports, sfn, stored, execution_arn, reason, stop_wait_seconds))
    return document


def _abort_children(ports: Ports, sfn: Any, release: str, reason: str) -> list[str]:
    """Stop every running child execution of the release (each stops where it stands: a child
    stopped mid-step has either moved its alias or not, and the report reads the live aliases),
    then wake the parent waiting for them with ``ReleaseAbortedError``: it releases the leases
    and writes the report. Returns the components whose child was stopped."""
    from orchestrator.release import scheduling

    stopped: list[str] = []
    for name, arn in scheduling.running_children(ports, release):
        with contextlib.suppress(ClientError, BotoCoreError):
            sfn.stop_execution(
                executionArn=arn, error=ReleaseAbortedError.__name__, cause=reason[:32_000]
            )
            stopped.append(name)
    parked = ports.records.get(release, scheduling.TOKEN_KIND)
    if parked is not None:
        round_ = int(str(parked.get("round", 0)))
        cause = json.dumps(
            {"errorType": ReleaseAbortedError.__name__, "errorMessage": f"aborted: {reason}"}
        )
        if ports.records.put_new(
            release,
            f"told#r{round_}",
            {"status": "failed", "error": ReleaseAbortedError.__name__, "cause": cause},
        ):
            with contextlib.suppress(ReleaseStateError):
                _send(
                    sfn,
                    ports,
                    release,
                    "send_task_failure",
                    "",
                    taskToken=str(parked["token"]),
                    error=ReleaseAbortedError.__name__,
                    cause=cause,
                )
    return stopped


def _force_stop(
    ports: Ports,
    sfn: Any,
    stored: StoredRelease,
    execution_arn: str,
    reason: str,
    wait_seconds: float,
) -> dict[str, Any]:
    """StopExecution, then the cleanup the stopped execution will not do: its own leases back
    (each only if this release still holds it) and a report, unless one was stored."""
    release = stored.release
    with contextlib.suppress(sfn.exceptions.ExecutionDoesNotExist):
        sfn.stop_execution(
            executionArn=execution_arn, error=ReleaseAbortedError.__name__, cause=reason
        )
    deadline = time.monotonic() + wait_seconds
    execution = describe(sfn, execution_arn)
    while execution.running and time.monotonic() < deadline:
        time.sleep(0.5)
        execution = describe(sfn, execution_arn)
    out: dict[str, Any] = {"stopped": not execution.running, "execution_status": execution.status}
    if execution.running:
        out["cleanup"] = (
            "the execution did not stop yet: leases and report left to it; run the abort again"
        )
        return out
    released: list[str] = []
    for key in lease_keys_of(stored):
        with contextlib.suppress(RolloutError):
            if ports.leases.holder(key, ports.clock.now()) == release:
                ports.leases.release(key, release)
                released.append(key)
    out["leases_released"] = released
    out["report_written"] = False
    if ports.records.get(release, "report") is None and stored.context is not None:
        from orchestrator.steps.report import ReportInput, build_report

        with contextlib.suppress(RolloutError):
            build_report(
                ReportInput(
                    release=release,
                    outcome="failed",
                    error={"Error": ReleaseAbortedError.__name__, "Cause": f"{reason} (--force)"},
                ),
                ports,
            )
            out["report_written"] = True
    return out


def lease_keys_of(stored: StoredRelease) -> list[str]:
    """Every lease a release may hold: ``<function>:<alias>`` of every component it names, read
    from the stored manifest data (so it works when the manifest no longer validates)."""
    if stored.context is not None:
        return sorted(
            {f"{c.function_name}:{c.alias}" for c in stored.context.manifest.resolved.values()}
        )
    data = stored.manifest_data
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    keys = set()
    components = data.get("components")
    for spec in (components if isinstance(components, dict) else {}).values():
        if not isinstance(spec, dict) or not isinstance(spec.get("function"), str):
            continue
        function = spec["function"]
        match = FUNCTION_ARN.match(function)
        alias = spec.get("alias") or (defaults or {}).get("alias") or "live"
        keys.add(f"{match.group('name') if match else function}:{alias}")
    return sorted(keys)


# -- status ---------------------------------------------------------------------------------------


SCHEMA_MIX_MINUTES = 15
"""How far back ``rollout status`` sums the consumers' per-schema counts."""


def schema_mixes(ports: Ports, context: ReleaseContext) -> dict[str, list[dict[str, Any]] | None]:
    """Per manifest queue, the schemas its consumers received over the last
    ``SCHEMA_MIX_MINUTES`` minutes, from their per-schema counts (``Rollout/Contracts``, every
    queue in one GetMetricData call): rows ``{schema, processed, failed, unreadable, share}``,
    the most common first. None for a queue whose consumers published none (or when CloudWatch
    could not say: the mix is a view, never a reason to fail ``status``)."""
    from orchestrator.planning.schema_metrics import schema_mix
    from orchestrator.release.schema_reads import SchemaQueries, consumers_of, schemas_on

    now = ports.clock.now()
    queries = SchemaQueries(prefix="s")
    consumers: dict[str, list[str]] = {}
    for name in sorted(context.manifest.queues):
        consumers[name] = consumers_of(context, name)
        for consumer in consumers[name]:
            for schema in schemas_on(context, name):
                queries.add(consumer, name, schema)
    if not queries.queries:
        return dict.fromkeys(consumers)
    try:
        results = ports.metrics.query(
            queries.queries, now - timedelta(minutes=SCHEMA_MIX_MINUTES), now
        )
    except RolloutError:
        return dict.fromkeys(consumers)
    answer = queries.answer(results)
    out: dict[str, list[dict[str, Any]] | None] = {}
    for name, readers in consumers.items():
        mix = answer.mix(readers, name)
        out[name] = schema_mix(mix) if mix else None
    return out


def queue_states(ports: Ports, context: ReleaseContext) -> list[dict[str, Any]]:
    """Per manifest queue: depth, oldest message, dead-letter queue, the mix of schemas its
    consumers received lately (``schemas``, see :func:`schema_mixes`); ``error`` when
    unreadable."""
    now = ports.clock.now()
    mixes = schema_mixes(ports, context)
    out: list[dict[str, Any]] = []
    for name, queue in sorted(context.manifest.queues.items()):
        row: dict[str, Any] = {
            "queue": name,
            "url": queue.url,
            "visible": None,
            "in_flight": None,
            "delayed": None,
            "oldest_age_seconds": None,
            "dlq": None,
            "error": None,
            "schemas": mixes.get(name),
        }
        try:
            depth = ports.queues.depth(queue.url)
            row.update(visible=depth.visible, in_flight=depth.in_flight, delayed=depth.delayed)
            age = ports.queues.oldest_age_seconds(queue.url, now - timedelta(minutes=15), now)
            row["oldest_age_seconds"] = None if age is None else float(age)
            if queue.dlq_url:
                row["dlq"] = {
                    "url": queue.dlq_url,
                    "messages": ports.queues.depth(queue.dlq_url).total,
                }
        except RolloutError as exc:
            row["error"] = str(exc)
        out.append(row)
    return out


def _weights(raw: dict[str, Any]) -> dict[str, float]:
    return {str(v): float(w) for v, w in raw.items()}


def _components(
    ports: Ports, stored: StoredRelease, problems: list[str]
) -> dict[str, dict[str, Any]]:
    release = stored.release
    try:
        records = ledger.all_components(ports.records, release)
    except _LOAD_ERRORS as exc:
        problems.append(f"the component records do not load: {_short(exc)}")
        records = {}
    context = stored.context
    out: dict[str, dict[str, Any]] = {}
    if context is None:
        for name, kept in sorted(records.items()):
            out[name] = {
                "wave": None,
                "weights": _weights(kept.expected) if kept.expected else None,
                "weights_from": "ledger",
                "status": kept.status,
                "target": kept.version or None,
                "last_verdict": kept.verdicts[-1].model_dump(mode="json")
                if kept.verdicts
                else None,
            }
        return out
    for name, comp in context.manifest.resolved.items():
        record = records.get(name)
        wave = context.plan.wave_of(name)
        last = record.verdicts[-1] if record and record.verdicts else None
        weights: dict[str, float] | None
        source = "live"
        try:
            weights = _weights(ports.alias_reads.read(comp.function, comp.alias).weights)
        except RolloutError as exc:
            problems.append(f"{name}: alias {comp.function_name}:{comp.alias} unreadable: {exc}")
            weights = _weights(record.expected) if record and record.expected else None
            source = "ledger"
        try:
            target: str | None = context.to_version(name)
        except KeyError:
            target = None
        out[name] = {
            "wave": None if wave is None else wave + 1,
            "weights": weights,
            "weights_from": source,
            "status": record.status if record else ("unchanged" if wave is None else "pending"),
            "target": target,
            "last_verdict": last.model_dump(mode="json") if last else None,
            "execution": record.execution if record else None,
            "round": record.round if record else None,
            "started_at": rfc3339(record.shift_started_at) if record else None,
            "finished_at": rfc3339(record.shift_finished_at) if record else None,
        }
    return out


def _get(ports: Ports, release: str, kind: str, problems: list[str]) -> Any:
    try:
        return ports.records.get(release, kind)
    except RolloutError as exc:
        problems.append(f"the {kind} record could not be read: {exc}")
        return None


def release_status(
    ports: Ports,
    release: str,
    *,
    sfn: Any = None,
    execution_arn: str | None = None,
) -> dict[str, Any]:
    """Per component: wave, live weights, status, last verdict; queues; the roll-forward state,
    the hotfix wait or hold with the time left, the cause of a failed end. Every timestamp is RFC
    3339 (UTC, ``Z``); absent values are null. Works on any stored release: what does not load
    is listed under ``problems``."""
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    problems = list(stored.problems)
    execution = stored.execution
    events: list[dict[str, Any]] | None = None
    if sfn is not None and execution is not None and execution.status != "NOT_STARTED":
        try:
            events = history(sfn, execution.arn)
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"the execution history could not be read: {exc}")
    context = stored.context
    components = _components(ports, stored, problems)
    queues = queue_states(ports, context) if context is not None else []
    try:
        rollforward = ledger.get_rollforward(ports.records, release)
    except _LOAD_ERRORS as exc:
        problems.append(f"the roll-forward record does not load: {_short(exc)}")
        rollforward = None
    try:
        report = ledger.load_report(ports.records, release)
    except RolloutError as exc:
        problems.append(f"the report record could not be read: {exc}")
        report = None
    parked = _get(ports, release, "hotfix-token", problems)
    running = execution.running if execution is not None else report is None
    waiting: dict[str, Any] | None = None
    held: dict[str, Any] | None = None
    if parked is not None and running and report is None:
        wait = current_wait(events or [])
        timeout = (wait or {}).get("timeout_seconds")
        if timeout is None and context is not None:
            timeout = (
                context.options.hotfix_timeout_seconds or context.manifest.hotfix_timeout_seconds
            )
        since = (wait or {}).get("since")
        left: float | None = None
        deadline = wait_deadline({**(wait or {}), "timeout_seconds": timeout}, parked)
        if deadline is not None:
            left = max(0.0, (deadline - datetime.now(UTC)).total_seconds())
        timing = {
            "since": rfc3339(since or _parse_time(parked.get("since"))),
            "deadline": rfc3339(deadline),
            "seconds_left": None if left is None else round(left, 1),
            "left": None if left is None else duration(left),
            # the wait as it stands without another extension (its heartbeat, when it has one:
            # hotfix_timeout_seconds), and the most `rollout hotfix --extend` can make of it
            "timeout_seconds": (wait or {}).get("heartbeat_seconds") or timeout,
            "max_wait_seconds": timeout,
            "heartbeat_seconds": (wait or {}).get("heartbeat_seconds"),
            "extended_at": rfc3339(_parse_time(parked.get("heartbeat_at"))),
            "extensions": list(parked.get("extensions") or []),
        }
        if parked.get("purpose") == "resume":
            hold = _get(ports, release, "hold", problems) or {}
            held = {**timing, **{k: hold.get(k) for k in ("component", "version", "step", "why")}}
            held["reasons"] = list(hold.get("reasons") or [])
        elif rollforward is not None:
            waiting = {
                **timing,
                "round": rollforward.round or None,
                "requirements": rollforward.requirements,
                "broken": rollforward.broken,
                "trigger": rollforward.trigger,
                "reasons": rollforward.reasons,
            }
    document = {
        "release": release,
        "execution": execution.as_dict() if execution is not None else None,
        **_manual_gates(ports, release, running and report is None, problems),
        "cause": failure_cause(execution, report, events),
        "components": components,
        "queues": queues,
        "rollforward": rollforward.model_dump(mode="json")
        if rollforward is not None and rollforward.round
        else None,
        "waiting_for_hotfix": waiting,
        "held": held,
        "report": report,
        "aborted": _get(ports, release, "flag#abort", problems),
        "problems": problems,
    }
    return dict(normalise(document))


def _manual_gates(ports: Ports, release: str, running: bool, problems: list[str]) -> dict[str, Any]:
    """``paused`` (the `rollout pause` flag: since, reason) and ``approvals`` (each component
    whose next move waits for `rollout approve`: version, step, since, deadline, time left)."""
    if not running:
        return {"paused": None, "approvals": []}
    try:
        paused = ledger.flag(ports.records, release, approvals.PAUSE_FLAG)
        parked = approvals.parked_approvals(ports.records, release)
    except RolloutError as exc:
        problems.append(f"the manual gates could not be read: {exc}")
        return {"paused": None, "approvals": []}
    rows: list[dict[str, Any]] = []
    now = ports.clock.now()
    for name, item in sorted(parked.items()):
        since = _parse_time(item.get("since"))
        timeout = item.get("timeout_seconds")
        deadline = (
            since + timedelta(seconds=int(str(timeout))) if since and timeout is not None else None
        )
        left = None if deadline is None else max(0.0, (deadline - now).total_seconds())
        rows.append(
            {
                "component": name,
                "version": item.get("version"),
                "step": item.get("step"),
                "weight": item.get("weight"),
                "round": item.get("round"),
                "since": rfc3339(since),
                "deadline": rfc3339(deadline),
                "seconds_left": None if left is None else round(left, 1),
                "left": None if left is None else duration(left),
            }
        )
    return {
        "paused": None
        if paused is None
        else {"since": rfc3339(_parse_time(paused.get("at"))), "reason": paused.get("reason")},
        "approvals": rows,
    }


# -- watch ----------------------------------------------------------------------------------------


def watch_facts(
    ports: Ports,
    release: str,
    *,
    sfn: Any = None,
    execution_arn: str | None = None,
    release_clock: bool = False,
) -> dict[str, Any]:
    """What `rollout watch` derives a release's picture from, read once (JSON data, no I/O
    left for the view): the :func:`release_status` document under ``status``, and the ledger
    records a component's state is told from: its ``component#`` record (``records``: status,
    weights, round, child execution, shift start, the last verdict and alias move), the plan's
    predecessors and strategies (``plan``), the drain timers and proofs (``drains``,
    ``drained``), the scheduler's round and ready queue (``scheduler``) and the run options.
    Read-only.

    ``now`` is ``ports.clock``'s; ``release_clock`` says that clock is the one the release's own
    timestamps are on (a dry run's simulated clock, read in-process): otherwise a dry run's
    stamps are simulated time and the view estimates its "now" from them."""
    from orchestrator.planning.schedule import dag_of

    status = release_status(ports, release, sfn=sfn, execution_arn=execution_arn)
    facts: dict[str, Any] = {
        "release": release,
        "now": rfc3339(ports.clock.now()),
        "release_clock": release_clock,
        "status": status,
        "records": {},
        "plan": None,
        "options": None,
        "drains": {},
        "scheduler": {"round": 0, "waiting": [], "started": {}},
    }
    problems: list[str] = status["problems"]
    try:
        context = ledger.load_context(ports.records, release)
    except _LOAD_ERRORS:
        context = None  # release_status said why (or nothing is planned yet)
    try:
        records = ledger.all_components(ports.records, release)
    except _LOAD_ERRORS:
        records = {}
    last_moves: dict[str, Any] = {}
    try:
        for move in ledger.actions(ports.records, release):
            last_moves[move.component] = move
    except _LOAD_ERRORS as exc:
        problems.append(f"the alias moves do not load: {_short(exc)}")
    for name, record in sorted(records.items()):
        last = record.verdicts[-1] if record.verdicts else None
        moved = last_moves.get(name)
        facts["records"][name] = {
            **record.model_dump(
                mode="json",
                include={
                    "status",
                    "expected",
                    "version",
                    "promoted",
                    "promoted_at",
                    "execution",
                    "round",
                    "shift_started_at",
                    "shift_finished_at",
                },
            ),
            "verdicts": len(record.verdicts),
            "last_verdict": None if last is None else last.model_dump(mode="json"),
            "last_move": None
            if moved is None
            else moved.model_dump(mode="json", include={"at", "action", "step", "weights"}),
        }
    if context is not None:
        dag = dag_of(context.plan)
        facts["plan"] = {
            "waves": [list(wave) for wave in context.plan.waves],
            "predecessors": {n: sorted(dag.predecessors.get(n, ())) for n in dag.nodes},
            "strategy": {
                name: {
                    "steps": list(context.component(name).strategy.steps),
                    "bake_seconds": context.component(name).strategy.bake_seconds,
                }
                for name in dag.nodes
            },
            "to": {name: _to_or_none(context, name) for name in context.manifest.resolved},
            "drains": [
                {"queue": d.queue, "schema": d.schema_, "after": d.after, "before": d.before}
                for d in context.plan.drains
            ],
        }
        facts["options"] = context.options.model_dump(mode="json")
    try:
        for kind, item in ports.records.list(release, "drain#"):
            facts["drains"][kind.removeprefix("drain#")] = dict(item)
        drained = [
            kind.removeprefix("drained#") for kind, _ in ports.records.list(release, "drained#")
        ]
        facts["drained"] = sorted(drained)
        schedule = ports.records.get(release, "schedule") or {}
        started: dict[str, int] = {}  # component -> the latest round its child was started in
        for kind, _ in ports.records.list(release, "started#"):
            name, _, round_ = kind.removeprefix("started#").rpartition("#r")
            if name and round_.isdigit():
                started[name] = max(started.get(name, 0), int(round_))
        facts["scheduler"] = {
            "round": int(str(schedule.get("round", 0))),
            "max_concurrency": schedule.get("max_concurrency"),
            "waiting": [
                kind.rsplit("#", 1)[-1] for kind, _ in ports.records.list(release, "waiting#")
            ],
            "started": started,
        }
    except RolloutError as exc:
        problems.append(f"the scheduler's records could not be read: {exc}")
    return dict(normalise(facts))


def _to_or_none(context: ReleaseContext, name: str) -> str | None:
    try:
        return context.to_version(name)
    except KeyError:
        return None


# -- redrive --------------------------------------------------------------------------------------


def _live_at(context: ReleaseContext, moves: list[Any], name: str, at: datetime | None) -> set[str]:
    """The versions with weight on a component's alias at ``at``, from the release's moves."""
    last = None
    for move in moves:
        if move.component != name:
            continue
        moved = move.at if move.at.tzinfo else move.at.replace(tzinfo=UTC)
        if at is not None and moved > at:
            break
        last = move
    if last is None:
        return {context.from_version(name)}
    return {v for v, w in last.weights.items() if w > 0}


def dead_letterers(ports: Ports, context: ReleaseContext) -> dict[str, dict[str, str]]:
    """component -> version -> why: the versions a failed gate of this release found failing
    messages (so the messages in a dead-letter queue may be theirs to fail again)."""
    release = context.manifest.release
    rollforward = ledger.get_rollforward(ports.records, release)
    failures = [r.get("failure") for r in rollforward.rounds] + [
        rollforward.failure,
        ports.records.get(release, "failure"),
    ]
    moves = ledger.actions(ports.records, release)
    out: dict[str, dict[str, str]] = {}
    for failure in failures:
        if not isinstance(failure, dict):
            continue
        trigger = str(failure.get("component") or "")
        broken = str(failure.get("broken") or trigger)
        if not broken or broken not in context.manifest.components:
            continue
        why = (
            f"its gate failed when {trigger}@{failure.get('version')} was at {failure.get('step')}%"
        )
        named = {
            key.split("@", 1)[1].rsplit(".", 1)[0]
            for key, value in dict(failure.get("values") or {}).items()
            if key.startswith(f"downstream.{broken}@") and key.endswith(".errors") and value
        }
        if broken == trigger and failure.get("version"):
            named.add(str(failure["version"]))
        versions = named or _live_at(context, moves, broken, _parse_time(failure.get("at")))
        for version in versions:
            out.setdefault(broken, {}).setdefault(version, why)
    return out


def redrive(
    ports: Ports,
    mover: MessageMover,
    release: str,
    queue: str,
    *,
    force: bool = False,
    sfn: Any = None,
    execution_arn: str | None = None,
    hint: str = "",
) -> dict[str, Any]:
    """Move a queue's dead-lettered messages back once every live consumer can read them.

    Refused (exit 1) while the release waits for a hotfix, while a live consumer version does not
    declare reading every schema the dead-letter queue may hold (what every producer version that
    was live during the release writes), and while a live consumer version is one that a failed
    gate of this release found failing messages (its declaration did not hold: the messages would
    fail again). ``force`` moves them anyway and says what it overrode.
    """
    stored = open_release(ports, release, sfn=sfn, execution_arn=execution_arn)
    context = usable(stored, "redrive a queue of", hint)
    spec = context.manifest.queues.get(queue)
    if spec is None:
        known = ", ".join(sorted(context.manifest.queues))
        raise InputError([Issue("--queue", f"{queue!r} is not in release {release} ({known})")])
    if spec.dlq_url is None:
        raise InputError([Issue("--queue", f"queue {queue!r} has no dlq_url in the manifest")])
    problems: list[str] = []
    running = stored.execution.running if stored.execution is not None else True
    report = ledger.load_report(ports.records, release)
    if waiting_token(ports, release) is not None and running and report is None:
        problems.append(
            f"release {release} still waits for a hotfix: redrive once the hotfix is live"
        )
    _, state = observe_live(ports, context)
    records = ledger.all_components(ports.records, release)
    schemas: set[int | str] = set(state.queue_schemas.get(queue, frozenset()))
    for name, versions in state.known.items():  # what every version that was live wrote
        seen = set(records[name].versions_seen) if name in records else set()
        seen |= {context.from_version(name)} | set(state.weights.get(name, {}))
        for seen_version in seen:
            io = versions.get(seen_version)
            if io is not None and queue in io.writes:
                schemas.add(io.writes[queue])
    failed = dead_letterers(ports, context)
    for name, version in state.consumers_of(queue):
        unread = schemas - version.reads[queue]
        if unread:
            problems.append(
                f"{name}@{version.version} is live and cannot read schema(s) "
                f"{sorted(unread, key=schema_sort_key)} that may be in the dead-letter queue"
            )
        why = failed.get(name, {}).get(version.version)
        if why:
            problems.append(
                f"{name}@{version.version} is live and is the version that failed messages "
                f"during this release ({why}): they would fail again"
            )
    if problems and not force:
        raise ReleaseStateError(
            f"not redriving {queue}: "
            + "; ".join(problems)
            + ". Ship a hotfix that reads them first (or insist with --force)"
        )
    depth = ports.queues.depth(spec.dlq_url).total
    task = mover.move(spec.dlq_url, spec.url)
    return {
        "release": release,
        "queue": queue,
        "from": spec.dlq_url,
        "to": spec.url,
        "messages": depth,
        "schemas": sorted(schemas, key=schema_sort_key),
        "task": task,
        "forced": bool(problems) and force,
        "overridden": problems,
    }


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, default=str)


__all__ = [
    "Execution",
    "ReleaseNotFoundError",
    "StoredRelease",
    "abort_release",
    "check_release_id",
    "describe",
    "failure_cause",
    "hand_over_hotfix",
    "open_release",
    "redrive",
    "refuse_ended",
    "release_status",
    "resume_release",
    "usable",
    "waiting_token",
    "watch_facts",
]
