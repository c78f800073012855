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


def path_of(loc: Sequence[int | str]) -> str:
    """``("components", "enrich", "to", "reads", "orders", 0)`` ->
    ``components.enrich.to.reads.orders[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for an invalid mapping key
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


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
) -> list[Issue]:
    """One ``Issue`` per pydantic error.

    ``model_at(loc)`` names the model at a location (for "did you mean" on unknown fields),
    ``fixes`` adds how to fix a missing field, ``annotate(loc, kind, message)`` may add context.
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
        issues.append(Issue(path_of(loc), message))
    return issues
