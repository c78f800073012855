"""A read-only view of a parsed template: resources by type, references, names and SAM Globals.

Everything here is syntax, not judgement: which logical IDs a value references, what text a value
renders to when unknown parts become ``*``, which node a name or ARN pattern designates. The
rules that turn that into edges live in :mod:`orchestrator.discovery.analyze`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
QUEUE_TYPE = "AWS::SQS::Queue"
TOPIC_TYPE = "AWS::SNS::Topic"
BUS_TYPE = "AWS::Events::EventBus"
RULE_TYPE = "AWS::Events::Rule"
STATE_MACHINE_TYPES = frozenset(
    {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}
)
ROLE_TYPE = "AWS::IAM::Role"
POLICY_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"})
DEFAULT_BUS = "default"

NodeKind = Literal["queue", "topic", "bus"]
ScopeKind = Literal["exact", "pattern", "any"]

#: The service part of an ARN for each kind of node a permission can name.
SERVICE_OF: Mapping[str, str] = {"queue": "sqs", "topic": "sns", "bus": "events"}

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_NAME_SUFFIX = re.compile(r"(?i)(name|url|arn)$")


@dataclass(frozen=True)
class Scope:
    """What one permission, event source or target value designates.

    ``exact``: the value references the node (``!Ref``, ``!GetAtt``, ``${X}``) or names it by its
    literal name; ``pattern``: a wildcard name or ARN matches the node's literal name; ``any``: the
    value is ``*`` (or an ARN whose resource part is ``*``) and designates every node of its kind.
    """

    kind: ScopeKind
    node: str = ""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_no_value(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("Ref") == "AWS::NoValue"


def branches(value: Any) -> list[Any]:
    """The values ``value`` may take: both branches of an ``Fn::If``, never ``AWS::NoValue``."""
    if isinstance(value, Mapping) and len(value) == 1 and "Fn::If" in value:
        args = value["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            return branches(args[1]) + branches(args[2])
    if is_no_value(value):
        return []
    return [value]


def items(value: Any) -> list[Any]:
    """List items of ``value`` (a list or a single value), each ``Fn::If`` opened up."""
    out: list[Any] = []
    for branch in branches(value):
        for item in as_list(branch):
            out.extend(branches(item))
    return out


def _sub_parts(args: Any) -> tuple[str, Mapping[str, Any]]:
    if isinstance(args, str):
        return args, {}
    if isinstance(args, list) and args and isinstance(args[0], str):
        return args[0], mapping(args[1]) if len(args) > 1 else {}
    return "", {}


def references(value: Any) -> list[str]:
    """Logical IDs and parameter names ``value`` references, in order, without duplicates.

    ``Ref``, ``Fn::GetAtt`` (list or ``A.B`` string) and ``${X}`` / ``${X.Attr}`` inside
    ``Fn::Sub`` count; pseudo parameters (``AWS::...``) and ``Fn::Sub`` local variables do not.
    ``Fn::ImportValue`` yields ``import/<rendered export name>``. Both branches of ``Fn::If`` count.
    """
    found: list[str] = []

    def add(name: Any) -> None:
        if isinstance(name, str) and name and not name.startswith("AWS::") and name not in found:
            found.append(name)

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref":
                    add(arg)
                    return
                if key == "Fn::GetAtt":
                    if isinstance(arg, list) and arg:
                        add(arg[0])
                        for extra in arg[1:]:
                            walk(extra)
                    elif isinstance(arg, str):
                        add(arg.split(".", 1)[0])
                    return
                if key == "Fn::Sub":
                    text, variables = _sub_parts(arg)
                    for var in _SUB_VAR.findall(text):
                        if var.startswith("!"):
                            continue
                        base = var.split(".", 1)[0].strip()
                        if base not in variables:
                            add(base)
                    for sub_value in variables.values():
                        walk(sub_value)
                    return
                if key == "Fn::ImportValue":
                    add(f"import/{render(arg, {})}")
                    walk(arg)
                    return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


def render(value: Any, parameters: Mapping[str, Any]) -> str:
    """The text ``value`` evaluates to, with every part not known from the template as ``*``.

    Parameters render as their ``Default`` (a guess: the deployed value may differ).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Mapping) and len(value) == 1:
        key, arg = next(iter(value.items()))
        if key == "Ref":
            return _param_default(arg, parameters)
        if key == "Fn::Sub":
            text, variables = _sub_parts(arg)

            def replace(match: re.Match[str]) -> str:
                var = match.group(1)
                if var.startswith("!"):
                    return "${" + var[1:] + "}"
                if var in variables:
                    return render(variables[var], parameters)
                if "." in var:
                    return "*"
                return _param_default(var, parameters)

            return _SUB_VAR.sub(replace, text)
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            sep, parts = arg
            if isinstance(sep, str) and isinstance(parts, list):
                return sep.join(render(part, parameters) for part in parts)
    return "*"


def _param_default(name: Any, parameters: Mapping[str, Any]) -> str:
    if name == "AWS::Partition":
        return "aws"
    spec = parameters.get(name) if isinstance(name, str) else None
    if isinstance(spec, Mapping):
        default = spec.get("Default")
        if isinstance(default, str | int | float) and not isinstance(default, bool):
            text = str(default)
            if text and not str(spec.get("Type", "")).startswith("AWS::SSM::"):
                return text
    return "*"


def arn_service_and_resource(text: str) -> tuple[str, str] | None:
    """``("sqs", "orders")`` for ``arn:aws:sqs:eu-west-2:1111:orders``; None for non-ARNs."""
    if not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) < 6:
        return (parts[2], "*") if len(parts) >= 3 and parts[-1] == "*" else None
    return parts[2], parts[5]


class Template:
    """Indexed access to one parsed template (already in long form, see ``loader``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        resources = mapping(data.get("Resources"))
        self.resources: dict[str, Mapping[str, Any]] = {
            str(k): v for k, v in resources.items() if isinstance(v, Mapping)
        }
        self.parameters: Mapping[str, Any] = mapping(data.get("Parameters"))
        self.globals_function: Mapping[str, Any] = mapping(
            mapping(data.get("Globals")).get("Function")
        )

    # -- resources ------------------------------------------------------------------------------

    def type_of(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    def ids_of(self, *types: str) -> list[str]:
        wanted = set(types)
        return [rid for rid, res in self.resources.items() if res.get("Type") in wanted]

    def props(self, logical_id: str) -> Mapping[str, Any]:
        return mapping(self.resources.get(logical_id, {}).get("Properties"))

    def condition_of(self, logical_id: str) -> str | None:
        cond = self.resources.get(logical_id, {}).get("Condition")
        return cond if isinstance(cond, str) else None

    def depends_on(self, logical_id: str) -> list[str]:
        return [d for d in as_list(self.resources.get(logical_id, {}).get("DependsOn")) if d]

    @property
    def functions(self) -> list[str]:
        return self.ids_of(*FUNCTION_TYPES)

    @property
    def queues(self) -> list[str]:
        return self.ids_of(QUEUE_TYPE)

    @property
    def topics(self) -> list[str]:
        return self.ids_of(TOPIC_TYPE)

    @property
    def buses(self) -> list[str]:
        return self.ids_of(BUS_TYPE)

    @property
    def rules(self) -> list[str]:
        return self.ids_of(RULE_TYPE)

    @property
    def state_machines(self) -> list[str]:
        return self.ids_of(*STATE_MACHINE_TYPES)

    def is_sam_function(self, logical_id: str) -> bool:
        return self.type_of(logical_id) == "AWS::Serverless::Function"

    # -- SAM Globals ----------------------------------------------------------------------------

    def function_prop(self, logical_id: str, key: str) -> Any:
        """A function property with SAM ``Globals.Function`` applied (function value wins)."""
        own = self.props(logical_id).get(key)
        if not self.is_sam_function(logical_id):
            return own
        glob = self.globals_function.get(key)
        if own is None:
            return glob
        return own

    def environment(self, logical_id: str) -> dict[str, Any]:
        """Environment variables of a function, SAM Globals merged (function wins per variable)."""
        own = mapping(mapping(self.props(logical_id).get("Environment")).get("Variables"))
        if not self.is_sam_function(logical_id):
            return dict(own)
        glob = mapping(mapping(self.globals_function.get("Environment")).get("Variables"))
        return {**glob, **own}

    # -- names ----------------------------------------------------------------------------------

    def render(self, value: Any) -> str:
        return render(value, self.parameters)

    def literal_name(self, logical_id: str) -> str | None:
        """The physical name a template fixes for a queue / topic / bus / function, if it does."""
        key = {
            QUEUE_TYPE: "QueueName",
            TOPIC_TYPE: "TopicName",
            BUS_TYPE: "Name",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
        }.get(self.type_of(logical_id))
        if key is None:
            return None
        value = self.props(logical_id).get(key)
        if value is None:
            return None
        text = self.render(value)
        return None if "*" in text or not text else text

    def nodes_of_kind(self, kind: NodeKind) -> list[str]:
        if kind == "queue":
            return self.queues
        if kind == "topic":
            return self.topics
        return [*self.buses, DEFAULT_BUS]

    def kind_of(self, node: str) -> NodeKind | None:
        if node == DEFAULT_BUS:
            return "bus"
        rtype = self.type_of(node)
        if rtype == QUEUE_TYPE:
            return "queue"
        if rtype == TOPIC_TYPE:
            return "topic"
        if rtype == BUS_TYPE:
            return "bus"
        return None

    # -- external queues (parameters, imports) --------------------------------------------------

    def external_queue(self, name: str) -> str:
        """The node of an out-of-stack queue reached through a parameter or an import.

        Parameters that name the same queue differently (``MainQueueName`` / ``MainQueueURL`` /
        ``MainQueueArn``) share one node, ``param/MainQueueName+MainQueueURL``.
        """
        if name.startswith("import/"):
            return name
        stem = _stem(name)
        group = sorted(str(p) for p in self.parameters if _stem(str(p)) == stem)
        if name not in group:
            group = [name]
        return "param/" + "+".join(group)

    def is_parameter(self, name: str) -> bool:
        return name in self.parameters

    def reference_nodes(self, value: Any) -> list[str]:
        """Graph nodes ``value`` references: resources, external queues for queue-ish parameters."""
        out: list[str] = []
        for ref in references(value):
            if ref in self.resources:
                node = ref
            elif ref.startswith("import/") or (self.is_parameter(ref) and _queue_ish(ref)):
                node = self.external_queue(ref)
            else:
                continue
            if node not in out:
                out.append(node)
        literal = value if isinstance(value, str) else None
        if literal:
            out.extend(n for n in self._literal_matches(literal) if n not in out)
        return out

    def _literal_matches(self, text: str) -> list[str]:
        """Queues / topics whose literal name ends a literal URL or ARN or equals the text."""
        tail = re.split(r"[/:]", text.rstrip("/"))[-1]
        if not tail or "*" in tail:
            return []
        return [n for n in [*self.queues, *self.topics] if self.literal_name(n) == tail]

    # -- scopes ---------------------------------------------------------------------------------

    def scopes(self, value: Any, kind: NodeKind, *, name_only: bool = False) -> list[Scope]:
        """What ``value`` (a Resource item, a policy-template parameter, an event source)
        designates among nodes of ``kind``. ``name_only``: the value is a bare name (SAM policy
        template parameters such as ``QueueName``), not an ARN or URL.
        """
        out: list[Scope] = []
        for item in items(value):
            for scope in self._item_scopes(item, kind, name_only=name_only):
                if scope not in out:
                    out.append(scope)
        return out

    def _item_scopes(self, item: Any, kind: NodeKind, *, name_only: bool) -> list[Scope]:
        refs = references(item)
        exact: list[Scope] = []
        other_resource = False
        for ref in refs:
            if ref.startswith("import/"):
                if kind == "queue":
                    exact.append(Scope("exact", self.external_queue(ref)))
                continue
            if ref in self.resources:
                if self.kind_of(ref) == kind:
                    exact.append(Scope("exact", ref))
                elif kind == "bus" and self.type_of(ref) == RULE_TYPE:
                    continue
                else:
                    other_resource = True
            elif self.is_parameter(ref) and (item == {"Ref": ref} or _queue_ish(ref)):
                # a parameter standing for a whole name/ARN: an out-of-stack node
                if kind == "queue":
                    exact.append(Scope("exact", self.external_queue(ref)))
                else:
                    other_resource = True
        if exact:
            return exact
        if other_resource:
            return []
        text = self.render(item)
        if text == "*":
            return [Scope("any")]
        service = SERVICE_OF[kind]
        name = text
        parsed = arn_service_and_resource(text)
        if parsed is not None:
            arn_service, resource = parsed
            if not fnmatch.fnmatchcase(service, arn_service.lower()):
                return []
            name = resource
            if kind == "bus" and name.startswith("event-bus/"):
                name = name[len("event-bus/") :]
        elif not name_only:
            if text.startswith("https://") and kind == "queue":
                name = text.rstrip("/").rsplit("/", 1)[-1]
            elif "*" in text and kind != "bus":
                return []  # not an ARN, not a name: e.g. a rendered unrelated value
        if name == "*":
            return [Scope("any")]
        if kind == "bus" and name == DEFAULT_BUS:
            return [Scope("exact", DEFAULT_BUS)]
        wild = "*" in name or "?" in name
        matched = [
            node
            for node in self.nodes_of_kind(kind)
            if (lit := self.literal_name(node)) is not None
            and (fnmatch.fnmatchcase(lit, name) if wild else lit == name)
        ]
        return [Scope("pattern" if wild else "exact", node) for node in matched]

    # -- misc -----------------------------------------------------------------------------------

    def json_or_value(self, value: Any) -> Any:
        """A property that may be a JSON string (old ``RedrivePolicy`` style) as data."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def iter_dicts(self, value: Any) -> Iterator[Mapping[str, Any]]:
        if isinstance(value, Mapping):
            yield value
            for child in value.values():
                yield from self.iter_dicts(child)
        elif isinstance(value, list):
            for child in value:
                yield from self.iter_dicts(child)


def _queue_ish(parameter: str) -> bool:
    return bool(re.search(r"(?i)queue|sqs|dlq", parameter))


def _stem(parameter: str) -> str:
    """``mainqueue`` for ``MainQueueName``, ``MainQueueURL`` and ``MainQueueArn``."""
    return (_NAME_SUFFIX.sub("", parameter) or parameter).lower()
