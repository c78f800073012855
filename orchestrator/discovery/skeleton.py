"""A release-manifest skeleton (DESIGN §3) from a discovered graph.

Only Lambda -> SQS -> Lambda facts go in: a function becomes a component when it produces to or
consumes from a queue, through an event source or by polling (high or medium confidence edges;
hints never). Every queue such a component reads or writes is declared under ``queues`` with a
placeholder URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/<name>``, where ``<name>`` is the
queue's literal ``QueueName`` when the template fixes one, else its logical ID), plus ``dlq_url``
when a redrive policy names its dead-letter queue. Versions are ``CHANGE-ME`` and every schema is
``1``: the user fills in the real values. ``function`` is the logical ID (the deployed name may
differ: ``Graph.function_names`` has the literal ``FunctionName`` where the template sets one).
Functions without queue edges are not part of the manifest: ``Graph.unlinked`` lists them. A SAM
``AutoPublishAlias`` other than ``live`` becomes ``defaults.alias`` (or a per-component ``alias``).
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.discovery.model import Graph

PLACEHOLDER = "CHANGE-ME"
QUEUE_URL = "https://sqs.REGION.amazonaws.com/ACCOUNT/{name}"
DEFAULT_ALIAS = "live"


def manifest_key(node: str) -> str:
    """A manifest name (``[A-Za-z0-9][A-Za-z0-9._-]{0,63}``) for a node of the graph."""
    if node.startswith("param/"):
        node = node[len("param/") :].split("+", 1)[0]
    elif node.startswith("import/"):
        node = node[len("import/") :]
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", node).strip("-._")
    return (key or "queue")[:64]


def queue_url(graph: Graph, queue: str) -> str:
    """Placeholder URL: the queue's literal ``QueueName`` when the template fixes one, else its
    logical ID (what ``!Ref`` would return, up to region and account)."""
    return QUEUE_URL.format(name=graph.queue_names.get(queue, manifest_key(queue)))


def to_manifest_skeleton(graph: Graph, release: str = PLACEHOLDER) -> dict[str, Any]:
    """A plain-dict manifest skeleton, ready for ``yaml.safe_dump``; see the module docstring."""
    writes: dict[str, list[str]] = {}
    reads: dict[str, list[str]] = {}
    for edge in graph.produces:
        writes.setdefault(edge.source, []).append(edge.target)
    for edge in graph.consumes + graph.consumes_polling:
        if edge.source not in reads.get(edge.target, []):
            reads.setdefault(edge.target, []).append(edge.source)
    components_fns = [f for f in graph.functions if f in writes or f in reads]

    used: list[str] = []
    for fn in components_fns:
        for queue in [*reads.get(fn, []), *writes.get(fn, [])]:
            if queue not in used:
                used.append(queue)
    order = {q: i for i, q in enumerate([*graph.queues, *graph.external_queues])}
    used.sort(key=lambda q: order.get(q, len(order)))
    dlq_of = {e.source: e.target for e in graph.dlq}

    keys: dict[str, str] = {}
    for queue in used:
        key = manifest_key(queue)
        while key in keys.values():
            key = f"{key[:60]}-{len(keys)}"
        keys[queue] = key

    queues: dict[str, Any] = {}
    for queue in used:
        spec: dict[str, Any] = {"url": queue_url(graph, queue)}
        if queue in dlq_of:
            spec["dlq_url"] = queue_url(graph, dlq_of[queue])
        queues[keys[queue]] = spec

    aliases = {graph.aliases.get(fn, DEFAULT_ALIAS) for fn in components_fns}
    common_alias = aliases.pop() if len(aliases) == 1 else None

    components: dict[str, Any] = {}
    for fn in components_fns:
        component: dict[str, Any] = {"function": fn}
        alias = graph.aliases.get(fn, DEFAULT_ALIAS)
        if common_alias is None and alias != DEFAULT_ALIAS:
            component["alias"] = alias
        for side in ("from", "to"):
            version: dict[str, Any] = {"version": PLACEHOLDER}
            if fn in reads:
                version["reads"] = {keys[q]: [1] for q in reads[fn]}
            if fn in writes:
                version["writes"] = {keys[q]: 1 for q in writes[fn]}
            component[side] = version
        components[manifest_key(fn)] = component

    manifest: dict[str, Any] = {"release": release}
    if common_alias is not None and common_alias != DEFAULT_ALIAS:
        manifest["defaults"] = {"alias": common_alias}
    manifest["queues"] = queues
    manifest["components"] = components
    return manifest
