"""The component graph ``discover`` returns, and its JSON-able form.

Node names are CloudFormation logical IDs. Queues that live outside the stack and reach it as
parameters or imports are named ``param/<Name>[+<Name>...]`` or ``import/<export name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Confidence = Literal["high", "medium", "low"]
LinkKind = Literal[
    "produces",
    "consumes",
    "consumes_polling",
    "dlq",
    "non_lambda_producers",
    "failure_destinations",
]

CONFIDENCE_RANK: Mapping[str, int] = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class Edge:
    """One edge ``source -> target`` with the template constructs that express it.

    ``evidence`` holds tokens in the vocabulary of ``shared/realworld/INDEX.md`` (``event/SQS``,
    ``esm``, ``policy/<SAM policy template>``, ``policy/inline``, ``policy/managed-<name>``,
    ``iam-policy/<logical id>``, ``env/<VAR>``, ``sns-subscription``, ``eventbridge-rule``,
    ``connector``, ``sfn-substitution/<key>``, ``redrive``, ``queue-policy``, ...). ``via`` lists
    the full paths of a collapsed edge (``Fn -> Topic -> Queue``); ``conditions`` the
    CloudFormation conditions any resource on the edge depends on; ``reason`` says why a
    confidence is below ``high``.
    """

    kind: LinkKind
    source: str
    target: str
    confidence: Confidence = "high"
    evidence: tuple[str, ...] = ()
    via: tuple[tuple[str, ...], ...] = ()
    conditions: tuple[str, ...] = ()
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "target": self.target,
            "edge": self.name,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "via": ["->".join(path) for path in self.via],
            "conditions": list(self.conditions),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Graph:
    """Lambda / SQS component graph of one template.

    ``produces``, ``consumes``, ``dlq``, ``non_lambda_producers``, ``consumes_polling`` and
    ``failure_destinations`` hold the edges the template supports (confidence high or medium).
    ``hints`` holds low-confidence edges the template suggests but cannot prove: they are
    reported, never used for the manifest skeleton.
    """

    functions: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    external_queues: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    state_machines: tuple[str, ...] = ()
    event_buses: tuple[str, ...] = ()
    event_rules: tuple[str, ...] = ()
    produces: tuple[Edge, ...] = ()
    consumes: tuple[Edge, ...] = ()
    dlq: tuple[Edge, ...] = ()
    non_lambda_producers: tuple[Edge, ...] = ()
    consumes_polling: tuple[Edge, ...] = ()
    failure_destinations: tuple[Edge, ...] = ()
    hints: tuple[Edge, ...] = ()
    conditional: Mapping[str, str] = field(default_factory=dict)
    queue_names: Mapping[str, str] = field(default_factory=dict)
    function_names: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def edges(self) -> tuple[Edge, ...]:
        """Every supported edge (not the hints), in kind order."""
        return (
            self.produces
            + self.consumes
            + self.dlq
            + self.non_lambda_producers
            + self.consumes_polling
            + self.failure_destinations
        )

    @property
    def unlinked(self) -> tuple[str, ...]:
        """Functions with no produce, consume or polling edge on any queue."""
        linked = {e.source for e in self.produces} | {
            e.target for e in self.consumes + self.consumes_polling
        }
        return tuple(f for f in self.functions if f not in linked)

    def edge_names(self, kind: LinkKind) -> list[str]:
        return [e.name for e in self.edges if e.kind == kind]


def graph_to_dict(graph: Graph) -> dict[str, Any]:
    """A JSON-able view of the graph: INDEX-style ``A->B`` lists first, details under ``edges``."""

    def names(edges: tuple[Edge, ...]) -> list[str]:
        return [e.name for e in edges]

    return {
        "functions": list(graph.functions),
        "queues": list(graph.queues),
        "external_queues": list(graph.external_queues),
        "topics": list(graph.topics),
        "state_machines": list(graph.state_machines),
        "event_buses": list(graph.event_buses),
        "event_rules": list(graph.event_rules),
        "produces": names(graph.produces),
        "produces_via": ["->".join(path) for e in graph.produces for path in e.via],
        "consumes": names(graph.consumes),
        "dlq": names(graph.dlq),
        "non_lambda_producers": names(graph.non_lambda_producers),
        "consumes_polling": names(graph.consumes_polling),
        "failure_destinations": names(graph.failure_destinations),
        "conditional": dict(graph.conditional),
        "unlinked": list(graph.unlinked),
        "edges": [e.as_dict() for e in graph.edges],
        "hints": [e.as_dict() for e in graph.hints],
        "notes": list(graph.notes),
    }
