"""Loading a manifest: parse YAML or JSON, validate, and report every problem with its path.

``load_manifest`` either returns a valid ``Manifest`` or raises ``ManifestError`` carrying every
issue found (syntax, structure, then cross-field rules), each with a dotted path such as
``components.enrich.to.reads.orders`` and a message that says how to fix it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.errors import Issue, ManifestError
from orchestrator.model.issues import pydantic_issues
from orchestrator.model.manifest import (
    ComponentSpec,
    DefaultsSpec,
    GatesSpec,
    Manifest,
    QueueSpec,
    StrategySpec,
    VersionSpec,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: ``release: 2026-11-28`` is an id, not a date."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def parse_document(text: str, source: str = "manifest") -> Any:
    """Parse YAML (or JSON, which is YAML) text; duplicate keys are errors, not silent overrides."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except _DuplicateKeyError as exc:
            raise ManifestError([Issue(exc.path, exc.message)]) from None
        except json.JSONDecodeError:
            pass  # YAML flow style is not always JSON: let the YAML parser have a go
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ManifestError([Issue("", _yaml_message(exc, source))]) from None
    duplicates = list(_duplicate_keys(node, ""))
    if duplicates:
        raise ManifestError(duplicates)
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:  # pragma: no cover - compose already parsed it
        raise ManifestError([Issue("", _yaml_message(exc, source))]) from None


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        self.path = key
        self.message = f"duplicate key {key!r}: each key may appear once; merge the two entries"
        super().__init__(self.message)


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _duplicate_keys(node: yaml.Node | None, path: str) -> Iterator[Issue]:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in seen:
                yield Issue(
                    child,
                    f"duplicate key {key!r} (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1}): each key may appear once",
                )
            else:
                seen[key] = key_node.start_mark.line
            yield from _duplicate_keys(value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, f"{path}[{index}]")


def _yaml_message(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{source} is not valid YAML or JSON{where}: {problem}; fix the syntax there"


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file. Raises ManifestError with every issue found."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([Issue("", f"manifest file {str(file)!r} does not exist")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([Issue("", f"cannot read manifest {str(file)!r}: {exc}")]) from None
    return manifest_from_text(text, source=str(file))


def manifest_from_text(text: str, source: str = "manifest") -> Manifest:
    return manifest_from_data(parse_document(text, source))


def manifest_from_data(data: Any) -> Manifest:
    """Validate already-parsed data (a dict from YAML/JSON, or an execution input)."""
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ManifestError(
            [
                Issue(
                    "",
                    f"the manifest must be a mapping with `release` and `components`; got {kind}",
                )
            ]
        )
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        issues = pydantic_issues(exc, model_at=_model_for, fixes=_FIX_FOR_MISSING)
        seen = {issue.path for issue in issues}
        issues += [i for i in _raw_queue_issues(data) if i.path not in seen]
        raise ManifestError(issues) from None
    issues = semantic_issues(manifest)
    if issues:
        raise ManifestError(issues)
    return manifest


# -- pydantic errors -> issues -------------------------------------------------------------------

_FIELDS_AT: dict[str, type] = {
    "": Manifest,
    "defaults": DefaultsSpec,
    "strategy": StrategySpec,
    "gates": GatesSpec,
    "queues.*": QueueSpec,
    "components.*": ComponentSpec,
    "from": VersionSpec,
    "to": VersionSpec,
}

_FIX_FOR_MISSING = {
    "release": 'add `release: "2026-11-28.1"` (the id that names the execution)',
    "components": "add `components:` with at least one component",
    "function": "add `function:` with the Lambda function name or ARN",
    "from": 'add `from: {version: "42", reads: {...}, writes: {...}}` (what is live now)',
    "url": "add `url:` with the queue URL",
}


def _model_for(loc: Sequence[int | str]) -> type | None:
    if not loc:
        return Manifest
    if len(loc) == 2 and loc[0] in ("queues", "components"):
        return _FIELDS_AT[f"{loc[0]}.*"]
    return _FIELDS_AT.get(str(loc[-1]))


# -- cross-field rules ---------------------------------------------------------------------------


def semantic_issues(manifest: Manifest) -> list[Issue]:
    """Rules that span fields: declared queues, unique functions, coherent versions."""
    issues: list[Issue] = []
    declared = sorted(manifest.queues)
    seen_functions: dict[tuple[str, str], str] = {}
    for name, spec in manifest.components.items():
        comp = manifest.component(name)
        base = f"components.{name}"
        for side, version in (("from", spec.from_), ("to", spec.to)):
            if version is None:
                continue
            for kind, queues in (("reads", version.reads), ("writes", version.writes)):
                for queue in queues:
                    if queue not in manifest.queues:
                        issues.append(
                            Issue(f"{base}.{side}.{kind}.{queue}", _undeclared(queue, declared))
                        )
        if spec.to is not None and spec.to.version is None:
            issues.append(
                Issue(
                    f"{base}.to.version",
                    "required field `version` is missing: give the published version to release",
                )
            )
        if (
            spec.to is not None
            and spec.from_.version is not None
            and spec.from_.version == spec.to.version
            and (spec.from_.reads != spec.to.reads or spec.from_.writes != spec.to.writes)
        ):
            issues.append(
                Issue(
                    f"{base}.to",
                    f"`from` and `to` are both version {spec.to.version} but declare different "
                    "reads/writes: a published version cannot change; give the new version "
                    "number in `to.version`, or make both declarations equal",
                )
            )
        key = (comp.function_name, comp.alias)
        if key in seen_functions:
            issues.append(
                Issue(
                    f"{base}.function",
                    f"function {comp.function_name!r} alias {comp.alias!r} is already released "
                    f"by component {seen_functions[key]!r}: one component per function alias",
                )
            )
        else:
            seen_functions[key] = name
    urls: dict[str, str] = {}
    for qname, qspec in manifest.queues.items():
        if qspec.dlq_url is not None and qspec.dlq_url == qspec.url:
            issues.append(
                Issue(f"queues.{qname}.dlq_url", "the dead-letter queue must differ from the queue")
            )
        if qspec.url in urls:
            issues.append(
                Issue(
                    f"queues.{qname}.url",
                    f"same URL as queue {urls[qspec.url]!r}: declare each queue once",
                )
            )
        else:
            urls[qspec.url] = qname
    return issues


def _raw_queue_issues(data: Mapping[str, Any]) -> list[Issue]:
    """Undeclared queues, found on the raw document so they show up with structural errors."""
    queues = data.get("queues")
    declared = sorted(str(q) for q in queues) if isinstance(queues, Mapping) else []
    components = data.get("components")
    if not isinstance(components, Mapping):
        return []
    issues: list[Issue] = []
    for name, spec in components.items():
        if not isinstance(spec, Mapping):
            continue
        for side in ("from", "to"):
            version = spec.get(side)
            if not isinstance(version, Mapping):
                continue
            for kind in ("reads", "writes"):
                named = version.get(kind)
                if not isinstance(named, Mapping):
                    continue
                for queue in named:
                    if str(queue) not in declared:
                        path = f"components.{name}.{side}.{kind}.{queue}"
                        issues.append(Issue(path, _undeclared(str(queue), declared)))
    return issues


def _undeclared(queue: str, declared: list[str]) -> str:
    close = difflib.get_close_matches(queue, declared, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(declared) if declared else "none"
    return (
        f"queue {queue!r} is not declared under `queues`: {hint}declare it with its URL "
        f"(`queues: {{{queue}: {{url: ...}}}}`); declared: {listed}"
    )


def unused_queues(manifest: Manifest) -> list[str]:
    """Declared queues that no component reads or writes (a warning, not an error)."""
    used: set[str] = set()
    for comp in manifest.resolved.values():
        for version in (comp.from_, comp.to):
            used.update(version.reads, version.writes)
    return sorted(set(manifest.queues) - used)
