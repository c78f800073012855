"""Per-edge compatibility: the table of DESIGN §4, as a pure function.

For an edge ``P -> Q -> C``: ``o``/``n`` are the schemas P's old/new version writes on Q (None when
that version does not write Q) and ``ro``/``rn`` what C's old/new version reads on Q (None when that
version does not consume Q, so it never sees a message of Q). A version that does not take part
accepts everything, which keeps the four rows of the table exact for the usual case where both
versions take part:

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

from collections.abc import Set
from enum import StrEnum

SchemaT = int | str


class EdgeKind(StrEnum):
    NONE = "none"
    CONSUMER_FIRST = "consumer-first"
    PRODUCER_FIRST_DRAIN = "producer-first-drain"
    INFEASIBLE = "infeasible"


def accepts(reads: Set[SchemaT] | None, schema: SchemaT | None) -> bool:
    """Whether a version reading ``reads`` copes with a message of ``schema``.

    ``schema`` None: nothing is written, so nothing to cope with. ``reads`` None: the version does
    not consume the queue, so it never sees the message.
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
    if accepts(rn, o) and accepts(rn, n) and not accepts(ro, n):
        return EdgeKind.CONSUMER_FIRST
    if accepts(ro, n) and accepts(rn, n) and not accepts(rn, o):
        return EdgeKind.PRODUCER_FIRST_DRAIN
    return EdgeKind.INFEASIBLE
