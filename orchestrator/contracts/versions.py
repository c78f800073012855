"""Schema versions as the manifest spells them: an integer (``2``) or a short token (``"v2"``).

``"2"`` is normalised to ``2`` (a message attribute always carries text), so a version read off a
message compares equal to the one a handler registered and to the one a manifest lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Schema = int | str
"""A schema version: a non-negative integer, or a token of ``[A-Za-z0-9._-]{1,32}``."""

_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")


def schema_version(value: object) -> Schema:
    """``value`` as a schema version; ``ValueError`` when it is none."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a schema version (expected e.g. 2 or 'v2')")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"schema versions must not be negative, got {value}")
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if _TOKEN.match(text):
            return text
    raise ValueError(f"{value!r} is not a schema version (expected e.g. 2 or 'v2')")


def schema_key(schema: Schema) -> tuple[int, int, str]:
    """Sort key: numbers first in numeric order, then tokens (the manifest's order)."""
    return (0, schema, "") if isinstance(schema, int) else (1, 0, schema)


def sorted_schemas(schemas: Iterable[object]) -> list[Schema]:
    """Distinct schema versions, sorted by :func:`schema_key`."""
    return sorted({schema_version(s) for s in schemas}, key=schema_key)


def schema_text(schema: Schema) -> str:
    """The version as a message attribute or a metric dimension carries it."""
    return str(schema)
