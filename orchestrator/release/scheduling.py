"""Who shifts next: the constraint DAG run event by event over the ledger.

The parent execution starts the components that are ready (``start_ready``) and parks on a task
token (``park_parent``). Every child execution that finishes its component starts the successors
that became ready and the ready components waiting for a slot (``finish``); the last one to
finish, or the first one to fail (``fail``), answers the parent's token. Nothing polls.

Ledger records (kinds) this module owns, all O(1) in size:

* ``schedule``: the round being run (``round``) and the concurrency cap;
* ``started#<component>#r<round>``: the claim that this round's child of a component was started
  (first writer wins; a repeated start by name is the same execution), with the slot it holds;
* ``slot#<k>`` (``k < max_concurrency``): a running child holds one;
* ``waiting#<rank>#<component>``: ready, waiting for a slot (listed in priority order);
* ``shifts-token``: the parent's task token while it waits for its children;
* ``told#r<round>``: the parent was answered for this round (first answer wins).

Losing no wake-up: a component that finds no slot writes its ``waiting`` record and then tries
once more; a child that frees a slot then reads the ``waiting`` records. One of the two always
sees the other.
"""

from __future__ import annotations

import json
import threading
import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ReleaseFrozenError, ShiftCrashedError
from orchestrator.planning.schedule import Dag, dag_of, execution_name, priority_order, ranks
from orchestrator.release import ledger

if TYPE_CHECKING:
    from orchestrator.model.plan import Plan
    from orchestrator.ports import Ports
    from orchestrator.release.ledger import ReleaseContext

RANK_DIGITS = 12
TOKEN_KIND = "shifts-token"


def current_round(ports: Ports, release: str) -> int:
    item = ports.records.get(release, "schedule") or {}
    return int(str(item.get("round", 0)))


def stale(ports: Ports, release: str, round_: int) -> bool:
    """Whether a child of ``round_`` belongs to a round the release has moved past."""
    return round_ != current_round(ports, release)


def check_current(ports: Ports, release: str, component: str, round_: int | None) -> None:
    """Raise ``ReleaseFrozenError`` when a child of a past round wakes up: after a roll-forward
    round its component belongs to the next round's child (``None``: the parent's own shift)."""
    if round_ is not None and stale(ports, release, round_):
        raise ReleaseFrozenError(
            f"round {round_} of release {release} is over: this child of {component} stops "
            "(the current round's child shifts it)",
            component=component,
        )


def durations(context: ReleaseContext) -> dict[str, float]:
    """Each component's nominal shift time (steps x bake), the weight of critical-path ranks."""
    out: dict[str, float] = {}
    for wave in context.plan.waves:
        for name in wave:
            strategy = context.component(name).strategy
            out[name] = float(len(strategy.steps) * strategy.bake_seconds)
    return out


_dag_cache: dict[int, tuple[Plan, Dag, dict[str, float]]] = {}
_dag_lock = threading.Lock()


def _dag(context: ReleaseContext) -> tuple[Dag, dict[str, float]]:
    """The plan's DAG and ranks, computed once per plan (a warm Lambda container, or the local
    engine, finishes many components of one release: O(V + E) each time would be O(N^2))."""
    key = id(context.plan)
    with _dag_lock:
        hit = _dag_cache.get(key)
    if hit is not None and hit[0] is context.plan:
        return hit[1], hit[2]
    dag = dag_of(context.plan)
    times = durations(context)
    rank = ranks(dag, lambda n: times.get(n, 0.0))
    with _dag_lock:
        if len(_dag_cache) > 16:
            _dag_cache.clear()
        _dag_cache[key] = (context.plan, dag, rank)
    return dag, rank


def _done(ports: Ports, context: ReleaseContext) -> Any:
    release = context.manifest.release
    cache: dict[str, bool] = {}

    def done(name: str) -> bool:
        if name not in cache:
            record = ledger.get_component(ports.records, release, name)
            cache[name] = record.status == "promoted" and record.version == context.to_version(name)
        return cache[name]

    return done


def open_round(ports: Ports, context: ReleaseContext, parent: str | None = None) -> int:
    """The round StartShifts runs: the first (0), the same one again when a retried StartShifts
    finds it still open, or the next one once the parent was answered for the current one.
    ``parent``: the parent execution's name, the prefix of its children's names (default: the
    release id, which is the parent's name when ``rollout start`` started it)."""
    release = context.manifest.release
    item = ports.records.get(release, "schedule")
    if item is None:
        begin_round(ports, context, 0, parent)
        return 0
    round_ = int(str(item.get("round", 0)))
    if ports.records.get(release, f"told#r{round_}") is None:
        return round_
    begin_round(ports, context, round_ + 1, parent or str(item.get("prefix") or "") or None)
    return round_ + 1


def child_prefix(ports: Ports, release: str) -> str:
    """What the release's children are named after: the parent execution's name."""
    item = ports.records.get(release, "schedule") or {}
    return str(item.get("prefix") or release)


def begin_round(
    ports: Ports, context: ReleaseContext, round_: int, parent: str | None = None
) -> None:
    """Reset the scheduler's records for ``round_`` (slots and waiting lists of a finished round
    are stale: their children stopped at the freeze)."""
    release = context.manifest.release
    for prefix in ("slot#", "waiting#"):
        for kind, _ in ports.records.list(release, prefix):
            ports.records.delete(release, kind)
    ports.records.put(
        release,
        "schedule",
        {
            "round": round_,
            "max_concurrency": context.manifest.max_concurrency,
            "prefix": parent or release,
        },
    )


def start_ready(ports: Ports, context: ReleaseContext, candidates: list[str]) -> list[str]:
    """Start (or queue for a slot) every candidate whose predecessors are all done; returns the
    names started now, in priority order."""
    dag, rank = _dag(context)
    done = _done(ports, context)
    started: list[str] = []
    held: set[str] | None = None  # read once, for every candidate's first claim
    for name in priority_order(candidates, rank):
        if done(name) or not dag.ready(name, done):
            continue
        if held is None:
            held = slots_taken_now(
                ports, context.manifest.release, context.manifest.max_concurrency
            )
        if _launch_or_wait(ports, context, name, rank.get(name, 0.0), held):
            started.append(name)
    return started


def _round(ports: Ports, release: str) -> int:
    return current_round(ports, release)


def _started_kind(name: str, round_: int) -> str:
    return f"started#{name}#r{round_}"


def _claim_slot(
    ports: Ports, context: ReleaseContext, name: str, round_: int, held: set[str] | None = None
) -> int | None:
    """Claim a free concurrency slot for ``name`` (first writer wins), or None when all are
    taken. ``held``: the slots this call's caller already knows to be taken (read once per
    FinishShift, not once per component it starts; a slot freed since is taken by the child that
    freed it, which starts the waiting components itself); updated with the slot claimed."""
    release = context.manifest.release
    if held is None:
        held = held_slots(ports, release)
    slots = context.manifest.max_concurrency
    if len(held) >= slots:
        return None
    # Each name tries the slots from its own offset: children that finish at the same moment
    # (a common bake end) would otherwise all race for the lowest free slot and lose in turn.
    first = zlib.crc32(name.encode("utf-8")) % slots
    for step in range(slots):
        k = (first + step) % slots
        kind = f"slot#{k:04d}"
        if kind in held:
            continue
        held.add(kind)  # taken now: by this claim, or by whoever won it
        if ports.records.put_new(release, kind, {"component": name, "round": round_}):
            return k
    return None


def held_slots(ports: Ports, release: str) -> set[str]:
    """The concurrency slots taken now (``slot#NNNN``), read keys-only: at most
    ``max_concurrency`` keys, whatever the release's size."""
    return set(ports.records.kinds(release, "slot#"))


def slots_taken_now(ports: Ports, release: str, slots: int) -> set[str]:
    """The slots taken now, as ``held_slots``, but a count first: when every one of the
    ``slots`` is taken (a release with a backlog of ready components, nearly every time one of
    its children finishes) that set is every slot's kind, and no key is read."""
    if all_slots_taken(ports, release, slots):
        return {f"slot#{k:04d}" for k in range(slots)}
    return held_slots(ports, release)


def all_slots_taken(ports: Ports, release: str, slots: int) -> bool:
    """Whether every one of the ``slots`` concurrency slots is taken (a ``Select=COUNT`` read:
    slot kinds are ``slot#0000`` .. ``slot#<slots-1>``, so ``slots`` of them is all)."""
    return ports.records.count(release, "slot#") >= slots


def free(ports: Ports, release: str, name: str, round_: int) -> None:
    """Give back the concurrency slot ``name``'s child of ``round_`` holds (if it still does)."""
    _free_slot(ports, release, name, round_)


def _free_slot(ports: Ports, release: str, name: str, round_: int) -> str | None:
    """Delete ``name``'s slot if its child of ``round_`` still holds it; the slot's kind (the
    one it held, freed now or before), or None when it never claimed one."""
    item = ports.records.get(release, _started_kind(name, round_)) or {}
    slot = item.get("slot")
    if slot is None:
        return None
    kind = f"slot#{int(str(slot)):04d}"
    holder = ports.records.get(release, kind) or {}
    if holder.get("component") == name and int(str(holder.get("round", -1))) == round_:
        ports.records.delete(release, kind)
    return kind


def _waiting_kind(name: str, rank: float) -> str:
    # descending rank sorts first: store the complement, zero-padded
    inverse = max(0, 10**RANK_DIGITS - 1 - round(rank))
    return f"waiting#{inverse:0{RANK_DIGITS}d}#{name}"


def _launch_or_wait(
    ports: Ports,
    context: ReleaseContext,
    name: str,
    rank: float,
    held: set[str] | None = None,
    *,
    recheck: bool = True,
) -> bool:
    """Start ``name`` in a free slot, or queue it (``waiting#``) for the next one freed.
    ``held``: the slots the caller last read (see ``_claim_slot``); the re-check after queueing
    always reads afresh, since a slot freed meanwhile may have missed the queue entry.
    ``recheck=False``: the caller looks at the slots and the queue afresh itself, after this
    entry is in the queue (``finish``, which holds a slot and fills it from the queue), so the
    re-check here would only repeat it."""
    release = context.manifest.release
    round_ = _round(ports, release)
    kind = _started_kind(name, round_)
    if ports.records.get(release, kind) is not None:
        _start_child(ports, context, name, round_)  # idempotent: finishes a start a crash cut
        return False
    slot = _claim_slot(ports, context, name, round_, held)
    if slot is None:
        waiting = _waiting_kind(name, rank)
        ports.records.put(release, waiting, {"component": name})
        if not recheck:
            return False
        # a slot freed meanwhile (its freer may have looked at the queue before this entry was
        # in it): take it. Mostly the release is saturated here: a count says so, cheaper than
        # reading every slot's key
        slots = context.manifest.max_concurrency
        if all_slots_taken(ports, release, slots):
            return False
        slot = _claim_slot(ports, context, name, round_)
        if slot is None:
            return False
        ports.records.delete(release, waiting)
    if not ports.records.put_new(
        release, kind, {"slot": slot, "at": ports.clock.now().isoformat()}
    ):
        ports.records.delete(release, f"slot#{slot:04d}")  # someone else started it
        return False
    _start_child(ports, context, name, round_)
    return True


def _start_child(ports: Ports, context: ReleaseContext, name: str, round_: int) -> None:
    """Start (or find) the child; its ARN goes on the round's ``started#`` claim, which only
    starters write (the component record is the child's own: writing it here would race with
    the child's first steps)."""
    release = context.manifest.release
    arn = ports.shifts.start(
        execution_name(child_prefix(ports, release), name, round_),
        {"release": release, "component": name, "round": round_},
    )
    kind = _started_kind(name, round_)
    claim = ports.records.get(release, kind) or {}
    if claim.get("execution") != arn:
        ports.records.put(release, kind, {**claim, "execution": arn})


def child_execution(ports: Ports, release: str, name: str, round_: int) -> str | None:
    """The ARN of ``name``'s child of ``round_``, once started."""
    claim = ports.records.get(release, _started_kind(name, round_)) or {}
    arn = claim.get("execution")
    return str(arn) if arn else None


def _start_waiting(ports: Ports, context: ReleaseContext, freed: str | None = None) -> list[str]:
    """Start the best-ranked waiting components while slots are free.

    It looks afresh: first the cheap questions (does anything wait? a keys-only read of one
    entry; is every slot taken? a ``Select=COUNT`` read), then which slots are free. When
    exactly one is free and the caller has just freed ``freed`` (``finish``), that one is
    presumed to be it and no slot key is read; if another claim took it meanwhile, the free one
    is someone else's: the slots are read once and the claim tried again, rather than trusting
    that another call fills it.

    Each read of the queue takes as many entries as slots are free (at least one, at most
    ``max_concurrency``): a read that does not grow with the release's backlog of ready
    components; a full page is read again (its entries are gone: started, or stale and deleted)
    until no slot is free. A slot freed after the count is filled by its own freer's call: it
    frees before it looks, and every entry waiting was queued before this call looked."""
    release = context.manifest.release
    started: list[str] = []
    slots = context.manifest.max_concurrency
    if not ports.records.kinds(release, "waiting#", limit=1):
        return started
    taken = ports.records.count(release, "slot#")
    if taken >= slots:
        return started
    presumed = freed is not None and taken == slots - 1
    held = (
        {f"slot#{k:04d}" for k in range(slots)} - {freed}
        if presumed and freed is not None
        else held_slots(ports, release)
    )
    round_ = _round(ports, release)  # one read: a new round starts only from the parent
    while len(held) < slots:
        limit = max(1, min(slots, slots - len(held)))
        waiting = ports.records.list(release, "waiting#", limit=limit)
        for kind, item in waiting:
            name = str(item.get("component"))
            if ports.records.get(release, _started_kind(name, round_)) is not None:
                ports.records.delete(release, kind)
                continue
            slot = _claim_slot(ports, context, name, round_, held)
            if slot is None and presumed:
                presumed = False  # the freed slot went to another claim: read which are free
                held = held_slots(ports, release)
                slot = _claim_slot(ports, context, name, round_, held)
            if slot is None:
                return started  # every slot is taken: the next child to finish continues
            ports.records.delete(release, kind)
            if not ports.records.put_new(
                release,
                _started_kind(name, round_),
                {"slot": slot, "at": ports.clock.now().isoformat()},
            ):
                ports.records.delete(release, f"slot#{slot:04d}")
                held.discard(f"slot#{slot:04d}")
                continue
            _start_child(ports, context, name, round_)
            started.append(name)
        if len(waiting) < limit:
            return started
    return started


def finish(ports: Ports, context: ReleaseContext, name: str, round_: int) -> list[str]:
    """``name``'s child shifted and promoted it: start what became ready, free its slot, and tell
    the parent when nothing is left running. Returns the components started."""
    release = context.manifest.release
    dag, rank = _dag(context)
    done = _done(ports, context)
    started: list[str] = []
    held: set[str] | None = None  # read once, for the first claim of every successor
    for succ in priority_order(dag.successors.get(name, ()), rank):
        ready = not done(succ) and dag.ready(succ, done)
        if not ready:
            continue
        if held is None:
            held = slots_taken_now(ports, release, context.manifest.max_concurrency)
        # no re-check when it queues: the look at the queue below comes after its entry
        if _launch_or_wait(ports, context, succ, rank.get(succ, 0.0), held, recheck=False):
            started.append(succ)
    freed = _free_slot(ports, release, name, round_)
    started += _start_waiting(ports, context, freed)
    if all_finished(ports, release):
        tell_parent(ports, release, round_, None)
    return started


def all_finished(ports: Ports, release: str) -> bool:
    """No child holds a slot and none waits for one: every reachable component is done."""
    return not ports.records.kinds(release, "slot#", limit=1) and not ports.records.kinds(
        release, "waiting#", limit=1
    )


def fail(ports: Ports, release: str, name: str, round_: int, error: str, cause: str) -> bool:
    """``name``'s child stopped on ``error``: free its slot and, if this is the round's first
    failure, tell the parent (which freezes and rolls forward). Returns whether it told."""
    _free_slot(ports, release, name, round_)
    return tell_parent(ports, release, round_, (error, cause))


ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "MISSING"})


def reconcile(ports: Ports, release: str, round_: int) -> list[str]:
    """The parent's periodic check: a child that ended while it still holds a slot never ran
    (or never finished) FinishShift or ShiftFailed, so nobody will answer the parent. Its round
    fails with ``ShiftCrashedError`` (the release halts, reported) instead of waiting for ever.
    Returns the components found so."""
    crashed: list[str] = []
    for kind, item in ports.records.list(release, "slot#"):
        name = str(item.get("component"))
        if int(str(item.get("round", -1))) != round_:
            continue
        arn = child_execution(ports, release, name, round_)
        if arn is None:
            continue  # being started right now
        status = ports.shift_status.status(arn)
        # re-read: a child that freed its slot and ended between the two reads is fine
        if status in ENDED and ports.records.get(release, kind) == item:
            crashed.append(f"{name} ({status})")
    if crashed:
        tell_parent(
            ports,
            release,
            round_,
            (
                ShiftCrashedError.__name__,
                json.dumps(
                    {
                        "errorType": ShiftCrashedError.__name__,
                        "errorMessage": "child execution(s) ended without reporting: "
                        + ", ".join(crashed)
                        + "; see runbooks/stuck-execution.md",
                    }
                ),
            ),
        )
    return crashed


def park_parent(ports: Ports, release: str, token: str, round_: int, at: datetime) -> None:
    """Store the parent's token; answer it at once when the round already ended meanwhile."""
    ports.records.put(release, TOKEN_KIND, {"token": token, "round": round_, "at": at.isoformat()})
    told = ports.records.get(release, f"told#r{round_}")
    if told is not None:
        _answer(ports, token, told)
    elif all_finished(ports, release):
        tell_parent(ports, release, round_, None)


def tell_parent(ports: Ports, release: str, round_: int, failure: tuple[str, str] | None) -> bool:
    """Record the round's outcome (first writer wins) and answer the parked token if there is
    one. Returns whether this call decided the outcome."""
    outcome: dict[str, object] = (
        {"status": "done"}
        if failure is None
        else {"status": "failed", "error": failure[0], "cause": failure[1]}
    )
    if not ports.records.put_new(release, f"told#r{round_}", outcome):
        return False
    parked = ports.records.get(release, TOKEN_KIND)
    if parked is not None and int(str(parked.get("round", -1))) == round_:
        _answer(ports, str(parked["token"]), outcome)
    return True


def _answer(ports: Ports, token: str, outcome: dict[str, object]) -> None:
    if outcome.get("status") == "done":
        ports.callbacks.succeed(token, {"done": True})
    else:
        ports.callbacks.fail(token, str(outcome.get("error")), str(outcome.get("cause") or ""))


def running_children(ports: Ports, release: str) -> list[tuple[str, str]]:
    """``(component, execution ARN)`` of every child holding a slot."""
    out: list[tuple[str, str]] = []
    for _, item in ports.records.list(release, "slot#"):
        name = str(item.get("component"))
        arn = child_execution(ports, release, name, int(str(item.get("round", 0))))
        if arn is not None:
            out.append((name, arn))
    return out
