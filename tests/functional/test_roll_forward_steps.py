"""The roll-forward rules of issue 8, step by step, through the in-memory fakes.

Each test drives the real step functions the state machine calls (ValidateAndPlan, AcquireLocks,
PrepareShift, Promote, AssessSafety, ApplyHotfix, DrainQueues, Report, ...) on
``orchestrator.testing.Fakes`` and names the defect it pins down.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import (
    AliasDriftError,
    BackwardsMoveError,
    LeaseLostError,
    ManifestError,
    ReleaseAbortedError,
)
from orchestrator.model.manifest import VersionSpec
from orchestrator.model.steps import (
    ComponentInput,
    HotfixSpec,
    ReleaseRef,
    RunOptions,
    ShiftState,
    StartInput,
)
from orchestrator.release import ledger
from orchestrator.release.leases import lease_ttl
from orchestrator.release.live import observe_live
from orchestrator.release.shifting import move_alias
from orchestrator.steps.acquire_locks import acquire_locks
from orchestrator.steps.apply_hotfix import hotfix_problems
from orchestrator.steps.assess_safety import AssessInput, assess_safety
from orchestrator.steps.cleanup_failed import CleanupInput, cleanup_failed
from orchestrator.steps.drain_queues import drained
from orchestrator.steps.prepare_shift import prepare_shift
from orchestrator.steps.promote import promote
from orchestrator.steps.report import ReportInput, build_report
from orchestrator.steps.validate_and_plan import validate_and_plan
from orchestrator.steps.wait_for_hotfix import WaitInput, wait_for_hotfix
from orchestrator.testing import Fakes, lambda_dimensions

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
RELEASE = SEED["release"]


def seed(**strategy: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    data["defaults"]["strategy"].update(strategy)
    return data


class Release:
    """The seed release on the fakes: planned, leases taken."""

    def __init__(self, data: dict[str, Any] | None = None, **options: Any) -> None:
        self.data = data or seed()
        self.fakes = Fakes()
        self.context = self.fakes.plan_release(self.data, RunOptions(**options))
        acquire_locks(ReleaseRef(release=RELEASE), self.fakes.ports)

    @property
    def ports(self) -> Any:
        return self.fakes.ports

    def weights(self, name: str) -> dict[str, float]:
        return self.fakes.aliases.weights(name, "live")

    def record(self, name: str) -> Any:
        return ledger.get_component(self.fakes.records, RELEASE, name)

    def prepare(self, name: str) -> ShiftState:
        return prepare_shift(ComponentInput(release=RELEASE, component=name), self.ports)

    def context_now(self) -> ledger.ReleaseContext:
        return ledger.load_context(self.fakes.records, RELEASE)

    def shift_fully(self, name: str) -> None:
        """Move ``name`` to its target at 100% and promote it (the gates passed)."""
        shift = self.prepare(name)
        context = self.context_now()
        move_alias(self.ports, context, name, {shift.version: 100.0}, action="shift", step=100)
        promote(ComponentInput(release=RELEASE, component=name, shift=shift), self.ports)


def test_a_one_step_shift_remembers_what_the_old_version_wrote() -> None:
    """Item 2: with steps [100], ingest 42 -> 43 must leave schema 1 in the live state of
    `orders` (its backlog is still queued), so a hotfix must read [1, 2]."""
    release = Release(seed(steps=[100]))
    release.shift_fully("enrich")
    release.shift_fully("ingest")
    assert "42" in release.record("ingest").versions_seen
    _, state = observe_live(release.ports, release.context_now())
    assert state.queue_schemas["orders"] == {1, 2}


def test_no_move_gives_weight_to_a_version_a_promotion_superseded() -> None:
    """Item 1: once enrich was promoted on 18, enrich@17 never gets weight again."""
    release = Release()
    release.shift_fully("enrich")
    ledger.add_hotfix(
        release.fakes.records,
        RELEASE,
        "enrich",
        VersionSpec.model_validate(
            {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
        ),
    )
    release.fakes.aliases.publish("enrich", "19")
    context = release.context_now()
    before = list(release.fakes.aliases.moves)
    with pytest.raises(BackwardsMoveError, match="enrich@17"):
        move_alias(release.ports, context, "enrich", {"17": 90.0, "19": 10.0}, action="shift")
    assert release.fakes.aliases.moves == before
    assert release.weights("enrich") == {"18": 100.0}


def test_a_later_shift_starts_from_the_last_promoted_version() -> None:
    """Item 1: PrepareShift of enrich's hotfix target starts from 18 (promoted), not 17."""
    release = Release()
    release.shift_fully("enrich")
    ledger.add_hotfix(
        release.fakes.records,
        RELEASE,
        "enrich",
        VersionSpec.model_validate(
            {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
        ),
    )
    release.fakes.aliases.publish("enrich", "19")
    shift = release.prepare("enrich")
    assert (shift.base_version, shift.version) == ("18", "19")
    assert release.weights("enrich") == {"18": 90.0, "19": 10.0}


def test_a_lease_another_release_took_stops_every_move() -> None:
    """Item 9: leases expire; a second release that took one must stop the first (fail closed)."""
    release = Release()
    release.fakes.clock.advance(lease_ttl(release.context) + 1)
    release.fakes.leases.acquire("enrich:live", "other-release", 3600, release.fakes.clock.now())
    with pytest.raises(LeaseLostError, match="other-release"):
        release.prepare("enrich")
    assert release.weights("enrich") == {"17": 100.0}


def test_an_expired_lease_nobody_took_is_renewed_by_the_next_move() -> None:
    release = Release()
    release.fakes.clock.advance(lease_ttl(release.context) + 1)
    assert release.fakes.leases.holder("enrich:live", release.fakes.clock.now()) is None
    release.prepare("enrich")
    assert release.fakes.leases.holder("enrich:live", release.fakes.clock.now()) == RELEASE


def test_a_hotfix_wait_renews_every_lease() -> None:
    release = Release()
    release.fakes.clock.advance(lease_ttl(release.context) - 10)
    wait_for_hotfix(WaitInput(release=RELEASE, token="t", round=1), release.ports)
    release.fakes.clock.advance(20)  # past the first expiry
    now = release.fakes.clock.now()
    assert release.fakes.leases.holder("ingest:live", now) == RELEASE
    assert release.fakes.leases.holder("enrich:live", now) == RELEASE


def test_an_abort_is_never_lost_between_freeze_and_the_hotfix_wait() -> None:
    """Item 9: an abort before the token is parked ends the wait, and no hotfix move happens."""
    release = Release()
    ledger.set_flag(release.fakes.records, RELEASE, "abort", "stop", release.fakes.clock.now())
    with pytest.raises(ReleaseAbortedError):
        wait_for_hotfix(WaitInput(release=RELEASE, token="t", round=1), release.ports)
    with pytest.raises(ReleaseAbortedError):
        move_alias(
            release.ports,
            release.context,
            "enrich",
            {"17": 90.0, "18": 10.0},
            action="hotfix-shift",
            allow_frozen=True,
        )
    assert release.weights("enrich") == {"17": 100.0}


def failing_round(release: Release, broken: str = "enrich") -> None:
    """Record the roll-forward state of a round whose failure names ``broken``."""
    rollforward = ledger.get_rollforward(release.fakes.records, RELEASE)
    ledger.put_rollforward(
        release.fakes.records,
        RELEASE,
        rollforward.model_copy(update={"round": 1, "broken": broken, "trigger": "ingest"}),
    )


def test_a_hotfix_of_another_component_or_an_older_version_is_refused_unless_forced() -> None:
    """Item 9: only the component the failure names, with a newer version (or --force)."""
    release = Release()
    release.shift_fully("enrich")
    failing_round(release)
    release.fakes.aliases.publish("ingest", "44")
    release.fakes.aliases.publish("enrich", "16", "19")
    other = HotfixSpec(component="ingest", version="44", writes={"orders": 2})
    _, issues = hotfix_problems(release.ports, release.context_now(), other)
    assert [i.path for i in issues] == ["hotfix.component"]
    assert "the failure names enrich, not ingest" in issues[0].message
    older = HotfixSpec(
        component="enrich", version="16", reads={"orders": [1, 2]}, writes={"enriched": 1}
    )
    _, issues = hotfix_problems(release.ports, release.context_now(), older)
    assert [i.path for i in issues] == ["hotfix.version"]
    assert "not newer than enrich@18" in issues[0].message
    forced = older.model_copy(update={"force": True})
    _, issues = hotfix_problems(release.ports, release.context_now(), forced)
    assert not any(i.path in ("hotfix.component", "hotfix.version") for i in issues), issues
    newer = older.model_copy(update={"version": "19"})
    assert hotfix_problems(release.ports, release.context_now(), newer)[1] == []


def test_a_hotfix_naming_an_undeclared_queue_is_refused_before_anything_is_sent() -> None:
    release = Release()
    failing_round(release)
    release.fakes.aliases.publish("enrich", "19")
    spec = HotfixSpec(component="enrich", version="19", reads={"nosuchq": [1]})
    _, issues = hotfix_problems(release.ports, release.context_now(), spec)
    assert [i.path for i in issues] == ["hotfix.reads.nosuchq"]
    assert "not a queue of release" in issues[0].message


def test_drift_is_checked_when_a_ledger_exists() -> None:
    """Item 9: a repeat ValidateAndPlan compares the aliases with the ledger, never skips it."""
    release = Release()
    release.prepare("enrich")  # the ledger says {17: 90, 18: 10}
    release.fakes.aliases.add_alias("enrich", "live", {"17": 100.0})  # moved back by hand
    with pytest.raises(AliasDriftError, match="last left it at"):
        validate_and_plan(StartInput(manifest=release.data), release.ports)


def test_the_same_release_id_with_another_manifest_is_refused() -> None:
    release = Release()
    edited = copy.deepcopy(release.data)
    edited["components"]["enrich"]["to"]["version"] = "19"
    with pytest.raises(ManifestError, match="already ran with a different manifest"):
        validate_and_plan(StartInput(manifest=edited), release.ports)


def test_a_drain_is_not_proven_while_the_old_producer_version_still_runs() -> None:
    """Item 4: in-flight ingest@42 invocations after the promotion still enqueue schema 1."""
    data = copy.deepcopy(SEED)
    data["components"]["enrich"]["to"]["reads"] = {"orders": [2]}  # producer first + drain
    data["components"]["enrich"]["from"]["reads"] = {"orders": [1, 2]}
    release = Release(data)
    [drain] = release.context.plan.drains
    release.shift_fully("ingest")
    promoted_at = release.record("ingest").promoted_at
    assert promoted_at is not None
    last_minute = promoted_at.replace(second=0, microsecond=0) + timedelta(minutes=2)
    release.fakes.metrics.set(
        "Invocations", lambda_dimensions("ingest", "live", "42"), [5.0], timestamps=[last_minute]
    )
    now = promoted_at + timedelta(seconds=30)
    waiting = drained(release.ports, release.context_now(), drain, now)
    assert waiting is not None and "an old version of ingest ran until" in waiting
    later = last_minute + timedelta(minutes=1, seconds=1)
    assert drained(release.ports, release.context_now(), drain, later) is None  # empty queue
    assert release.fakes.records.get(RELEASE, "drained#orders#1") is not None


def test_a_drain_proves_nothing_when_cloudwatch_cannot_say() -> None:
    data = copy.deepcopy(SEED)
    data["components"]["enrich"]["to"]["reads"] = {"orders": [2]}
    data["components"]["enrich"]["from"]["reads"] = {"orders": [1, 2]}
    release = Release(data)
    [drain] = release.context.plan.drains
    release.shift_fully("ingest")
    release.fakes.metrics.omit("Invocations", lambda_dimensions("ingest", "live", "42"))
    now = release.fakes.clock.now() + timedelta(minutes=5)
    waiting = drained(release.ports, release.context_now(), drain, now)
    assert waiting is not None and "could not be read" in waiting


def test_the_report_reads_the_live_aliases() -> None:
    """Item 9: a promoted component moved back by hand later is not a SUCCEEDED release."""
    release = Release()
    release.shift_fully("enrich")
    release.shift_fully("ingest")
    assert build_report(ReportInput(release=RELEASE), release.ports).status == "SUCCEEDED"
    release.fakes.aliases.add_alias("ingest", "live", {"42": 100.0})
    report = build_report(ReportInput(release=RELEASE), release.ports)
    assert report.status == "FAILED"
    assert any("ingest was promoted on 43" in f for f in report.findings)


def canary_failure(release: Release) -> None:
    """ingest@43 at 10% broke enrich@18 (as Advance records it)."""
    release.fakes.records.put(
        RELEASE,
        "failure",
        {
            "component": "ingest",
            "version": "43",
            "broken": "enrich",
            "step": 10.0,
            "phase": "FAILED",
            "reasons": ["enrich broke"],
            "values": {},
            "at": release.fakes.clock.now().isoformat(),
        },
    )


def test_a_retried_assess_safety_is_the_same_round_and_keeps_its_pull_back() -> None:
    release = Release()
    release.shift_fully("enrich")
    release.prepare("ingest")
    canary_failure(release)
    event = AssessInput(release=RELEASE, freeze={"kind": "gate"})
    first = assess_safety(event, release.ports)
    again = assess_safety(event, release.ports)
    assert first.round == again.round == 1
    assert [d.action for d in again.decisions] == ["pulled-back", "held"]
    assert len(ledger.get_rollforward(release.fakes.records, RELEASE).rounds) == 1


def test_the_round_limit_pulls_the_breaking_canary_back_first() -> None:
    """Item 9: past max_hotfix_rounds the safe pull-back still happens; then the release halts
    (no hotfix asked for) instead of leaving ingest@43 breaking enrich."""
    release = Release(max_hotfix_rounds=1)
    release.shift_fully("enrich")
    rollforward = ledger.get_rollforward(release.fakes.records, RELEASE)
    ledger.put_rollforward(
        release.fakes.records, RELEASE, rollforward.model_copy(update={"round": 1})
    )
    release.prepare("ingest")
    canary_failure(release)
    assessment = assess_safety(AssessInput(release=RELEASE, freeze={"kind": "gate"}), release.ports)
    assert release.weights("ingest") == {"42": 100.0}
    assert not assessment.can_hotfix
    assert any("roll-forward rounds is reached" in r for r in assessment.reasons)


def test_a_lost_update_alias_reply_is_still_recorded_once() -> None:
    """Issue 9 fault row: UpdateAlias took effect, its reply was lost; the retry records it."""
    release = Release()
    release.fakes.aliases.add_alias("enrich", "live", {"17": 90.0, "18": 10.0})  # took effect
    release.prepare("enrich")
    release.prepare("enrich")  # a retry of the retry
    actions = ledger.actions(release.fakes.records, RELEASE)
    assert [(a.component, a.weights) for a in actions] == [("enrich", {"17": 90.0, "18": 10.0})]


def test_cleanup_failed_tells_on_call_and_ends_with_the_release_status() -> None:
    release = Release()
    release.shift_fully("enrich")
    release.shift_fully("ingest")
    out = cleanup_failed(
        CleanupInput(
            release=RELEASE,
            stage="locks",
            outcome="completed",
            error={"Error": "TransientError", "Cause": "DynamoDB throttled"},
        ),
        release.ports,
    ).root
    assert out["status"] == "SUCCEEDED"
    assert out["cleanup"]["stage"] == "locks"
    [(subject, message)] = release.fakes.notifier.published
    assert "lock" in subject and "runbooks/lock-left-behind.md" in message


def test_an_alias_moved_by_hand_during_a_bake_is_drift_before_any_verdict() -> None:
    """Issue 9: `update-alias ... --function-version 17` at the 50% bake is drift, reported as
    such, not three INCONCLUSIVE verdicts and a hotfix demand."""
    from orchestrator.steps.advance import advance

    release = Release()
    shift = release.prepare("enrich")
    release.fakes.aliases.add_alias("enrich", "live", {"17": 100.0})  # by hand
    with pytest.raises(AliasDriftError, match="someone moved it"):
        advance(ComponentInput(release=RELEASE, component="enrich", shift=shift), release.ports)
    assert release.record("enrich").verdicts == []


def test_a_retried_notify_pages_once() -> None:
    from orchestrator.steps.notify import NotifyInput, notify

    release = Release()
    release.shift_fully("enrich")
    release.prepare("ingest")
    canary_failure(release)
    assess_safety(AssessInput(release=RELEASE, freeze={"kind": "gate"}), release.ports)
    notify(NotifyInput(release=RELEASE), release.ports)
    notify(NotifyInput(release=RELEASE), release.ports)  # a retry after its effect
    assert len(release.fakes.notifier.published) == 1


def test_an_alarm_that_does_not_exist_is_refused_before_any_move() -> None:
    """Issue 9: a misspelt alarm name is a manifest mistake at ValidateAndPlan, not a broken
    version later."""
    data = seed()
    data["components"]["enrich"]["gates"] = {"alarms": ["enrich-5xx", "enrich-5xxx"]}
    fakes = Fakes()
    fakes.metrics.set_alarm("enrich-5xx", "OK")
    with pytest.raises(ManifestError, match="'enrich-5xxx' does not exist"):
        fakes.plan_release(data)
    assert fakes.aliases.moves == []


def test_the_report_keeps_the_status_of_a_component_the_replan_no_longer_lists() -> None:
    """After a round, the replan from the live versions drops a component already on its target;
    the report still says it was promoted, not "unchanged"."""
    release = Release()
    release.shift_fully("enrich")
    plan = release.context.plan.model_copy(update={"waves": [["ingest"]]})
    ledger.replace_plan(release.fakes.records, RELEASE, plan)
    report = build_report(ReportInput(release=RELEASE), release.ports)
    assert report.final["enrich"].status == "promoted"
    assert report.final["store"].status == "unchanged"
