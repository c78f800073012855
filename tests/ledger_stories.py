"""Releases written straight into a record store with the ledger's own functions, for the tests of
``rollout history`` and ``rollout report`` that need no engine.

``seed_story`` is the seed's roll-forward story as the steps record it (the numbers of a real dry
run of examples/seed.yaml under seed-enrich-breaks.yaml): enrich 17 -> 18 passes, ingest 42 -> 43
fails at 10% because enrich@18 breaks on schema 2, ingest is pulled back, hotfix enrich@19 ships,
ingest goes again and is promoted.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orchestrator.model.load import manifest_from_data
from orchestrator.model.manifest import VersionSpec
from orchestrator.model.steps import (
    AliasMove,
    ComponentRecord,
    Phase,
    RollForwardRecord,
    RunOptions,
    Verdict,
)
from orchestrator.planning import plan_release
from orchestrator.ports import RecordStore
from orchestrator.release import ledger

ROOT = Path(__file__).resolve().parents[1]
SEED: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())
T0 = datetime(2026, 12, 2, 0, 29, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def seed_data(release: str | None = None) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    if release is not None:
        data["release"] = release
    return data


def plan(records: RecordStore, data: dict[str, Any]) -> str:
    manifest = manifest_from_data(data)
    release = manifest.release
    ledger.save_context(records, release, data, plan_release(manifest), RunOptions(), {})
    return release


def move(
    records: RecordStore,
    release: str,
    component: str,
    index: int,
    at: datetime,
    previous: dict[str, float],
    weights: dict[str, float],
    *,
    step: float | None,
    action: str = "shift",
) -> None:
    ledger.append_action(
        records,
        release,
        AliasMove(
            at=at,
            component=component,
            function=component,
            alias="live",
            action=action,  # type: ignore[arg-type]
            weights=weights,
            previous=previous,
            step=step,
        ),
        index,
    )


def verdict(
    component: str, version: str, step: float, at: datetime, phase: Phase = Phase.PASSED, **kw: Any
) -> Verdict:
    return Verdict(
        phase=phase,
        component=component,
        version=version,
        step=step,
        at=at,
        values={"invocations": 300.0 * step / 10, "errors": 0.0, "error_rate": 0.0},
        **kw,
    )


def shift(
    records: RecordStore,
    release: str,
    component: str,
    old: str,
    new: str,
    start: datetime,
    first_index: int = 0,
    action: str = "shift",
) -> tuple[list[Verdict], datetime]:
    """10 -> 50 -> 100, each baked five minutes and passed; the verdicts and the end time."""
    verdicts: list[Verdict] = []
    at = start
    previous = {old: 100.0}
    for i, step in enumerate((10.0, 50.0, 100.0)):
        weights = {new: 100.0} if step == 100 else {old: 100.0 - step, new: step}
        move(
            records,
            release,
            component,
            first_index + i,
            at,
            previous,
            weights,
            step=step,
            action=action,
        )
        at += FIVE
        verdicts.append(verdict(component, new, step, at))
        previous = weights
    return verdicts, at


def seed_story(records: RecordStore, release: str = "2026-11-28.1", start: datetime = T0) -> str:
    """The seed's roll-forward story, reported ROLLED_FORWARD (see the module docstring)."""
    data = seed_data(release)
    plan(records, data)
    enrich, at = shift(records, release, "enrich", "17", "18", start)
    move(records, release, "ingest", 0, at, {"42": 100.0}, {"42": 90.0, "43": 10.0}, step=10.0)
    failed_at = at + FIVE
    failure = verdict(
        "ingest",
        "43",
        10.0,
        failed_at,
        Phase.FAILED,
        broken="enrich",
        reasons=["downstream consumer enrich@18 error rate 0.0500 > max_error_rate 0.01"],
    )
    move(
        records,
        release,
        "ingest",
        1,
        failed_at,
        {"42": 90.0, "43": 10.0},
        {"42": 100.0},
        step=None,
        action="pull-back",
    )
    spec = VersionSpec.model_validate(
        {"version": "19", "reads": {"orders": [1, 2]}, "writes": {"enriched": 1}}
    )
    ledger.add_hotfix(records, release, "enrich", spec)
    fixed, at = shift(records, release, "enrich", "18", "19", failed_at, 3, "hotfix-shift")
    ingest, end = shift(records, release, "ingest", "42", "43", at, 2)
    failure_doc = failure.model_dump(mode="json")
    applied = [
        {"at": failed_at.isoformat(), "component": "enrich", "forced": False, "version": "19"}
    ]
    rounds = [{"round": 1, "kind": "gate", "failure": failure_doc}]
    ledger.put_rollforward(
        records,
        release,
        RollForwardRecord(
            round=1,
            kind="gate",
            broken="enrich",
            trigger="ingest",
            failure=failure_doc,
            applied=applied,
            rounds=rounds,
            since=failed_at,
            decisions=[
                {
                    "action": "pulled-back",
                    "component": "ingest",
                    "weights": {"42": 100.0},
                    "reasons": ["pulling ingest back to 42 is safe"],
                }
            ],
        ),
    )
    records_of = {
        "enrich": ComponentRecord(
            component="enrich",
            status="promoted",
            version="19",
            promoted=["18", "19"],
            verdicts=[*enrich, *fixed],
            expected={"19": 100.0},
        ),
        "ingest": ComponentRecord(
            component="ingest",
            status="promoted",
            version="43",
            promoted=["43"],
            verdicts=[failure, *ingest],
            expected={"43": 100.0},
        ),
    }
    for record in records_of.values():
        ledger.put_component(records, release, record)
    final = {
        "enrich": {"version": "19", "weights": {"19": 100.0}, "status": "promoted", "wave": None},
        "ingest": {"version": "43", "weights": {"43": 100.0}, "status": "promoted", "wave": 1},
        "store": {"version": "5", "weights": {"5": 100.0}, "status": "unchanged", "wave": None},
    }
    for name, record in records_of.items():
        final[name]["verdicts"] = [v.model_dump(mode="json") for v in record.verdicts]
    records.put(
        release,
        "report",
        {
            "release": release,
            "status": "ROLLED_FORWARD",
            "final": final,
            "actions": [a.model_dump(mode="json") for a in ledger.actions(records, release)],
            "failure": failure_doc,
            "hotfixes": applied,
            "rounds": rounds,
            "error": None,
            "findings": [],
        },
    )
    assert end > start
    return release


def running_story(records: RecordStore, release: str, start: datetime) -> str:
    """A release that has planned and made its first move, with no report yet."""
    plan(records, seed_data(release))
    move(records, release, "enrich", 0, start, {"17": 100.0}, {"17": 90.0, "18": 10.0}, step=10.0)
    return release
