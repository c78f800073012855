"""Judging a smoke invocation against ``components.<name>.smoke.expect`` (pure).

A smoke test invokes the new version directly before the alias gives it any weight
(``steps/prepare_shift.py``). Its answer passes when the status is the expected one, the function
did not raise (unless ``expect.error``), and the response payload contains ``expect.payload``:
a mapping matches when each of its keys matches (extra keys in the response are fine), a list
element by element with the same length, anything else by equality.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.model.manifest import SmokeExpect
    from orchestrator.ports import InvokeResult

MAX_SHOWN = 200
"""Characters of a value quoted in a reason."""


def shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` does not contain ``expected`` (JSONPath-like locations)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {shown(actual)}"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing (expected {shown(value)})")
            else:
                out.extend(mismatches(value, actual[key], f"{path}.{key}"))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {shown(expected)}, got {shown(actual)}"]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in mismatches(e, a, f"{path}[{i}]")
        ]
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return [f"{path}: expected {shown(expected)}, got {shown(actual)}"]
    return []


def smoke_reasons(expect: SmokeExpect, result: InvokeResult) -> list[str]:
    """Why a smoke invocation failed; empty when it passed."""
    reasons: list[str] = []
    if result.status != expect.status:
        reasons.append(f"status {result.status}, expected {expect.status}")
    if result.error is not None and not expect.error:
        error = result.payload if isinstance(result.payload, dict) else {}
        kind = error.get("errorType") or result.error
        message = error.get("errorMessage") or shown(result.payload)
        reasons.append(f"the function raised {kind}: {str(message)[:MAX_SHOWN]}")
        return reasons  # the payload is the error, not a response to compare
    if expect.payload is not None:
        reasons.extend(f"payload {m}" for m in mismatches(expect.payload, result.payload))
    return reasons
