"""Workflow tests: the real ASL on the embedded engine, against the simulated account.

``dry`` builds a :class:`~orchestrator.local.dry_run.DryRun` on the session's engine after
emptying it, so every test starts from a fresh account. Every wait has a timeout.

``assert_sound(result)`` checks the product's invariant on any finished dry run (issue 8, DESIGN
§4 and §7): no unreadable delivery, no message lost, no backwards alias move. Call it at the end
of every workflow test; its parts (``unreadable_deliveries``, ``lost_messages``,
``backwards_moves``) return what is wrong instead of asserting, for tests that expect a breach.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario, scenario_from_data
from orchestrator.model.load import manifest_from_data

MakeRun = Callable[..., DryRun]


@pytest.fixture
def dry(engine: EmbeddedEngine) -> Iterator[MakeRun]:
    engine.reset()

    def make(
        manifest_data: dict[str, Any],
        scenario_data: dict[str, Any] | None = None,
        *,
        sound: bool = True,
        **options: Any,
    ) -> DryRun:
        """A dry run on the session's engine. With ``sound`` (the default) every result it
        finishes is checked by :func:`assert_sound` (issue 8: every workflow test keeps the
        invariant); pass ``sound=False`` only for a scenario that breaks a declaration on
        purpose, and assert what it breaks."""
        manifest = manifest_from_data(manifest_data)
        scenario = scenario_from_data(scenario_data, manifest) if scenario_data else Scenario()
        run = DryRun(manifest, manifest_data, scenario, engine=engine, **options)
        run.setup()
        if sound:
            finish = run.finish

            def checked(*args: Any, **kwargs: Any) -> Any:
                result = finish(*args, **kwargs)
                # the terminal status is each test's own assertion (a release refused before
                # its first move, at AcquireLocks, ends without a report)
                assert_sound(result, terminal=False)
                return result

            run.finish = checked  # type: ignore[method-assign]
        return run

    yield make


def moves(result: Any) -> list[dict[str, Any]]:
    """The release's alias moves, in order."""
    return list(result.report.get("actions", []))


def moves_of(result: Any, component: str) -> list[dict[str, Any]]:
    return [m for m in moves(result) if m["component"] == component]


def assert_never_backwards(result: Any, from_versions: dict[str, str]) -> None:
    """No alias move lowered a newer version's share, except proven-safe pull-backs."""
    for move in moves(result):
        if move["action"] == "pull-back":
            continue
        old = from_versions.get(move["component"])
        previous, now = move["previous"], move["weights"]
        if old is not None:
            assert now.get(old, 0) <= previous.get(old, 0), move


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


# -- the invariant: unreadable == 0, nothing lost, never backwards --------------------------------

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "ROLLED_FORWARD", "HALTED", "FAILED"})


def _document(result: Any) -> Mapping[str, Any]:
    """The dry-run JSON contract of ``result`` (a DryRunResult, or its ``contract()`` document,
    e.g. parsed from ``rollout dry-run --format json``)."""
    if isinstance(result, Mapping):
        return result
    return dict(result.contract())


def unreadable_deliveries(result: Any) -> dict[str, int]:
    """SQS queue name -> deliveries of a schema the receiving version does not read (> 0 only)."""
    messages = _document(result).get("messages") or {}
    return {q: int(c.get("unreadable", 0)) for q, c in messages.items() if c.get("unreadable")}


def lost_messages(result: Any) -> dict[str, str]:
    """SQS queue name -> what does not add up: ``sent != consumed + queued + dead_lettered`` in
    the ledger, or a real queue depth that differs from the ledger's ``queued``."""
    out: dict[str, str] = {}
    messages = _document(result).get("messages") or {}
    for name, c in messages.items():
        accounted = c["consumed"] + c["queued"] + c["dead_lettered"]
        if c["sent"] != accounted:
            out[name] = f"sent {c['sent']} != consumed + queued + dead_lettered {accounted}"
    for name, (ledger, real) in (getattr(result, "message_mismatches", None) or {}).items():
        out.setdefault(name, f"the ledger says {ledger} queued, the queue holds {real}")
    return out


def _at_100(weights: Mapping[str, float]) -> str | None:
    live = {v: w for v, w in weights.items() if w > 0}
    if len(live) == 1:
        ((version, weight),) = live.items()
        if weight >= 100:
            return version
    return None


def backwards_moves(result: Any) -> list[str]:
    """Alias moves that gave weight to a version promoted before the component's latest one.

    The report's ``actions`` do not say which cutovers Promote confirmed, so promotion is read off
    the moves (the product rule, DESIGN §4, with issue 8's "a failing last step is not
    promoted"): the version at 100% before a component's first move (its ``from``) is promoted at
    the start; a later version is promoted by a move (``shift``, ``hotfix-shift``, anything but
    ``pull-back``) that leaves it alone at 100%, unless the component's next move is a
    ``pull-back`` off it (its 100% step failed). Once a version is promoted, no later move of the
    component may give weight > 0 to a version promoted before it, whatever the move's action.
    """
    problems: list[str] = []
    by_component: dict[str, list[Mapping[str, Any]]] = {}
    for move in _document(result).get("actions") or []:
        by_component.setdefault(str(move["component"]), []).append(move)
    for name, component_moves in by_component.items():
        first = _at_100(component_moves[0].get("previous") or {})
        promoted: list[str] = [] if first is None else [first]
        candidate: str | None = None
        for index, move in enumerate(component_moves):
            weights = {str(v): float(w) for v, w in (move.get("weights") or {}).items()}
            if candidate is not None:
                pulled_off = (
                    move["action"] == "pull-back"
                    and _at_100(move.get("previous") or {}) == candidate
                )
                if not pulled_off and candidate not in promoted:
                    promoted.append(candidate)
                candidate = None
            earlier = promoted[:-1]
            revived = sorted(v for v in earlier if weights.get(v, 0) > 0)
            if revived:
                problems.append(
                    f"{name} move {index + 1} ({move['action']} {dict(move.get('previous') or {})}"
                    f" -> {weights}) gives weight to {', '.join(revived)}, promoted before "
                    f"{promoted[-1]}"
                )
            top = _at_100(weights)
            if top is not None and move["action"] != "pull-back":
                candidate = top
    return problems


def assert_sound(
    result: Any,
    *,
    unreadable_expected: Collection[str] = (),
    terminal: bool = True,
) -> None:
    """The invariant every dry run must keep (issue 8; DESIGN §4 and §7).

    * ``unreadable == 0`` for every queue under ``messages``, except the SQS queue names in
      ``unreadable_expected`` (a scenario that breaks a declaration on purpose);
    * no message lost: ``sent == consumed + queued + dead_lettered`` for every queue, and (for a
      DryRunResult) every real queue holds what the ledger says;
    * no backwards move (:func:`backwards_moves`);
    * with ``terminal`` (default): the state machine's own report ended the release with one of
      SUCCEEDED, ROLLED_FORWARD, HALTED, FAILED.

    ``result`` is a DryRunResult or its JSON contract (``rollout dry-run --format json``). Every
    breach is reported at once, on its own line.
    """
    document = _document(result)
    problems: list[str] = []
    unexpected = {
        q: n for q, n in unreadable_deliveries(document).items() if q not in unreadable_expected
    }
    if unexpected:
        problems.append(f"unreadable deliveries (queue: count): {unexpected}")
    lost = lost_messages(result)
    if lost:
        problems.append(f"messages not accounted for: {lost}")
    problems.extend(f"backwards move: {p}" for p in backwards_moves(document))
    if terminal:
        report = getattr(result, "report", None)
        reported = (report or {}).get("status") if report is not None else document.get("status")
        if reported not in TERMINAL_STATUSES:
            execution = document.get("execution") or {}
            problems.append(
                f"no terminal status from the release's report: {reported!r} (execution "
                f"{execution.get('status')}, error {execution.get('error')!r})"
            )
    assert not problems, "the dry run broke the invariant:\n  " + "\n  ".join(problems)


CLEAN_ENV: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "ROLLOUT_TOPIC_ARN": None,
    "ROLLOUT_REGION": None,
}
"""The CLI's environment in CLI tests: nothing of a real account leaks in."""
_cli = CliRunner()


def rollout(engine: Any, *args: str) -> Any:
    """``rollout ARGS --engine <the embedded engine>``, in-process."""
    return _cli.invoke(app, [*args, "--engine", engine.endpoint_url], env=CLEAN_ENV)
