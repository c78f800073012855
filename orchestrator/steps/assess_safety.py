"""AssessSafety: pull a failing canary back only where proven safe; hold everything else.

For the component whose shift failed and the downstream consumer its new data broke (the hotfix
is asked for the one that broke, which is not always the one that was shifting):

* a promoted alias (Promote's verdict, not the weight) never moves backwards;
* an unpromoted new version (a canary, or a 100% step that failed its gate) goes back to the
  version the ledger last promoted only if ``planning.safety.rollback_safety`` proves it safe
  against the live state and the schemas that may be in its queues; otherwise it is held;
* the pull-back happens first, always: also in the round past ``max_hotfix_rounds``, which then
  halts instead of asking for another hotfix;
* a hold (not enough traffic to judge, metrics unreadable) moves nothing and asks for no hotfix;
* a retried AssessSafety (the same failure) is the same round, not another one;
* what a hotfix of the broken component must read and write is derived from the live state and
  the rest of the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orchestrator.model.steps import ReleaseRef
from orchestrator.planning.hotfix import requirements
from orchestrator.planning.safety import VersionIO, rollback_safety
from orchestrator.release import ledger
from orchestrator.release.live import observe_live, pending_components
from orchestrator.release.shifting import fmt_weights, move_alias
from orchestrator.step_handler import entrypoint

if TYPE_CHECKING:
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext


class AssessInput(ReleaseRef):
    freeze: dict[str, Any]


class Decision(BaseModel):
    component: str
    action: str
    """``pulled-back``, ``held`` or ``untouched``."""
    weights: dict[str, float]
    reasons: list[str] = Field(default_factory=list)


class Assessment(BaseModel):
    can_hotfix: bool
    kind: str
    round: int
    trigger: str | None = None
    broken: str | None = None
    reasons: list[str] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    requirements: dict[str, Any] | None = None


def decide(ports: Ports, context: ReleaseContext, name: str) -> Decision:
    """Pull ``name``'s unpromoted new version back if that is proven safe now; else hold it.

    Promotion is Promote's verdict, not the weight: a 100% step that failed its gate is still a
    canary and goes back to the version the ledger last promoted when that is safe.
    """
    release = context.manifest.release
    record = ledger.get_component(ports.records, release, name)
    weights, state = observe_live(ports, context)
    live = weights[name]
    new = record.version or context.to_version(name)
    base = ledger.base_version(context, record)
    if new not in live:
        return Decision(
            component=name,
            action="untouched",
            weights=live,
            reasons=[f"{name}@{new} takes no traffic"],
        )
    if new == base:
        reasons = [f"{name} is promoted on {new}: a promoted alias never moves backwards"]
        history = [context.from_version(name), *record.promoted]
        older = history[-2] if len(history) > 1 else None
        old_spec = context.known_versions(name).get(older) if older else None
        if older is not None and older != new and old_spec is not None:
            back = rollback_safety(state, name, VersionIO.of(old_spec, older))
            if not back.safe:
                reasons.append(
                    f"and going back to {older} would be unsafe: " + "; ".join(back.reasons)
                )
        return Decision(component=name, action="held", weights=live, reasons=reasons)
    target = context.known_versions(name).get(base)
    if target is None:
        return Decision(
            component=name,
            action="held",
            weights=live,
            reasons=[f"no reads/writes known for {name}@{base}"],
        )
    verdict = rollback_safety(state, name, VersionIO.of(target, base))
    if not verdict.safe:
        return Decision(component=name, action="held", weights=live, reasons=list(verdict.reasons))
    moved = move_alias(ports, context, name, {base: 100.0}, action="pull-back", allow_frozen=True)
    ledger.put_component(
        ports.records,
        release,
        ledger.get_component(ports.records, release, name).model_copy(
            update={"status": "pulled-back"}
        ),
    )
    return Decision(
        component=name,
        action="pulled-back",
        weights=moved.weights,
        reasons=[f"{verdict.explain()}: [{fmt_weights(live)}] -> [{base}: 100%]"],
    )


def assess_safety(event: AssessInput, ports: Ports) -> Assessment:
    context = ledger.load_context(ports.records, event.release)
    release = event.release
    kind = str(event.freeze.get("kind", "halt"))
    previous = ledger.get_rollforward(ports.records, release)
    record_kind = "hold" if kind == "hold" else "failure"
    failure = ports.records.get(release, record_kind) or {}
    # a retried AssessSafety (same failure record) is the same round, not another one
    seen = previous.hold if kind == "hold" else previous.failure
    repeat = bool(failure) and seen == failure and previous.kind == kind
    rounds = previous.round + (1 if kind == "gate" and not repeat else 0)
    trigger = str(failure["component"]) if "component" in failure else None
    broken = str(failure.get("broken") or trigger) if trigger else None
    reasons = [str(r) for r in failure.get("reasons", []) or []]  # type: ignore[attr-defined]
    if not reasons:
        reasons = [str(event.freeze.get("message") or event.freeze.get("error") or "")]
    decisions: list[Decision] = []
    needs: dict[str, Any] | None = None
    limit_reached = kind == "gate" and rounds > context.options.max_hotfix_rounds
    if kind == "gate" and trigger and broken:
        # the safe pull-back happens first, always (even when no further round is allowed); a
        # retry keeps the decisions the first attempt recorded (its pull-back already happened)
        if repeat and previous.decisions:
            decisions = [Decision.model_validate(d) for d in previous.decisions]
        else:
            for name in dict.fromkeys([trigger, broken]):
                decisions.append(decide(ports, context, name))
        if limit_reached:
            reasons.append(
                f"release {release} failed {rounds} times; the limit of "
                f"{context.options.max_hotfix_rounds} roll-forward rounds is reached: halting"
            )
        else:
            _, state = observe_live(ports, context)
            needs = requirements(
                context.manifest, state, broken, pending_components(ports, context)
            ).as_dict()
    assessment = Assessment(
        can_hotfix=kind == "gate" and needs is not None,
        kind=kind,
        round=rounds,
        trigger=trigger,
        broken=broken,
        reasons=reasons,
        decisions=decisions,
        requirements=needs,
    )
    rounds_log = previous.rounds
    if not repeat:
        rounds_log = [*rounds_log, {"round": rounds, "failure": failure or None, "kind": kind}]
    ledger.put_rollforward(
        ports.records,
        release,
        previous.model_copy(
            update={
                **assessment.model_dump(mode="json"),
                "since": previous.since if repeat else ports.clock.now(),
                "failure": previous.failure if kind == "hold" else failure or None,
                "hold": (failure or None) if kind == "hold" else None,
                "rounds": rounds_log,
            }
        ),
    )
    return assessment


PORTS = ("aliases", "alias_reads", "leases", "records", "clock")
"""The ports this step uses: its IAM policy is derived from their adapters' actions."""

handler = entrypoint("AssessSafety", AssessInput, assess_safety, PORTS)
