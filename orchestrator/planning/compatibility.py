"""Per-edge compatibility: the table of DESIGN §4, as a pure function, and the delivery rule.

For an edge ``P -> Q -> C``: ``o``/``n`` are the schemas P's old/new version writes on Q (None when
that version does not write Q) and ``ro``/``rn`` what C's old/new version reads on Q, as
``effective_reads`` gives it:

* delivery ``alias`` (the default): the SQS event source mapping targets the function or the
  alias, not a version, so every version behind the alias receives every queue the component reads
  in any of its versions. A version that does not list such a queue reads *no* schema of it: its
  read set is empty and it accepts nothing (any message of the queue reaching it is unreadable);
* delivery ``per-version``: each version has its own mapping (or the mapping is created or removed
  outside the release), so a version that does not list a queue never receives it: its read set is
  None, and a version that does not take part accepts everything.

With those read sets the four rows of the table are exact, given that the live system works on the
edge today. The table does not check that for listed reads (``o ∉ Ro`` is the manifest author's
declaration), but an empty ``Ro`` with an old schema ``o`` means the alias already delivers ``o`` to
a live version that reads nothing of the queue, whatever the order: that edge is infeasible.

==================================================  ======================  ========================
condition                                           kind                    order
==================================================  ======================  ========================
Ro ⊇ {o,n} and Rn ⊇ {o,n}                           none                    every mix is safe
Rn ⊇ {o,n}, n ∉ Ro                                  consumer-first          C fully new, then P
n ∈ Ro, n ∈ Rn, o ∉ Rn                              producer-first-drain    P fully new, drain o, C
otherwise                                           infeasible              no order is safe
==================================================  ======================  ========================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from enum import StrEnum

from orchestrator.model.manifest import Component, Delivery, VersionSpec

SchemaT = int | str


class EdgeKind(StrEnum):
    NONE = "none"
    CONSUMER_FIRST = "consumer-first"
    PRODUCER_FIRST_DRAIN = "producer-first-drain"
    INFEASIBLE = "infeasible"


def read_queues(component: Component, *versions: VersionSpec) -> frozenset[str]:
    """Every queue ``component`` reads in its ``from``, its ``to`` or any of ``versions``.

    Under delivery ``alias`` these are the queues its alias delivers to every version behind it.
    """
    specs = (component.from_, component.to, *versions)
    return frozenset(queue for spec in specs for queue in spec.reads)


def effective_reads(
    component: Component | Delivery,
    version_spec: VersionSpec | Mapping[str, Iterable[SchemaT]],
    queues_of_component: Iterable[str],
) -> dict[str, frozenset[SchemaT]]:
    """What one version of a component reads on every queue that reaches it (DESIGN §4, delivery).

    ``component`` is the component (or just its delivery), ``version_spec`` the version (or its
    ``reads``), ``queues_of_component`` every queue any known version of the component reads (see
    ``read_queues``). Delivery ``alias``: the result has every one of those queues, and a queue the
    version does not list maps to the empty set (it receives the queue and reads no schema of it).
    Delivery ``per-version``: only the queues the version lists. Queues the version lists are
    always in the result with what it lists.
    """
    delivery = component if isinstance(component, str) else component.delivery
    reads = version_spec.reads if isinstance(version_spec, VersionSpec) else version_spec
    out: dict[str, frozenset[SchemaT]] = {}
    if delivery == "alias":
        out = dict.fromkeys(queues_of_component, frozenset())
    for queue, schemas in reads.items():
        out[queue] = frozenset(schemas)
    return out


def accepts(reads: Set[SchemaT] | None, schema: SchemaT | None) -> bool:
    """Whether a version reading ``reads`` copes with a message of ``schema``.

    ``schema`` None: nothing is written, so nothing to cope with. ``reads`` None: the version does
    not receive the queue (``per-version`` delivery), so it never sees the message. An empty
    ``reads`` (``alias`` delivery of a queue the version does not list) accepts nothing.
    """
    return schema is None or reads is None or schema in reads


def classify(
    o: SchemaT | None,
    n: SchemaT | None,
    ro: Set[SchemaT] | None,
    rn: Set[SchemaT] | None,
) -> EdgeKind:
    """Classify one producer -> queue -> consumer edge by DESIGN §4."""
    if accepts(ro, o) and accepts(ro, n) and accepts(rn, o) and accepts(rn, n):
        return EdgeKind.NONE
    if o is not None and ro is not None and not ro:
        return EdgeKind.INFEASIBLE  # alias delivery: the live old version gets o and reads none
    if accepts(rn, o) and accepts(rn, n) and not accepts(ro, n):
        return EdgeKind.CONSUMER_FIRST
    if accepts(ro, n) and accepts(rn, n) and not accepts(rn, o):
        return EdgeKind.PRODUCER_FIRST_DRAIN
    return EdgeKind.INFEASIBLE
