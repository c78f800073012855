"""The one place that touches moto's internals (DESIGN §6), plus what we measured about moto.

FINDINGS: filled in below.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from orchestrator.errors import EnvironmentProblemError

TESTED_MOTO = (5, 2)
"""The moto minor version the patch was written against (``pyproject.toml`` pins ``<5.3``)."""

PARSE_CACHE_SIZE = 4096


class MotoCompatError(EnvironmentProblemError):
    """moto's internals are not where this module expects them (a moto upgrade moved them)."""


@dataclass(frozen=True)
class PatchTarget:
    """A module-level name in moto that is one of jsonpath_ng's ``parse`` functions."""

    module: str
    attribute: str
    original: str  # "package.module:function" the attribute must be, unpatched

    def original_function(self) -> Callable[..., Any]:
        module_name, _, function = self.original.partition(":")
        return getattr(importlib.import_module(module_name), function)  # type: ignore[no-any-return]


PATCH_TARGETS: tuple[PatchTarget, ...] = (
    # extract_json(): every InputPath, OutputPath, Parameters "x.$", ItemsPath, SecondsPath,
    # Choice Variable, ... evaluation calls jsonpath_ng.ext.parse(path) on the path string.
    PatchTarget("moto.stepfunctions.parser.asl.utils.json_path", "parse", "jsonpath_ng.ext:parse"),
    # ResultPath._eval_body() calls jsonpath_ng.parse(result_path_src) on every task/pass state.
    PatchTarget(
        "moto.stepfunctions.parser.asl.component.common.path.result_path",
        "parse",
        "jsonpath_ng:parse",
    ),
)

_lock = threading.Lock()
_originals: dict[PatchTarget, Callable[..., Any]] = {}


def moto_version() -> tuple[int, ...]:
    raw = metadata.version("moto")
    parts: list[int] = []
    for piece in raw.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_internals() -> list[str]:
    """What is wrong for the patch on the installed moto; empty when everything is in place."""
    problems: list[str] = []
    version = moto_version()
    if version[:2] != TESTED_MOTO:
        problems.append(
            f"moto {'.'.join(map(str, version))} is installed; the patch in "
            f"orchestrator/local/moto_compat.py was written for "
            f"{'.'.join(map(str, TESTED_MOTO))}.x"
        )
    for target in PATCH_TARGETS:
        try:
            module = importlib.import_module(target.module)
        except ImportError as exc:
            problems.append(f"{target.module} cannot be imported: {exc}")
            continue
        current = getattr(module, target.attribute, None)
        if current is None:
            problems.append(f"{target.module}.{target.attribute} no longer exists")
            continue
        expected = target.original_function()
        unwrapped = getattr(current, "_moto_compat_original", current)
        if unwrapped is not expected:
            problems.append(
                f"{target.module}.{target.attribute} is {unwrapped!r}, not {target.original}"
            )
    return problems


def _cached(original: Callable[..., Any]) -> Callable[..., Any]:
    cache = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(original)

    def cached_parse(path: str, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(path, str):
            return original(path, *args, **kwargs)
        return cache(path)

    cached_parse._moto_compat_original = original  # type: ignore[attr-defined]
    cached_parse.cache_info = cache.cache_info  # type: ignore[attr-defined]
    cached_parse.__doc__ = f"{original.__doc__ or ''} (cached by orchestrator.local.moto_compat)"
    return cached_parse


def apply_patches(*, strict: bool = False) -> bool:
    """Cache moto's JSONPath parsers by expression string. Idempotent; True when active.

    When moto's internals are not as expected the patch is skipped (the engine still works, only
    slower) and False is returned, or :class:`MotoCompatError` is raised with ``strict=True``.
    """
    with _lock:
        if _originals:
            return True
        problems = check_internals()
        if problems:
            if strict:
                raise MotoCompatError("; ".join(problems))
            return False
        for target in PATCH_TARGETS:
            module = importlib.import_module(target.module)
            original = getattr(module, target.attribute)
            _originals[target] = original
            setattr(module, target.attribute, _cached(original))
        return True


def revert_patches() -> None:
    """Put moto's own functions back (benchmarks compare stock and patched). Idempotent."""
    with _lock:
        for target, original in _originals.items():
            setattr(importlib.import_module(target.module), target.attribute, original)
        _originals.clear()


def patches_active() -> bool:
    with _lock:
        return bool(_originals)


def parse_cache_info() -> dict[str, Any]:
    """Hits and misses of each cached parser (empty when the patch is not active)."""
    info: dict[str, Any] = {}
    with _lock:
        for target in _originals:
            current = getattr(importlib.import_module(target.module), target.attribute)
            cache_info = getattr(current, "cache_info", None)
            if cache_info is not None:
                info[f"{target.module}.{target.attribute}"] = cache_info()._asdict()
    return info
