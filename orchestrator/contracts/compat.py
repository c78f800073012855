"""Schema Registry compatibility of two message schemas, field by field, from their JSON Schemas.

``backward``: a reader of NEW parses every message written as OLD; ``forward``: a reader of OLD
parses every message written as NEW; ``mode`` is ``FULL`` (both), ``BACKWARD``, ``FORWARD`` or
``NONE``, as in Confluent's and Glue's Schema Registries.

The rules, for JSON Schemas as pydantic emits them (``Model.model_json_schema()``) or as files:

* a writer emits the properties its schema declares (a pydantic model dumps its fields only); a
  reader ignores properties it does not declare unless its schema sets ``additionalProperties:
  false`` (pydantic ``extra="forbid"``): pydantic's default, extra fields ignored, is the reading
  rule;
* a field a schema does not require may be absent from that schema's messages (data is judged by
  the schema, not by what one producer happens to emit), so adding a default is backward
  compatible but not forward compatible;
* a type is compared by the set of values it admits: ``type``, ``anyOf``/``oneOf`` unions,
  ``enum``/``const``, and the constraints ``minLength``/``maxLength``, ``minimum``/``maximum``
  (and exclusive ones), ``multipleOf``, ``pattern``, ``format``, ``minItems``/``maxItems``,
  ``uniqueItems``, ``minProperties``/``maxProperties``; objects and arrays field by field
  (``$ref`` followed, recursion guarded).

Anything else that differs (``prefixItems``, ``allOf`` of several, ``not``, ``if``/``then``,
``patternProperties`` ...) is reported as ``changed (not analysed)`` and counted incompatible both
ways: the check never claims what it cannot show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "discriminator",
    }
)
_LOWER = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_UPPER = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")
_ANALYSED = (
    _ANNOTATIONS
    | set(_LOWER)
    | set(_UPPER)
    | set(_EXACT)
    | {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"}
    | {"properties", "required", "additionalProperties", "items", "uniqueItems"}
)
_MISSING = object()

ADDED_REQUIRED = "added required field"
ADDED_OPTIONAL = "added optional field"
REMOVED = "removed field"
DEFAULT_ADDED = "default added"
MADE_OPTIONAL = "made optional"
DEFAULT_REMOVED = "default removed"
MADE_REQUIRED = "made required"
DEFAULT_CHANGED = "default changed"
NARROWED = "type narrowed"
WIDENED = "type widened"
TYPE_CHANGED = "type changed"
ENUM_REMOVED = "enum value removed"
ENUM_ADDED = "enum value added"
EXTRA_FORBIDDEN = "extra fields forbidden"
EXTRA_ALLOWED = "extra fields allowed"
NOT_ANALYSED = "changed (not analysed)"


@dataclass(frozen=True)
class Change:
    """One difference between OLD and NEW, and which directions it keeps readable."""

    field: str
    change: str
    backward: bool
    forward: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "change": self.change,
            "backward": self.backward,
            "forward": self.forward,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Compatibility:
    """The verdict on OLD -> NEW."""

    changes: list[Change] = field(default_factory=list)
    old: str = "OLD"
    new: str = "NEW"

    @property
    def backward(self) -> bool:
        """A reader of NEW parses data written as OLD."""
        return all(c.backward for c in self.changes)

    @property
    def forward(self) -> bool:
        """A reader of OLD parses data written as NEW."""
        return all(c.forward for c in self.changes)

    @property
    def mode(self) -> str:
        if self.backward and self.forward:
            return "FULL"
        if self.backward:
            return "BACKWARD"
        if self.forward:
            return "FORWARD"
        return "NONE"

    def advice(self) -> list[str]:
        """What order of releases this change allows (the planner's rules), or expand/contract."""
        old, new = self.old, self.new
        if self.mode == "FULL":
            return [
                f"readers of either parse both: {old} and {new} writers and readers may switch "
                "in any order"
            ]
        fixes = [_fix(c) for c in self.changes if not (c.backward and c.forward)]
        fixes = [f for f in fixes if f]
        if self.mode == "BACKWARD":
            return [
                f"a reader of {new} parses {old} data, not the reverse: consumer first. Release "
                f"the consumers reading both versions (an upgrade {old} -> {new} can be "
                f"`{new}.model_validate(old.model_dump())`), then the producers that write {new}",
                *fixes,
            ]
        if self.mode == "FORWARD":
            return [
                f"a reader of {old} parses {new} data, not the reverse: producer first. Consumers "
                f"still on {old} read what the new producers write; a consumer that reads only "
                f"{new} may go live once the queue is drained of {old}",
                *fixes,
            ]
        return [
            f"neither direction is readable, so no order of one release is safe. Expand/contract "
            f"in releases: (1) expand: release the consumers with a handler for {old} and one "
            f"for {new} (or an upgrade {old} -> {new}), declaring both versions in reads; "
            f"(2) release the producers writing {new} (the plan puts the consumers first); "
            f"(3) contract: once the queues are drained of {old}, a later release may drop "
            f"the {old} handler",
            *fixes,
        ]

    def contract(self) -> dict[str, Any]:
        """The JSON document of ``rollout schema-check --format json``."""
        return {
            "old": self.old,
            "new": self.new,
            "mode": self.mode,
            "backward": self.backward,
            "forward": self.forward,
            "changes": [c.as_dict() for c in self.changes],
            "advice": self.advice(),
        }


def _fix(change: Change) -> str:
    where = f"`{change.field}`" if change.field else "the message"
    if change.change == ADDED_REQUIRED:
        return f"give {where} a default in the new model to make it backward compatible"
    if change.change == REMOVED and not change.forward:
        return (
            f"keep {where} (optional) in the new model, or make it optional in a release "
            "before removing it, to stay forward compatible"
        )
    if change.change == DEFAULT_ADDED:
        return f"{where} may now be absent: old readers that require it fail on messages without it"
    if change.change in (NARROWED, ENUM_REMOVED):
        return f"{where}: old messages may carry values the new model refuses"
    if change.change in (WIDENED, ENUM_ADDED):
        return f"{where}: new messages may carry values old readers refuse"
    return ""


def json_schema_of(model: Any) -> dict[str, Any]:
    """The JSON Schema (validation mode) of a pydantic model class, or any type pydantic knows."""
    from pydantic import BaseModel, TypeAdapter

    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_json_schema()
    return TypeAdapter(model).json_schema()


def compare_schemas(
    old: Mapping[str, Any], new: Mapping[str, Any], *, old_name: str = "OLD", new_name: str = "NEW"
) -> Compatibility:
    """Compare two JSON Schemas; see the module docstring for the rules."""
    walker = _Walker(_Side(old), _Side(new))
    walker.diff(old, new, "")
    return Compatibility(changes=walker.changes, old=old_name, new=new_name)


def compare_models(old: Any, new: Any) -> Compatibility:
    """Compare two pydantic models (or types) by their JSON Schemas."""
    return compare_schemas(
        json_schema_of(old),
        json_schema_of(new),
        old_name=getattr(old, "__name__", "OLD"),
        new_name=getattr(new, "__name__", "NEW"),
    )


# -- the walk -----------------------------------------------------------------------------------


class _Side:
    """One root schema, for resolving its ``$ref``s."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Any) -> tuple[dict[str, Any], str | None]:
        """``schema`` with ``$ref`` (and a one-element ``allOf``) followed; and the ref's name."""
        if schema is True or schema is None:
            return {}, None
        if not isinstance(schema, Mapping):
            return {"not": {}}, None
        current = dict(schema)
        ref_name: str | None = None
        for _ in range(32):
            if "$ref" in current:
                ref = str(current.pop("$ref"))
                target = self._pointer(ref)
                ref_name = ref
                siblings = {k: v for k, v in current.items() if k not in _ANNOTATIONS}
                current = {**dict(target), **siblings}
                continue
            all_of = current.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1:
                current.pop("allOf")
                inner = all_of[0] if isinstance(all_of[0], Mapping) else {}
                current = {**dict(inner), **current}
                continue
            break
        return current, ref_name

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {"$comment": f"external ref {ref}", "not-analysed": ref}
        node: Any = self.root
        for part in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                return {"not-analysed": ref}
            node = node[part]
        return node if isinstance(node, Mapping) else {}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind(alt: Mapping[str, Any]) -> str:
    if "type" in alt:
        return str(alt["type"])
    if "properties" in alt or "additionalProperties" in alt or "required" in alt:
        return "object"
    if "items" in alt:
        return "array"
    if "enum" in alt or "const" in alt:
        values = alt.get("enum", [alt.get("const")])
        kinds = {_value_kind(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else "any"
    return "any"


def _value_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _values(alt: Mapping[str, Any]) -> list[Any] | None:
    if "const" in alt:
        return [alt["const"]]
    if "enum" in alt:
        return list(alt["enum"])
    return None


def _type_matches(reader: str, writer: str) -> bool:
    return reader == "any" or reader == writer or (reader == "number" and writer == "integer")


def _constraints_cover(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> bool:
    for key in _LOWER:
        if key in reader and not (key in writer and writer[key] >= reader[key]):
            return False
    for key in _UPPER:
        if key in reader and not (key in writer and writer[key] <= reader[key]):
            return False
    for key in _EXACT:
        if key in reader and writer.get(key, _MISSING) != reader[key]:
            return False
    return not (reader.get("uniqueItems") and not writer.get("uniqueItems"))


def _alt_covers(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> bool:
    r_kind, w_kind = _kind(reader), _kind(writer)
    if r_kind == "any" and not (set(reader) - _ANNOTATIONS):
        return True
    if w_kind == "any":
        return False
    if not _type_matches(r_kind, w_kind):
        r_values = _values(reader)
        w_values = _values(writer)
        return r_values is not None and w_values is not None and _subset(w_values, r_values)
    r_values, w_values = _values(reader), _values(writer)
    if r_values is not None and (w_values is None or not _subset(w_values, r_values)):
        return False
    if w_values is not None and r_values is None:
        return True  # a fixed set of values of a type the reader takes (constraints aside)
    return _constraints_cover(reader, writer)


def _subset(values: list[Any], of: list[Any]) -> bool:
    return all(any(v == o and type(v) is type(o) for o in of) for v in values)


def _covers(readers: list[dict[str, Any]], writers: list[dict[str, Any]]) -> bool:
    return all(any(_alt_covers(r, w) for r in readers) for w in writers)


def _describe(alts: list[dict[str, Any]]) -> str:
    parts = []
    for alt in alts:
        values = _values(alt)
        if values is not None:
            parts.append("enum[" + ", ".join(repr(v) for v in values) + "]")
            continue
        text = _kind(alt)
        limits = [f"{k}={alt[k]}" for k in (*_LOWER, *_UPPER, *_EXACT, "uniqueItems") if k in alt]
        parts.append(f"{text}({', '.join(limits)})" if limits else text)
    return " | ".join(parts) or "nothing"


class _Walker:
    def __init__(self, old: _Side, new: _Side) -> None:
        self.old = old
        self.new = new
        self.changes: list[Change] = []
        self._active: set[tuple[str, str]] = set()

    def add(self, path: str, change: str, backward: bool, forward: bool, detail: str = "") -> None:
        self.changes.append(Change(path, change, backward, forward, detail))

    def alternatives(self, side: _Side, schema: Any) -> list[dict[str, Any]]:
        resolved, _ = side.resolve(schema)
        union = resolved.get("anyOf") or resolved.get("oneOf")
        if isinstance(union, list):
            out: list[dict[str, Any]] = []
            for member in union:
                out.extend(self.alternatives(side, member))
            return out
        types = resolved.get("type")
        if isinstance(types, list):
            return [{**resolved, "type": t} for t in types]
        return [resolved]

    def diff(self, old: Any, new: Any, path: str) -> None:
        o_resolved, o_ref = self.old.resolve(old)
        n_resolved, n_ref = self.new.resolve(new)
        key = (o_ref or "", n_ref or "")
        if o_ref and n_ref:
            if key in self._active:
                return  # a recursive model: this pair is being compared further up
            self._active.add(key)
        try:
            self._diff(o_resolved, n_resolved, path)
        finally:
            self._active.discard(key)

    def _diff(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        o_alts, n_alts = self.alternatives(self.old, old), self.alternatives(self.new, new)
        unknown = sorted(
            k for alt_set in (o_alts, n_alts) for alt in alt_set for k in alt if k not in _ANALYSED
        )
        if unknown:
            o_extra = [{k: a.get(k) for k in unknown} for a in o_alts]
            n_extra = [{k: a.get(k) for k in unknown} for a in n_alts]
            if o_extra != n_extra:
                self.add(path, NOT_ANALYSED, False, False, "keywords " + ", ".join(set(unknown)))
                return
        for kind in ("object", "array"):
            o_kind = [a for a in o_alts if _kind(a) == kind]
            n_kind = [a for a in n_alts if _kind(a) == kind]
            if len(o_kind) == 1 and len(n_kind) == 1:
                if kind == "object":
                    self._diff_object(o_kind[0], n_kind[0], path)
                else:
                    items_o, items_n = o_kind[0].get("items", True), n_kind[0].get("items", True)
                    self.diff(items_o, items_n, f"{path}[]")
            elif (len(o_kind) > 1 or len(n_kind) > 1) and o_kind != n_kind:
                self.add(path, NOT_ANALYSED, False, False, f"a union of several {kind} schemas")
                return
        backward = _covers(n_alts, o_alts)
        forward = _covers(o_alts, n_alts)
        if backward and forward:
            return
        o_values = [v for a in o_alts for v in (_values(a) or [])]
        n_values = [v for a in n_alts for v in (_values(a) or [])]
        o_plain = [a for a in o_alts if _values(a) is None]
        n_plain = [a for a in n_alts if _values(a) is None]
        enums = (
            bool(o_values)
            and bool(n_values)
            and _covers(n_plain, o_plain)
            and _covers(o_plain, n_plain)
        )
        if enums:
            removed = [v for v in o_values if not _subset([v], n_values)]
            added = [v for v in n_values if not _subset([v], o_values)]
            if removed:
                self.add(path, ENUM_REMOVED, False, True, ", ".join(repr(v) for v in removed))
            if added:
                self.add(path, ENUM_ADDED, True, False, ", ".join(repr(v) for v in added))
            if removed or added:
                return
        detail = f"{_describe(o_alts)} -> {_describe(n_alts)}"
        if backward:
            self.add(path, WIDENED, True, False, detail)
        elif forward:
            self.add(path, NARROWED, False, True, detail)
        else:
            self.add(path, TYPE_CHANGED, False, False, detail)

    def _diff_object(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        o_props: dict[str, Any] = dict(old.get("properties") or {})
        n_props: dict[str, Any] = dict(new.get("properties") or {})
        o_req, n_req = set(old.get("required") or ()), set(new.get("required") or ())
        o_open = old.get("additionalProperties", True) is not False
        n_open = new.get("additionalProperties", True) is not False
        for name in sorted(set(n_props) - set(o_props)):
            here = _join(path, name)
            closed = "" if o_open else f"; {self._name('old')} forbids extra fields"
            if name in n_req:
                self.add(here, ADDED_REQUIRED, False, o_open, f"old messages lack it{closed}")
            else:
                default = self.new.resolve(n_props[name])[0].get("default", _MISSING)
                shown = "" if default is _MISSING else f"default {default!r}"
                self.add(here, ADDED_OPTIONAL, True, o_open, (shown + closed).lstrip("; "))
        for name in sorted(set(o_props) - set(n_props)):
            here = _join(path, name)
            was = "was required" if name in o_req else "was optional"
            closed = "" if n_open else f"; {self._name('new')} forbids extra fields"
            self.add(here, REMOVED, n_open, name not in o_req, was + closed)
        for name in sorted(set(o_props) & set(n_props)):
            here = _join(path, name)
            o_field, n_field = (
                self.old.resolve(o_props[name])[0],
                self.new.resolve(n_props[name])[0],
            )
            o_default = o_field.get("default", _MISSING)
            n_default = n_field.get("default", _MISSING)
            if name in o_req and name not in n_req:
                if n_default is not _MISSING:
                    self.add(here, DEFAULT_ADDED, True, False, f"default {n_default!r}")
                else:
                    self.add(here, MADE_OPTIONAL, True, False)
            elif name not in o_req and name in n_req:
                if o_default is not _MISSING:
                    self.add(here, DEFAULT_REMOVED, False, True, f"was {o_default!r}")
                else:
                    self.add(here, MADE_REQUIRED, False, True)
            elif (
                name not in o_req
                and o_default is not _MISSING
                and n_default is not _MISSING
                and o_default != n_default
            ):
                self.add(here, DEFAULT_CHANGED, True, True, f"{o_default!r} -> {n_default!r}")
            self.diff(o_props[name], n_props[name], here)
        o_map, n_map = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(o_map, Mapping) and isinstance(n_map, Mapping):
            self.diff(o_map, n_map, f"{path}.*" if path else "*")
        if o_open and not n_open:
            self.add(path, EXTRA_FORBIDDEN, True, True, "the new model rejects unknown fields")
        elif n_open and not o_open:
            self.add(path, EXTRA_ALLOWED, True, True, "the new model ignores unknown fields")

    @staticmethod
    def _name(side: str) -> str:
        return "OLD" if side == "old" else "NEW"
