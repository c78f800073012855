"""Declarations from code: what a component's registrations say it reads and writes.

:func:`declare` turns a :class:`~.component.Component` into the manifest's ``reads``/``writes``
(the ``to:`` block of its entry), with how each schema version is served (a handler, or upgrades
then a handler). :func:`compare` lists, each with the manifest path it concerns, where a manifest's
block and the code disagree. :func:`load_components` imports a module or a ``.py`` file and finds
the components it defines. Standard library only (no orchestrator imports), like the rest of the
package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .component import Component
from .versions import Schema, schema_key, schema_version


@dataclass(frozen=True)
class Route:
    """How one schema version of one queue is read."""

    queue: str
    schema: Schema
    path: tuple[Schema, ...]
    """Versions the message goes through; ``(schema,)`` when a handler reads it directly."""
    model: str
    handler: str
    upgrades: tuple[str, ...] = ()

    def describe(self) -> str:
        if len(self.path) == 1:
            return f"{self.queue} {self.schema}: {self.handler} ({self.model})"
        chain = " -> ".join(str(s) for s in self.path)
        upgrades = ", ".join(self.upgrades)
        return f"{self.queue} {self.schema}: upgraded {chain} ({upgrades}), then {self.handler}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "schema": self.schema,
            "path": list(self.path),
            "model": self.model,
            "handler": self.handler,
            "upgrades": list(self.upgrades),
        }


@dataclass(frozen=True)
class Declaration:
    """A component's ``reads``/``writes`` as its code registers them."""

    component: str
    reads: dict[str, list[Schema]]
    writes: dict[str, Schema]
    routes: list[Route] = field(default_factory=list)
    writers: dict[str, str] = field(default_factory=dict)
    """queue -> the model it writes."""
    problems: list[str] = field(default_factory=list)

    def block(self, version: str | None = None) -> dict[str, Any]:
        """The manifest's version block (``to:``), ``version`` first when given."""
        out: dict[str, Any] = {} if version is None else {"version": version}
        if self.reads:
            out["reads"] = {q: list(s) for q, s in self.reads.items()}
        if self.writes:
            out["writes"] = dict(self.writes)
        return out


@dataclass(frozen=True)
class Difference:
    """One disagreement between a manifest block and the code, at a manifest path."""

    path: str
    message: str
    queue: str
    schema: Schema | None = None


def _model_name(model: type[Any]) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def declare(component: Component) -> Declaration:
    """What ``component`` reads and writes, from its registrations."""
    reads: dict[str, list[Schema]] = {}
    routes: list[Route] = []
    for queue in component.queues_read:
        schemas = component.read_schemas(queue)
        if schemas:
            reads[queue] = schemas
        for schema in schemas:
            path = component.route(queue, schema)
            assert path is not None
            model = component.model_of(queue, schema)
            assert model is not None
            routes.append(
                Route(
                    queue=queue,
                    schema=schema,
                    path=path,
                    model=_model_name(model),
                    handler=component.readers[(queue, path[-1])].name,
                    upgrades=tuple(component.upgrades[(queue, s)].name for s in path[:-1]),
                )
            )
    writes = {q: w.schema for q, w in sorted(component.writers.items())}
    writers = {q: _model_name(w.model) for q, w in sorted(component.writers.items())}
    return Declaration(
        component=component.name,
        reads=reads,
        writes=writes,
        routes=routes,
        writers=writers,
        problems=component.problems(),
    )


def _schemas(values: Sequence[object]) -> list[Schema]:
    return sorted({schema_version(v) for v in values}, key=schema_key)


def _listed(schemas: Sequence[Schema]) -> str:
    return "[" + ", ".join(str(s) for s in schemas) + "]"


def compare(
    declared: Declaration,
    reads: Mapping[str, Sequence[object]],
    writes: Mapping[str, object],
    *,
    where: str,
    source: str = "the code",
) -> list[Difference]:
    """Where the manifest block at ``where`` (e.g. ``components.enrich.to``) and the code differ."""
    name = declared.component
    out: list[Difference] = []
    manifest_reads = {q: _schemas(list(s)) for q, s in reads.items()}
    for queue in sorted(set(manifest_reads) | set(declared.reads)):
        path = f"{where}.reads.{queue}"
        listed = manifest_reads.get(queue)
        served = declared.reads.get(queue)
        if served is None:
            assert listed is not None
            out.append(
                Difference(
                    path,
                    f"the manifest says {name} reads {queue} {_listed(listed)}, but {source} "
                    f"registers no handler on {queue}",
                    queue,
                )
            )
            continue
        if listed is None:
            out.append(
                Difference(
                    path,
                    f"{source} reads {queue} {_listed(served)}, but the manifest's {where} does "
                    f"not list {queue}: add `{queue}: {_listed(served)}` under reads",
                    queue,
                )
            )
            continue
        for schema in listed:
            if schema not in served:
                out.append(
                    Difference(
                        path,
                        f"the manifest says {name} reads {queue} schema {schema}, but {source} has "
                        f"no handler and no upgrade path for it (it reads {_listed(served)})",
                        queue,
                        schema,
                    )
                )
        for schema in served:
            if schema not in listed:
                route = next(r for r in declared.routes if r.queue == queue and r.schema == schema)
                out.append(
                    Difference(
                        path,
                        f"{source} reads {queue} schema {schema} ({route.describe()}), but the "
                        f"manifest lists only {_listed(listed)}",
                        queue,
                        schema,
                    )
                )
    manifest_writes = {q: schema_version(s) for q, s in writes.items()}
    for queue in sorted(set(manifest_writes) | set(declared.writes)):
        path = f"{where}.writes.{queue}"
        listed_w = manifest_writes.get(queue)
        written = declared.writes.get(queue)
        if written is None:
            out.append(
                Difference(
                    path,
                    f"the manifest says {name} writes {queue} schema {listed_w}, but {source} "
                    f"declares no writer for {queue}",
                    queue,
                    listed_w,
                )
            )
        elif listed_w is None:
            out.append(
                Difference(
                    path,
                    f"{source} writes {queue} schema {written} ({declared.writers[queue]}), but "
                    f"the manifest's {where} does not list {queue}: add `{queue}: {written}` "
                    "under writes",
                    queue,
                    written,
                )
            )
        elif listed_w != written:
            out.append(
                Difference(
                    path,
                    f"the manifest says {name} writes {queue} schema {listed_w}, but {source} "
                    f"writes schema {written} ({declared.writers[queue]})",
                    queue,
                    written,
                )
            )
    return out


# -- finding components in a module or a file ------------------------------------------------------


class LoadError(ImportError):
    """A module or file could not be imported, or defines no component."""


def import_target(target: str) -> ModuleType:
    """Import ``target``: a path to a ``.py`` file, or a dotted module name.

    A file is imported with its directory first on ``sys.path`` (as ``python FILE`` would), so its
    sibling modules import; a module name is looked up with the current directory on ``sys.path``
    too (as ``python -m`` would).
    """
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise LoadError(f"{target}: no such file")
        directory = str(path.resolve().parent)
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - not a Python file
            raise LoadError(f"{target}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, directory)
        previous = sys.modules.get(name)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
            raise LoadError(f"{target}: importing it raised {type(exc).__name__}: {exc}") from exc
        finally:
            _remove_first(directory)
        return module
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise LoadError(f"{target}: importing it raised {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            _remove_first(cwd)


def _remove_first(entry: str) -> None:
    if entry in sys.path:
        sys.path.remove(entry)


def components_of(module: ModuleType) -> list[Component]:
    """The components a module defines or imports (module globals), in name order."""
    found: dict[int, Component] = {}
    for value in vars(module).values():
        if isinstance(value, Component):
            found[id(value)] = value
    return sorted(found.values(), key=lambda c: c.name)


def load_component(target: str, name: str | None = None) -> Component:
    """The one component of ``target`` (or the one called ``name``); :class:`LoadError` if not."""
    module = import_target(target)
    found = components_of(module)
    if name is not None:
        matching = [c for c in found if c.name == name]
        if not matching:
            names = ", ".join(c.name for c in found) or "none"
            raise LoadError(f"{target} defines no component named {name!r} (it defines {names})")
        if len(matching) > 1:
            raise LoadError(f"{target} defines {len(matching)} components named {name!r}")
        return matching[0]
    if not found:
        raise LoadError(
            f"{target} defines no Component: create one with "
            "orchestrator.contracts.Component(NAME) at module level"
        )
    if len(found) > 1:
        names = ", ".join(c.name for c in found)
        raise LoadError(f"{target} defines several components ({names}): pick one with --component")
    return found[0]
