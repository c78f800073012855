"""Permissions a principal (function, state machine, API role) holds on queues, topics and buses.

A :class:`Grant` is one capability (send to a queue, receive from a queue, publish to a topic, put
events on a bus) with the scope it applies to and the evidence token of the construct granting it:

* SAM policy templates in ``Policies``: ``SQSSendMessagePolicy``, ``SQSPollerPolicy``,
  ``SNSPublishMessagePolicy``, ``SNSCrudPolicy``, ``EventBridgePutEventsPolicy``
  -> ``policy/<name>``;
* inline statements (SAM ``Policies: - Statement: ...`` or a role's ``Policies``)
  -> ``policy/inline``;
* AWS managed policies by name or ARN (``AmazonSQSFullAccess``...) -> ``policy/managed-<name>``,
  always unscoped;
* standalone ``AWS::IAM::Policy`` / ``AWS::IAM::ManagedPolicy`` attached to the principal's role
  (``Roles``, or the role's ``ManagedPolicyArns``) -> ``iam-policy/<logical id>``;
* SAM connectors (``AWS::Serverless::Connector`` and embedded ``Connectors``) -> ``connector``.

``Deny`` statements are ignored (a limit: a deny never removes an edge); ``NotResource`` counts as
unscoped; ``NotAction`` grants every capability it does not exclude.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.discovery.template import (
    POLICY_TYPES,
    ROLE_TYPE,
    NodeKind,
    Scope,
    Template,
    as_list,
    items,
    mapping,
    references,
)

Capability = Literal["sqs:send", "sqs:receive", "sns:publish", "events:put"]

#: The IAM action each capability needs, and the kind of node it applies to.
CAPABILITIES: Mapping[Capability, tuple[str, NodeKind]] = {
    "sqs:send": ("sqs:sendmessage", "queue"),
    "sqs:receive": ("sqs:receivemessage", "queue"),
    "sns:publish": ("sns:publish", "topic"),
    "events:put": ("events:putevents", "bus"),
}

#: SAM policy templates: name -> (capability, parameter naming the resource).
SAM_POLICY_TEMPLATES: Mapping[str, tuple[tuple[Capability, str], ...]] = {
    "SQSSendMessagePolicy": (("sqs:send", "QueueName"),),
    "SQSPollerPolicy": (("sqs:receive", "QueueName"),),
    "SNSPublishMessagePolicy": (("sns:publish", "TopicName"),),
    "SNSCrudPolicy": (("sns:publish", "TopicName"),),
    "EventBridgePutEventsPolicy": (("events:put", "EventBusName"),),
}

#: What a connector's ``Write`` permission allows on each kind of destination.
WRITE_CAPABILITY: Mapping[NodeKind, Capability] = {
    "queue": "sqs:send",
    "topic": "sns:publish",
    "bus": "events:put",
}

_ALL: tuple[Capability, ...] = ("sqs:send", "sqs:receive", "sns:publish", "events:put")

#: AWS managed policies that grant a capability on every resource.
MANAGED_POLICIES: Mapping[str, tuple[Capability, ...]] = {
    "AmazonSQSFullAccess": ("sqs:send", "sqs:receive"),
    "AWSLambdaSQSQueueExecutionRole": ("sqs:receive",),
    "AmazonSNSFullAccess": ("sns:publish",),
    "AmazonEventBridgeFullAccess": ("events:put",),
    "CloudWatchEventsFullAccess": ("events:put",),
    "AdministratorAccess": _ALL,
    "PowerUserAccess": _ALL,
}


@dataclass(frozen=True)
class Grant:
    """``capability`` on ``scope``, granted by ``token``; ``role`` when it comes through a role."""

    capability: Capability
    scope: Scope
    token: str
    role: str | None = None
    carrier: str | None = (
        None  # logical id of a standalone resource carrying it (policy, connector)
    )


def _actions_match(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, p.lower()) for p in patterns)


def statement_grants(
    statement: Any,
    token: str,
    tpl: Template,
    *,
    role: str | None = None,
    carrier: str | None = None,
) -> list[Grant]:
    """Grants of one IAM policy statement."""
    if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
        return []
    actions = [tpl.render(a) for a in items(statement.get("Action"))]
    not_actions = [tpl.render(a) for a in items(statement.get("NotAction"))]
    caps: list[Capability] = []
    for cap, (action, _) in CAPABILITIES.items():
        granted = (
            _actions_match(actions, action)
            if actions
            else bool(not_actions) and not _actions_match(not_actions, action)
        )
        if granted:
            caps.append(cap)
    if not caps:
        return []
    out: list[Grant] = []
    for cap in caps:
        kind = CAPABILITIES[cap][1]
        if "NotResource" in statement:
            scopes = [Scope("any")]
        else:
            scopes = tpl.scopes(statement.get("Resource"), kind)
        out.extend(Grant(cap, s, token, role, carrier) for s in scopes)
    return out


def document_grants(
    document: Any, token: str, tpl: Template, *, role: str | None = None, carrier: str | None = None
) -> list[Grant]:
    out: list[Grant] = []
    for statement in items(mapping(document).get("Statement")):
        out.extend(statement_grants(statement, token, tpl, role=role, carrier=carrier))
    return out


def managed_policy_name(text: str) -> str:
    """``AmazonSQSFullAccess`` for ``arn:aws:iam::aws:policy/AmazonSQSFullAccess`` or the name."""
    return text.rsplit("/", 1)[-1]


def managed_grants(value: Any, tpl: Template, *, role: str | None = None) -> list[Grant]:
    """Grants of one entry of ``ManagedPolicyArns`` or of a SAM ``Policies`` string."""
    refs = [r for r in references(value) if tpl.type_of(r) in POLICY_TYPES]
    if refs:
        out: list[Grant] = []
        for ref in refs:
            doc = tpl.props(ref).get("PolicyDocument")
            out.extend(document_grants(doc, f"iam-policy/{ref}", tpl, role=role, carrier=ref))
        return out
    name = managed_policy_name(tpl.render(value))
    caps = MANAGED_POLICIES.get(name, ())
    return [Grant(cap, Scope("any"), f"policy/managed-{name}", role) for cap in caps]


def sam_policies_grants(policies: Any, tpl: Template) -> list[Grant]:
    """Grants of a SAM function / state machine ``Policies`` property."""
    out: list[Grant] = []
    for entry in items(policies):
        if isinstance(entry, Mapping) and "Statement" in entry:
            out.extend(document_grants(entry, "policy/inline", tpl))
        elif isinstance(entry, Mapping) and len(entry) == 1:
            name, params = next(iter(entry.items()))
            if name in SAM_POLICY_TEMPLATES:
                for cap, param in SAM_POLICY_TEMPLATES[name]:
                    kind = CAPABILITIES[cap][1]
                    value = mapping(params).get(param)
                    for scope in tpl.scopes(value, kind, name_only=True):
                        out.append(Grant(cap, scope, f"policy/{name}"))
            elif name in {"Ref", "Fn::Sub", "Fn::Join", "Fn::GetAtt"}:
                out.extend(managed_grants(entry, tpl))
        elif isinstance(entry, str):
            out.extend(managed_grants(entry, tpl))
    return out


def role_grants(role: str, tpl: Template) -> list[Grant]:
    """Grants of an ``AWS::IAM::Role`` of the template, plus standalone policies attached to it.

    ``role`` may also be a SAM implicit role (``<Function>Role``), which only standalone policies
    can name.
    """
    out: list[Grant] = []
    props = tpl.props(role) if tpl.type_of(role) == ROLE_TYPE else {}
    for policy in items(props.get("Policies")):
        out.extend(
            document_grants(mapping(policy).get("PolicyDocument"), "policy/inline", tpl, role=role)
        )
    for arn in items(props.get("ManagedPolicyArns")):
        out.extend(managed_grants(arn, tpl, role=role))
    literal_role_name = tpl.render(props.get("RoleName")) if props.get("RoleName") else None
    for pid in tpl.ids_of(*POLICY_TYPES):
        attached = items(tpl.props(pid).get("Roles"))
        if any(
            role in references(r) or (literal_role_name and r == literal_role_name)
            for r in attached
        ):
            doc = tpl.props(pid).get("PolicyDocument")
            out.extend(document_grants(doc, f"iam-policy/{pid}", tpl, role=role, carrier=pid))
    return out


def role_of(principal: str, tpl: Template) -> str | None:
    """The role a function / state machine runs as: a template role, or SAM's implicit one."""
    props = tpl.props(principal)
    value = props.get("Role") if "Role" in props else props.get("RoleArn")
    if value is not None:
        for ref in references(value):
            if tpl.type_of(ref) == ROLE_TYPE:
                return ref
        if isinstance(value, str):
            name = value.rsplit("/", 1)[-1]
            for rid in tpl.ids_of(ROLE_TYPE):
                role_name = tpl.props(rid).get("RoleName")
                if role_name is not None and tpl.render(role_name) == name:
                    return rid
        return None  # an out-of-stack role: its permissions are unknown
    if tpl.type_of(principal).startswith("AWS::Serverless::"):
        return f"{principal}Role"
    return None


def connector_grants(principal: str, tpl: Template) -> list[Grant]:
    """Grants SAM connectors give ``principal`` as their source."""
    out: list[Grant] = []
    specs: list[tuple[str | None, Mapping[str, Any]]] = []
    for cid in tpl.ids_of("AWS::Serverless::Connector"):
        props = tpl.props(cid)
        source = mapping(props.get("Source"))
        if source.get("Id") == principal or principal in references(source.get("Arn")):
            specs.append((cid, props))
    for embedded in mapping(tpl.resources.get(principal, {}).get("Connectors")).values():
        specs.append((None, mapping(mapping(embedded).get("Properties"))))
    for carrier, props in specs:
        permissions = {str(p) for p in as_list(props.get("Permissions"))}
        for dest in as_list(props.get("Destination")):
            dest_map = mapping(dest)
            target = dest_map.get("Id")
            nodes = [target] if isinstance(target, str) else references(dest_map.get("Arn"))
            for node in nodes:
                kind = tpl.kind_of(node)
                if kind is None:
                    continue
                scope = Scope("exact", node)
                if "Write" in permissions:
                    out.append(Grant(WRITE_CAPABILITY[kind], scope, "connector", carrier=carrier))
                if "Read" in permissions and kind == "queue":
                    out.append(Grant("sqs:receive", scope, "connector", carrier=carrier))
    return out


def principal_grants(principal: str, tpl: Template) -> tuple[list[Grant], str | None]:
    """Every grant of a function or state machine, and the role they come through (if any).

    A SAM resource with an explicit ``Role`` ignores its ``Policies`` (as SAM does).
    """
    props = tpl.props(principal)
    role = role_of(principal, tpl)
    grants: list[Grant] = []
    explicit_role = "Role" in props or "RoleArn" in props
    if tpl.type_of(principal).startswith("AWS::Serverless::") and not explicit_role:
        grants.extend(sam_policies_grants(props.get("Policies"), tpl))
    if role is not None:
        grants.extend(role_grants(role, tpl))
    grants.extend(connector_grants(principal, tpl))
    return grants, role
