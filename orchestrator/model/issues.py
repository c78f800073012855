"""Turning pydantic validation errors into ``Issue``s: a dotted path and a message that says how
to fix it. Shared by the manifest and the dry-run scenario loaders."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from orchestrator.errors import Issue

Loc = tuple[int | str, ...]
ModelAt = Callable[[Loc], type | None]
Annotate = Callable[[Loc, str, str], str]


def path_of(loc: Sequence[int | str], data: Any = None) -> str:
    """``("components", "enrich", "to", "reads", "orders", 0)`` ->
    ``components.enrich.to.reads.orders[0]``.

    An integer is a list index (``[0]``), unless ``data`` (the validated input) shows it is a
    mapping key (YAML reads ``2:`` as a number): then it is ``.2``, like any other key. So is an
    integer just before pydantic's invalid-key marker."""
    out = ""
    node = data
    for index, part in enumerate(loc):
        if part == "[key]":  # pydantic's marker for an invalid mapping key
            continue
        is_key = isinstance(node, Mapping) or (index + 1 < len(loc) and loc[index + 1] == "[key]")
        if isinstance(part, int) and not is_key:
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
        node = _child(node, part)
    return out


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
        return node[part] if -len(node) <= part < len(node) else None
    return None


def describe(value: Any) -> str:
    """A short rendering of a user's value for an error message."""
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def known_fields(model: type | None) -> list[str]:
    fields = getattr(model, "model_fields", {})
    return sorted((f.alias or name) for name, f in fields.items())


def pydantic_issues(
    exc: ValidationError,
    *,
    model_at: ModelAt,
    fixes: Mapping[str, str] | None = None,
    annotate: Annotate | None = None,
    data: Any = None,
) -> list[Issue]:
    """One ``Issue`` per pydantic error.

    ``model_at(loc)`` names the model at a location (for "did you mean" on unknown fields),
    ``fixes`` adds how to fix a missing field, ``annotate(loc, kind, message)`` may add context,
    ``data`` (the input that was validated) tells mapping keys from list indexes in paths.
    """
    issues: list[Issue] = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        field = str(loc[-1]) if loc else ""
        if kind == "missing":
            message = f"required field `{field}` is missing"
            fix = (fixes or {}).get(field)
            message += f": {fix}" if fix else f": add `{field}`"
        elif kind == "extra_forbidden":
            known = known_fields(model_at(loc[:-1]))
            close = difflib.get_close_matches(field, known, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"allowed: {', '.join(known)}"
            message = f"unknown field `{field}`: {hint}"
        elif loc and loc[-1] == "[key]":
            key = err.get("input")
            message = (
                "a key is empty (nothing, or ~, before the colon): give the name"
                if key is None
                else f'the key {describe(key)} must be text: quote it, as in "{key}": ...'
            )
        elif kind == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            message = f"expected a mapping (key: value), got {describe(err.get('input'))}"
        elif kind == "list_type":
            message = f"expected a list such as [1, 2], got {describe(err.get('input'))}"
        else:
            message = f"{err['msg']} (got {describe(err.get('input'))})"
        if annotate is not None:
            message = annotate(loc, kind, message)
        issues.append(Issue(path_of(loc, data), message))
    return issues
