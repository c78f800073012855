"""``discover``: the rules that turn a template into a component graph.

The rules themselves are documented in the package docstring (:mod:`orchestrator.discovery`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.discovery.grants import Capability, Grant, principal_grants, role_grants
from orchestrator.discovery.model import CONFIDENCE_RANK, Confidence, Edge, Graph, LinkKind
from orchestrator.discovery.template import (
    DEFAULT_BUS,
    FUNCTION_TYPES,
    NodeKind,
    Template,
    as_list,
    items,
    mapping,
    references,
)

#: What inline code has to contain to count as calling each capability.
CALL_PATTERNS: Mapping[Capability, re.Pattern[str]] = {
    "sqs:send": re.compile(r"send_?message", re.IGNORECASE),
    "sqs:receive": re.compile(r"receive_?message", re.IGNORECASE),
    "sns:publish": re.compile(r"\bpublish", re.IGNORECASE),
    "events:put": re.compile(r"put_?events", re.IGNORECASE),
}
SEND_CAPABILITIES: tuple[tuple[Capability, NodeKind], ...] = (
    ("sqs:send", "queue"),
    ("sns:publish", "topic"),
    ("events:put", "bus"),
)
SCOPE_RANK: Mapping[str, int] = {"any": 0, "pattern": 1, "exact": 2}
#: Service principals allowed to send to a queue, by the type of the resource that sends.
SERVICE_PRINCIPALS: Mapping[str, str] = {
    "AWS::SNS::Topic": "sns.amazonaws.com",
    "AWS::Events::Rule": "events.amazonaws.com",
    "AWS::S3::Bucket": "s3.amazonaws.com",
}
NOUN: Mapping[str, str] = {"queue": "queue", "topic": "topic", "bus": "event bus"}
CALL_NOUN: Mapping[Capability, str] = {
    "sqs:send": "SendMessage",
    "sns:publish": "Publish",
    "events:put": "PutEvents",
    "sqs:receive": "ReceiveMessage",
}


def _min_conf(a: Confidence, b: Confidence) -> Confidence:
    return a if CONFIDENCE_RANK[a] <= CONFIDENCE_RANK[b] else b


def _add(seq: list[str], values: Iterable[str]) -> None:
    for v in values:
        if v and v not in seq:
            seq.append(v)


@dataclass
class _Principal:
    """A function or state machine: what it may do and what it names."""

    id: str
    kind: Literal["function", "state_machine"]
    grants: list[Grant]
    role: str | None
    refs: dict[str, list[str]]  # node -> reference tokens (env/VAR, depends-on, sfn-...)
    code: str | None
    consumed: set[str] = field(default_factory=set)
    sqs_action_tokens: list[str] = field(default_factory=list)


@dataclass
class _Path:
    nodes: tuple[str, ...]
    confidence: Confidence
    evidence: list[str]
    conditions: list[str]
    reason: str


@dataclass
class _Hop:
    """A first hop principal -> queue / topic / bus with its confidence."""

    confidence: Confidence
    evidence: list[str]
    reason: str
    carriers: list[str]


class _Discovery:
    def __init__(self, template: Mapping[str, Any]) -> None:
        self.tpl = Template(template)
        self.notes: list[str] = []
        self.edges: dict[tuple[LinkKind, str, str], Edge] = {}
        self.hints: dict[tuple[LinkKind, str, str], Edge] = {}
        self.alias_of: dict[str, str] = {}

    # -- helpers --------------------------------------------------------------------------------

    def conditions(self, *ids: str | None) -> list[str]:
        out: list[str] = []
        for rid in ids:
            if rid:
                cond = self.tpl.condition_of(rid)
                if cond and cond not in out:
                    out.append(cond)
        return out

    def emit(
        self,
        kind: LinkKind,
        source: str,
        target: str,
        evidence: Iterable[str],
        *,
        confidence: Confidence = "high",
        via: Iterable[tuple[str, ...]] = (),
        conditions: Iterable[str] = (),
        reason: str = "",
    ) -> None:
        key = (kind, source, target)
        store = self.hints if confidence == "low" else self.edges
        old = store.get(key)
        if old is not None and CONFIDENCE_RANK[old.confidence] > CONFIDENCE_RANK[confidence]:
            confidence, reason = old.confidence, old.reason
        ev: list[str] = list(old.evidence) if old else []
        _add(ev, evidence)
        paths = list(old.via) if old else []
        for path in via:
            if path not in paths:
                paths.append(path)
        conds = list(old.conditions) if old else []
        _add(conds, conditions)
        store[key] = Edge(
            kind=kind,
            source=source,
            target=target,
            confidence=confidence,
            evidence=tuple(ev),
            via=tuple(paths),
            conditions=tuple(conds),
            reason=(old.reason if old and old.reason else reason),
        )

    def queue_nodes(self, value: Any) -> list[str]:
        return [s.node for s in self.tpl.scopes(value, "queue") if s.kind == "exact"]

    def function_of(self, value: Any) -> str | None:
        """The function a ``FunctionName`` value designates (name, ARN, alias or version)."""
        tpl = self.tpl
        for ref in references(value):
            if tpl.type_of(ref) in FUNCTION_TYPES:
                return ref
            if ref in self.alias_of:
                return self.alias_of[ref]
            if tpl.type_of(ref) in {"AWS::Lambda::Alias", "AWS::Lambda::Version"}:
                inner = self.function_of(tpl.props(ref).get("FunctionName"))
                if inner:
                    return inner
            for fn in tpl.functions:
                if ref.startswith(f"{fn}Alias") or ref.startswith(f"{fn}Version"):
                    return fn
        if isinstance(value, str):
            name = value.split(":function:", 1)[-1].split(":", 1)[0]
            for fn in tpl.functions:
                if tpl.literal_name(fn) == name:
                    return fn
        return None

    # -- principals -----------------------------------------------------------------------------

    def principal(self, pid: str, kind: Literal["function", "state_machine"]) -> _Principal:
        tpl = self.tpl
        grants, role = principal_grants(pid, tpl)
        props = tpl.props(pid)
        explicit_role = props.get("Role", props.get("RoleArn"))
        if explicit_role is not None and role is None:
            self.notes.append(
                f"{pid}: its role is not defined in the template, so its permissions are unknown"
            )
        refs: dict[str, list[str]] = {}

        def note(node: str, token: str) -> None:
            _add(refs.setdefault(node, []), [token])

        code: str | None = None
        sqs_tokens: list[str] = []
        if kind == "function":
            for var, value in tpl.environment(pid).items():
                for node in tpl.reference_nodes(value):
                    note(node, f"env/{var}")
            raw = mapping(props.get("Code")).get("ZipFile", props.get("InlineCode"))
            if raw is not None:
                code = raw if isinstance(raw, str) else tpl.render(raw)
        else:
            for key, value in mapping(props.get("DefinitionSubstitutions")).items():
                for node in tpl.reference_nodes(value):
                    note(node, f"sfn-substitution/{key}")
                if ":states:::sqs:" in tpl.render(value):
                    _add(sqs_tokens, [f"sfn-substitution/{key}"])
            for key in ("Definition", "DefinitionString"):
                for node in tpl.reference_nodes(props.get(key)):
                    note(node, "sfn-definition")
        for dep in tpl.depends_on(pid):
            if tpl.kind_of(dep) is not None:
                note(dep, "depends-on")
        return _Principal(pid, kind, grants, role, refs, code, sqs_action_tokens=sqs_tokens)

    def first_hops(
        self,
        p: _Principal,
        cap: Capability,
        kind: NodeKind,
        role_users: Mapping[str, list[_Principal]],
        leads_to_queue: list[str],
    ) -> dict[str, _Hop]:
        tpl = self.tpl
        by_node: dict[str, list[Grant]] = {}
        for g in p.grants:
            if g.capability != cap:
                continue
            if g.scope.kind != "any":
                nodes = [g.scope.node]
            else:
                nodes = tpl.nodes_of_kind(kind)
                if kind == "queue":  # out-of-stack queues the principal names
                    nodes += [n for n in p.refs if n.startswith(("param/", "import/"))]
            for node in nodes:
                by_node.setdefault(node, []).append(g)
        hops: dict[str, _Hop] = {}
        noun = NOUN[kind]
        for node, grants in by_node.items():
            best_rank = max(SCOPE_RANK[g.scope.kind] for g in grants)
            best = [g for g in grants if SCOPE_RANK[g.scope.kind] == best_rank]
            ref_tokens = p.refs.get(node, [])
            tokens: list[str] = []
            _add(tokens, (g.token for g in best))
            _add(tokens, ref_tokens)
            carriers = [g.carrier for g in best if g.carrier]
            confidence: Confidence
            reason = ""
            if best_rank == SCOPE_RANK["exact"]:
                shared = [g for g in best if g.role and len(role_users.get(g.role, [])) > 1]
                if len(shared) < len(best):
                    confidence = "high"
                else:
                    sharers = sorted(
                        {s.id for g in shared for s in role_users[g.role or ""]} - {p.id}
                    )
                    referencing = [
                        s.id
                        for g in shared
                        for s in role_users[g.role or ""]
                        if s.id != p.id and node in s.refs
                    ]
                    roles = ", ".join(sorted({g.role or "" for g in shared}))
                    if ref_tokens:
                        confidence = "high"
                    elif referencing:
                        confidence = "low"
                        reason = (
                            f"the permission is on role {roles}, shared with {', '.join(sharers)}; "
                            f"{', '.join(sorted(set(referencing)))} reference(s) the {noun}, "
                            f"{p.id} does not"
                        )
                    else:
                        confidence = "medium"
                        reason = (
                            f"the permission is on role {roles}, shared with {', '.join(sharers)}, "
                            f"and none of them references the {noun}: every sharer is assumed "
                            "to use it"
                        )
            elif best_rank == SCOPE_RANK["pattern"]:
                if ref_tokens:
                    confidence = "medium"
                    reason = f"wildcard permission matching the {noun}'s name, plus a reference"
                else:
                    confidence = "low"
                    reason = (
                        f"only a wildcard permission matches the {noun}'s name; "
                        "nothing else in the template links them"
                    )
            else:
                if ref_tokens:
                    confidence = "medium"
                    reason = f"unscoped permission (any {noun}) plus a reference to this {noun}"
                elif leads_to_queue == [node]:
                    confidence = "low"
                    reason = (
                        f"unscoped permission (any {noun}) and the {noun} is the only one in "
                        "the template that leads to a queue; the code picks the target"
                    )
                else:
                    continue
            if (
                best_rank < SCOPE_RANK["exact"]
                and p.code is not None
                and not CALL_PATTERNS[cap].search(p.code)
            ):
                confidence = "low"
                veto = f"but the inline code never calls {CALL_NOUN[cap]}"
                reason = f"{reason}; {veto}" if reason else veto
            if kind == "queue" and node in p.consumed:
                confidence = "medium" if confidence == "high" else "low"
                note = f"self-loop: {p.id} also consumes {node} through its event source"
                reason = f"{reason}; {note}" if reason else note
            hops[node] = _Hop(confidence, tokens, reason, carriers)
        return hops

    def produce_paths(
        self,
        p: _Principal,
        role_users: Mapping[str, list[_Principal]],
        subscriptions: Mapping[str, list[tuple[str, bool, str | None]]],
        rules_on: Mapping[str, list[str]],
        rule_targets: Mapping[str, list[str]],
        rule_count: Mapping[str, int],
        destinations: list[tuple[str, str]],
    ) -> list[_Path]:
        tpl = self.tpl
        paths: list[_Path] = []
        leads: dict[NodeKind, list[str]] = {
            "queue": tpl.queues,
            "topic": [t for t in tpl.nodes_of_kind("topic") if subscriptions.get(t)],
            "bus": [
                b
                for b in tpl.nodes_of_kind("bus")
                if any(rule_targets.get(r) for r in rules_on.get(b, []))
            ],
        }
        for cap, kind in SEND_CAPABILITIES:
            for node, hop in self.first_hops(p, cap, kind, role_users, leads[kind]).items():
                base_conds = self.conditions(p.id, node, *hop.carriers)
                if kind == "queue":
                    ev = list(hop.evidence)
                    if p.kind == "state_machine":
                        _add(ev, p.sqs_action_tokens)
                    paths.append(_Path((p.id, node), hop.confidence, ev, base_conds, hop.reason))
                elif kind == "topic":
                    for queue, filtered, carrier in subscriptions.get(node, []):
                        conf = _min_conf(hop.confidence, "medium" if filtered else "high")
                        reason = hop.reason
                        if filtered and not reason:
                            reason = "the subscription has a FilterPolicy: only matching messages"
                        paths.append(
                            _Path(
                                (p.id, node, queue),
                                conf,
                                [*hop.evidence, "sns-subscription"],
                                [*base_conds, *self.conditions(carrier, queue)],
                                reason,
                            )
                        )
                else:
                    rules = rules_on.get(node, [])
                    for rule in rules:
                        for queue in rule_targets.get(rule, []):
                            count = rule_count.get(node, len(rules))
                            conf = _min_conf(hop.confidence, "medium" if count == 1 else "low")
                            reason = hop.reason
                            if count > 1:
                                extra = (
                                    f"event bus {node} has {count} rules; which one an event "
                                    "matches depends on the source/detail-type the code emits"
                                )
                                reason = f"{reason}; {extra}" if reason else extra
                            elif not reason:
                                reason = "reaches the queue only for events matching the rule"
                            paths.append(
                                _Path(
                                    (p.id, node, rule, queue),
                                    conf,
                                    [*hop.evidence, "eventbridge-rule"],
                                    [*base_conds, *self.conditions(rule, queue)],
                                    reason,
                                )
                            )
        for source, queue in destinations:
            if source == p.id:
                paths.append(
                    _Path(
                        (p.id, queue),
                        "high",
                        ["destination/OnSuccess"],
                        self.conditions(p.id, queue),
                        "",
                    )
                )
        return paths

    def emit_paths(self, p: _Principal, paths: list[_Path]) -> None:
        by_queue: dict[str, list[_Path]] = {}
        for path in paths:
            by_queue.setdefault(path.nodes[-1], []).append(path)
        kind: LinkKind = "produces" if p.kind == "function" else "non_lambda_producers"
        for queue, group in by_queue.items():
            best = max(CONFIDENCE_RANK[x.confidence] for x in group)
            floor = min(best, CONFIDENCE_RANK["medium"])
            kept = [x for x in group if CONFIDENCE_RANK[x.confidence] >= floor]
            top = [x for x in kept if CONFIDENCE_RANK[x.confidence] == best]
            evidence: list[str] = []
            conditions: list[str] = []
            for x in kept:
                _add(evidence, x.evidence)
                _add(conditions, x.conditions)
            self.emit(
                kind,
                p.id,
                queue,
                evidence,
                confidence=top[0].confidence,
                via=[x.nodes for x in kept if len(x.nodes) > 2],
                conditions=conditions,
                reason=top[0].reason,
            )

    # -- the pass -------------------------------------------------------------------------------

    def run(self) -> Graph:
        tpl = self.tpl
        self._notes_on_template()
        for fn in tpl.functions:
            alias = tpl.function_prop(fn, "AutoPublishAlias")
            if isinstance(alias, str):
                self.alias_of[f"{fn}Alias{alias}"] = fn

        principals = [self.principal(f, "function") for f in tpl.functions]
        principals += [self.principal(s, "state_machine") for s in tpl.state_machines]
        by_id = {p.id: p for p in principals}

        self._consumes(by_id)
        self._dlq()
        destinations = self._destinations()
        subscriptions = self._subscriptions()
        rules_on, rule_targets, rule_count = self._rules()

        role_users: dict[str, list[_Principal]] = {}
        for p in principals:
            if p.role:
                role_users.setdefault(p.role, []).append(p)
        for p in principals:
            paths = self.produce_paths(
                p, role_users, subscriptions, rules_on, rule_targets, rule_count, destinations
            )
            self.emit_paths(p, paths)
        self._polling(principals)
        self._apis()
        self._buckets_and_schedules()

        return self._graph()

    def _notes_on_template(self) -> None:
        tpl = self.tpl
        transforms = [tpl.render(t) for t in as_list(tpl.data.get("Transform"))]
        others = [t for t in transforms if not t.startswith("AWS::Serverless")]
        if others:
            self.notes.append(
                f"template transforms {', '.join(others)} are not expanded: resources they "
                "add are not analyzed"
            )
        nested = tpl.ids_of("AWS::CloudFormation::Stack", "AWS::Serverless::Application")
        if nested:
            self.notes.append(f"nested stacks are not analyzed: {', '.join(nested)}")
        for d in tpl.iter_dicts(tpl.data.get("Resources")):
            if "Fn::Transform" in d:
                self.notes.append("Fn::Transform (e.g. AWS::Include) content is not analyzed")
                break

    def _consumes(self, by_id: Mapping[str, _Principal]) -> None:
        tpl = self.tpl
        for fn in tpl.functions:
            for name, event in mapping(tpl.props(fn).get("Events")).items():
                event_map = mapping(event)
                if event_map.get("Type") != "SQS":
                    continue
                eprops = mapping(event_map.get("Properties"))
                queues = self.queue_nodes(eprops.get("Queue"))
                if not queues:
                    self.notes.append(
                        f"{fn}: SQS event {name} names a queue the template cannot resolve"
                    )
                enabled = eprops.get("Enabled", True)
                self._consume_edges(fn, queues, "event/SQS", enabled, by_id, None)
        for esm in tpl.ids_of("AWS::Lambda::EventSourceMapping"):
            props = tpl.props(esm)
            queues = self.queue_nodes(props.get("EventSourceArn"))
            if not queues:
                continue
            target = self.function_of(props.get("FunctionName"))
            if target is None:
                self.notes.append(f"{esm}: event source mapping to a function outside the template")
                continue
            self._consume_edges(target, queues, "esm", props.get("Enabled", True), by_id, esm)

    def _consume_edges(
        self,
        fn: str,
        queues: list[str],
        token: str,
        enabled: Any,
        by_id: Mapping[str, _Principal],
        carrier: str | None,
    ) -> None:
        p = by_id[fn]
        disabled = enabled is False or (isinstance(enabled, str) and enabled.lower() == "false")
        for queue in queues:
            p.consumed.add(queue)
            tokens = [token]
            _add(
                tokens,
                (
                    g.token
                    for g in p.grants
                    if g.capability == "sqs:receive"
                    and g.scope.kind == "exact"
                    and g.scope.node == queue
                ),
            )
            self.emit(
                "consumes",
                queue,
                fn,
                tokens,
                confidence="medium" if disabled else "high",
                conditions=self.conditions(queue, fn, carrier),
                reason="the event source mapping is disabled (Enabled: false)" if disabled else "",
            )

    def _dlq(self) -> None:
        tpl = self.tpl
        for queue in tpl.queues:
            policy = mapping(tpl.json_or_value(tpl.props(queue).get("RedrivePolicy")))
            for dlq in self.queue_nodes(policy.get("deadLetterTargetArn")):
                self.emit("dlq", queue, dlq, ["redrive"], conditions=self.conditions(queue, dlq))

    def _destinations(self) -> list[tuple[str, str]]:
        """Lambda destinations: OnSuccess -> produce edges (returned), failures -> recorded."""
        tpl = self.tpl
        on_success: list[tuple[str, str]] = []

        def record(fn: str, config: Any, carrier: str | None) -> None:
            dest = mapping(mapping(config).get("DestinationConfig"))
            for outcome in ("OnSuccess", "OnFailure"):
                for queue in self.queue_nodes(mapping(dest.get(outcome)).get("Destination")):
                    if outcome == "OnSuccess":
                        on_success.append((fn, queue))
                    else:
                        self.emit(
                            "failure_destinations",
                            fn,
                            queue,
                            ["destination/OnFailure"],
                            conditions=self.conditions(fn, queue, carrier),
                        )

        for fn in tpl.functions:
            record(fn, tpl.function_prop(fn, "EventInvokeConfig"), None)
            dlq = tpl.function_prop(fn, "DeadLetterQueue") or tpl.props(fn).get("DeadLetterConfig")
            for queue in self.queue_nodes(mapping(dlq).get("TargetArn")):
                self.emit(
                    "failure_destinations",
                    fn,
                    queue,
                    ["lambda-dlq"],
                    conditions=self.conditions(fn, queue),
                )
        for cfg in tpl.ids_of("AWS::Lambda::EventInvokeConfig"):
            owner = self.function_of(tpl.props(cfg).get("FunctionName"))
            if owner:
                record(owner, tpl.props(cfg), cfg)
        return on_success

    def _subscriptions(self) -> dict[str, list[tuple[str, bool, str | None]]]:
        """topic -> [(queue, filtered, subscription resource)]; also emits topic -> queue edges."""
        tpl = self.tpl
        subs: dict[str, list[tuple[str, bool, str | None]]] = {}
        for topic in tpl.topics:
            for sub in items(tpl.props(topic).get("Subscription")):
                sub_map = mapping(sub)
                if str(sub_map.get("Protocol", "")).lower() != "sqs":
                    continue
                for queue in self.queue_nodes(sub_map.get("Endpoint")):
                    subs.setdefault(topic, []).append((queue, False, None))
        for sid in tpl.ids_of("AWS::SNS::Subscription"):
            props = tpl.props(sid)
            if str(props.get("Protocol", "")).lower() != "sqs":
                continue
            topics = [
                s.node for s in tpl.scopes(props.get("TopicArn"), "topic") if s.kind == "exact"
            ]
            filtered = props.get("FilterPolicy") is not None
            for topic in topics:
                for queue in self.queue_nodes(props.get("Endpoint")):
                    subs.setdefault(topic, []).append((queue, filtered, sid))
        for topic, entries in subs.items():
            for queue, _, carrier in entries:
                self.emit(
                    "non_lambda_producers",
                    topic,
                    queue,
                    ["sns-subscription", *self._queue_policy(topic, queue)],
                    conditions=self.conditions(topic, queue, carrier),
                )
        return subs

    def _bus_of(self, value: Any) -> str | None:
        if value is None:
            return DEFAULT_BUS
        for scope in self.tpl.scopes(value, "bus", name_only=True):
            if scope.kind == "exact":
                return scope.node
        return None

    def _rules(self) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
        """bus -> rules, rule -> target queues, bus -> number of rules (SAM event rules too)."""
        tpl = self.tpl
        rules_on: dict[str, list[str]] = {}
        targets: dict[str, list[str]] = {}
        count: dict[str, int] = {}
        for rule in tpl.rules:
            props = tpl.props(rule)
            bus = self._bus_of(props.get("EventBusName"))
            if bus is None:
                continue
            rules_on.setdefault(bus, []).append(rule)
            count[bus] = count.get(bus, 0) + 1
            disabled = str(props.get("State", "ENABLED")).upper() == "DISABLED"
            for target in items(props.get("Targets")):
                for queue in self.queue_nodes(mapping(target).get("Arn")):
                    targets.setdefault(rule, []).append(queue)
                    self.emit(
                        "non_lambda_producers",
                        rule,
                        queue,
                        ["eventbridge-rule", *self._queue_policy(rule, queue)],
                        confidence="medium" if disabled else "high",
                        conditions=self.conditions(rule, queue),
                        reason="the rule is DISABLED" if disabled else "",
                    )
        for rid in [*tpl.functions, *tpl.state_machines]:
            for event in mapping(tpl.props(rid).get("Events")).values():
                event_map = mapping(event)
                if event_map.get("Type") in {"EventBridgeRule", "CloudWatchEvent"}:
                    bus = self._bus_of(mapping(event_map.get("Properties")).get("EventBusName"))
                    if bus is not None:
                        count[bus] = count.get(bus, 0) + 1
        return rules_on, targets, count

    def _queue_policy(self, source: str, queue: str) -> list[str]:
        """``queue-policy`` if a queue policy lets ``source`` (or its service) send to ``queue``."""
        tpl = self.tpl
        service = SERVICE_PRINCIPALS.get(tpl.type_of(source))
        for qp in tpl.ids_of("AWS::SQS::QueuePolicy"):
            props = tpl.props(qp)
            if queue not in tpl.reference_nodes(props.get("Queues")):
                continue
            for stmt in items(mapping(props.get("PolicyDocument")).get("Statement")):
                stmt_map = mapping(stmt)
                if stmt_map.get("Effect") != "Allow":
                    continue
                actions = [tpl.render(a).lower() for a in items(stmt_map.get("Action"))]
                if not any(a in {"sqs:sendmessage", "sqs:*", "*"} for a in actions):
                    continue
                cond_refs = [r for r in references(stmt_map.get("Condition")) if r in tpl.resources]
                if source in cond_refs:
                    return ["queue-policy"]
                principal = mapping(stmt_map.get("Principal"))
                services = [tpl.render(s) for s in items(principal.get("Service"))]
                if service and service in services and not cond_refs:
                    return ["queue-policy"]
        return []

    def _polling(self, principals: list[_Principal]) -> None:
        tpl = self.tpl
        for p in principals:
            if p.kind != "function":
                continue
            for node, ref_tokens in p.refs.items():
                if tpl.kind_of(node) != "queue" and not node.startswith(("param/", "import/")):
                    continue
                if node in p.consumed:
                    continue
                receive = [
                    g
                    for g in p.grants
                    if g.capability == "sqs:receive"
                    and (g.scope.kind == "any" or g.scope.node == node)
                ]
                if not receive:
                    continue
                tokens = [*ref_tokens]
                _add(tokens, (g.token for g in receive))
                conds = self.conditions(node, p.id)
                if p.code is not None and CALL_PATTERNS["sqs:receive"].search(p.code):
                    self.emit(
                        "consumes_polling", node, p.id, [*tokens, "inline-code"], conditions=conds
                    )
                elif any(g.scope.kind == "exact" for g in receive):
                    self.emit(
                        "consumes_polling",
                        node,
                        p.id,
                        tokens,
                        confidence="low",
                        conditions=conds,
                        reason=(
                            "receive permission and a reference but no event source mapping: "
                            "the code may poll the queue, or only delete/inspect messages"
                        ),
                    )

    def _apis(self) -> None:
        tpl = self.tpl
        for api in tpl.ids_of("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
            props = tpl.props(api)
            body = props.get("DefinitionBody", props.get("Body"))
            for d in tpl.iter_dicts(body):
                integ = mapping(d.get("x-amazon-apigateway-integration"))
                if integ:
                    self._api_integration(api, integ.get("uri"), integ, integ.get("credentials"))
        for method in tpl.ids_of("AWS::ApiGateway::Method"):
            props = tpl.props(method)
            integ = mapping(props.get("Integration"))
            api = next(iter(references(props.get("RestApiId"))), method)
            self._api_integration(api, integ.get("Uri"), integ, integ.get("Credentials"))
        for iid in tpl.ids_of("AWS::ApiGatewayV2::Integration"):
            props = tpl.props(iid)
            if not str(props.get("IntegrationSubtype", "")).startswith("SQS-"):
                continue
            api = next(iter(references(props.get("ApiId"))), iid)
            self._api_integration(
                api,
                "arn:aws:apigateway:*:sqs:",
                props.get("RequestParameters"),
                props.get("CredentialsArn"),
            )

    def _api_integration(self, api: str, uri: Any, integration: Any, credentials: Any) -> None:
        tpl = self.tpl
        if uri is None or ":sqs:" not in tpl.render(uri):
            return
        queues = [n for n in tpl.reference_nodes(integration) if tpl.kind_of(n) == "queue"]
        role = next(
            (r for r in references(credentials) if tpl.type_of(r) == "AWS::IAM::Role"), None
        )
        grants = role_grants(role, tpl) if role else []
        for queue in queues:
            tokens = ["apigw-integration"]
            _add(
                tokens,
                (
                    g.token
                    for g in grants
                    if g.capability == "sqs:send"
                    and g.scope.kind == "exact"
                    and g.scope.node == queue
                ),
            )
            self.emit(
                "non_lambda_producers", api, queue, tokens, conditions=self.conditions(api, queue)
            )

    def _buckets_and_schedules(self) -> None:
        tpl = self.tpl
        for bucket in tpl.ids_of("AWS::S3::Bucket"):
            notif = mapping(tpl.props(bucket).get("NotificationConfiguration"))
            for cfg in items(notif.get("QueueConfigurations")):
                for queue in self.queue_nodes(mapping(cfg).get("Queue")):
                    self.emit(
                        "non_lambda_producers",
                        bucket,
                        queue,
                        ["s3-notification", *self._queue_policy(bucket, queue)],
                        conditions=self.conditions(bucket, queue),
                    )
        for sched in tpl.ids_of("AWS::Scheduler::Schedule"):
            target = mapping(tpl.props(sched).get("Target"))
            for queue in self.queue_nodes(target.get("Arn")):
                self.emit(
                    "non_lambda_producers",
                    sched,
                    queue,
                    ["schedule"],
                    conditions=self.conditions(sched, queue),
                )

    # -- result ---------------------------------------------------------------------------------

    def _graph(self) -> Graph:
        tpl = self.tpl
        order = {rid: i for i, rid in enumerate(tpl.resources)}

        def key(e: Edge) -> tuple[int, str, int, str]:
            return (
                order.get(e.source, len(order)),
                e.source,
                order.get(e.target, len(order)),
                e.target,
            )

        def of(kind: LinkKind, store: Mapping[tuple[LinkKind, str, str], Edge]) -> tuple[Edge, ...]:
            return tuple(sorted((e for k, e in store.items() if k[0] == kind), key=key))

        # an edge proven by one construct is not also a hint
        hints = [e for k, e in self.hints.items() if k not in self.edges]
        external = sorted(
            {
                n
                for e in [*self.edges.values(), *hints]
                for n in (e.source, e.target)
                if n.startswith(("param/", "import/"))
            }
        )
        nodes = [
            *tpl.functions,
            *tpl.queues,
            *tpl.topics,
            *tpl.state_machines,
            *tpl.buses,
            *tpl.rules,
        ]
        conditional: dict[str, str] = {}
        for n in nodes:
            cond = tpl.condition_of(n)
            if cond is not None:
                conditional[n] = cond
        queue_names: dict[str, str] = {}
        for q in tpl.queues:
            qname = tpl.literal_name(q)
            if qname is not None:
                queue_names[q] = qname
        function_names: dict[str, str] = {}
        for f in tpl.functions:
            fname = tpl.literal_name(f)
            if fname is not None:
                function_names[f] = fname
        aliases = {
            f: alias
            for f in tpl.functions
            if isinstance(alias := tpl.function_prop(f, "AutoPublishAlias"), str)
        }
        hint_order: list[LinkKind] = [
            "produces",
            "consumes",
            "consumes_polling",
            "non_lambda_producers",
            "dlq",
            "failure_destinations",
        ]
        return Graph(
            functions=tuple(tpl.functions),
            queues=tuple(tpl.queues),
            external_queues=tuple(external),
            topics=tuple(tpl.topics),
            state_machines=tuple(tpl.state_machines),
            event_buses=tuple(tpl.buses),
            event_rules=tuple(tpl.rules),
            produces=of("produces", self.edges),
            consumes=of("consumes", self.edges),
            dlq=of("dlq", self.edges),
            non_lambda_producers=of("non_lambda_producers", self.edges),
            consumes_polling=of("consumes_polling", self.edges),
            failure_destinations=of("failure_destinations", self.edges),
            hints=tuple(sorted(hints, key=lambda e: (hint_order.index(e.kind), *key(e)))),
            conditional=conditional,
            queue_names=queue_names,
            function_names=function_names,
            aliases=aliases,
            notes=tuple(dict.fromkeys(self.notes)),
        )


def discover(template: Mapping[str, Any]) -> Graph:
    """The component graph of a parsed template (see ``load_template``); pure, no AWS calls."""
    return _Discovery(template).run()
