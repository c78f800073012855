"""Loading a manifest: parse YAML or JSON, validate, and report every problem with its path.

``load_manifest`` either returns a valid ``Manifest`` or raises ``ManifestError`` carrying every
issue found (syntax, structure, then cross-field rules), each with a dotted path such as
``components.enrich.to.reads.orders`` and a message that says how to fix it.
"""

from __future__ import annotations

import difflib
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from orchestrator.errors import InputError, Issue, ManifestError
from orchestrator.model.issues import describe, pydantic_issues
from orchestrator.model.manifest import (
    ComponentSpec,
    DefaultsSpec,
    GatesSpec,
    Manifest,
    QueueSpec,
    StrategySpec,
    VersionSpec,
)

MAX_DOCUMENT_CHARS = 16 * 1024 * 1024
"""Longest manifest or scenario read: 16 MiB (a 10,000-component release is 4 MB of YAML, 6 MB of
indented JSON). Longer input is refused before it is parsed."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists (a manifest needs 6: components.c.to.reads.q[0])."""
MAX_ALIAS_NODES = 1_000_000
"""Most nodes YAML aliases (``*name``) may repeat in one document, counted as if written out:
what bounds an alias bomb, where a kilobyte of nested aliases stands for billions of nodes."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (about 20 times faster), else pure Python."""


class _Loader(_BaseLoader):  # type: ignore[valid-type, misc]
    """Safe loader that keeps dates as text: ``release: 2026-11-28`` is an id, not a date."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _BaseLoader.yaml_implicit_resolvers.copy().items()
}


def _checked(kind: str, construct: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A scalar constructor whose every failure (``!!int abc``, ``!!bool maybe``, a number of
    5,000 digits) is a ConstructorError at the value's line, not a ValueError or KeyError."""

    def checked(loader: Any, node: Any) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError) as exc:
            value = describe(node.value)
            if "Exceeds the limit" in str(exc):  # int() refuses more than 4,300 digits
                problem = f"{value} has more than 4,300 digits; quote it if it is text"
            else:
                problem = f"{value} is not a valid {kind}; fix it or drop the `!!{kind}` tag"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    return checked


for _tag in ("null", "bool", "int", "float", "binary", "timestamp"):
    _full_tag = f"tag:yaml.org,2002:{_tag}"
    _Loader.add_constructor(_full_tag, _checked(_tag, _BaseLoader.yaml_constructors[_full_tag]))


def parse_document(text: str, source: str = "manifest") -> Any:
    """Parse YAML (or JSON, which is YAML) text into plain data, once, and bounded.

    Duplicate keys are errors, not silent overrides; unquoted dates stay text. The document may
    be at most ``MAX_DOCUMENT_CHARS`` long and nest ``MAX_DEPTH`` levels deep, and its aliases
    may repeat at most ``MAX_ALIAS_NODES`` nodes: whatever the text, this returns or raises
    ``ManifestError`` (with a path and a fix), it never hangs and never overflows the stack.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ManifestError([Issue("", _too_long(source, len(text)))])
    with _collector_paused():
        return _parse(text, source)


def _parse(text: str, source: str) -> Any:
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_pairs)
        except (_DuplicateKeyError, ValueError, RecursionError):
            pass  # a duplicate key, not JSON (YAML flow style need not be), or too deep: the
            # YAML parser (JSON is YAML) says where, with the key's full path and its lines
        else:
            deep = _too_deep(data)
            if deep is None:
                return data
            raise ManifestError([Issue(deep, _depth_message(source, ""))])
    loader = _Loader(text)
    try:
        root = _compose(loader, source)
        return None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise ManifestError([Issue("", _yaml_message(exc, source))]) from None
    finally:
        loader.dispose()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document becomes objects: they are all alive
    (nothing to collect), and its full passes over the growing heap made parsing 10,000
    components twice as slow. The input is bounded (``MAX_DOCUMENT_CHARS``), so is the pause."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class _Open:
    """A mapping or list being composed: the node, its path, and what it holds so far."""

    node: yaml.MappingNode | yaml.SequenceNode
    path: str
    anchor: str | None
    sequence: bool
    size: int = 1  # nodes, aliases counted as what they repeat
    height: int = 1  # levels of nesting, itself included
    key: yaml.Node | None = None  # a mapping's key waiting for its value
    seen: dict[str, int] = field(default_factory=dict)  # a mapping's keys -> line


@dataclass(frozen=True, slots=True)
class _Anchored:
    node: yaml.Node
    size: int
    height: int


def _compose(loader: Any, source: str) -> yaml.Node | None:
    """The document's node graph, from the parser's events, without recursion.

    The same graph as ``yaml.compose``, checked on the way: nesting depth, the nodes aliases
    repeat, aliases to a node that contains them (a cycle), and duplicate keys (all reported
    together, each with its path and lines). Anchors are registered when their node ends.
    """
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # document start
    anchors: dict[str, _Anchored] = {}
    open_anchors: set[str] = set()
    duplicates: list[Issue] = []
    stack: list[_Open] = []
    resolved: dict[tuple[str, Any], str] = {}  # plain scalars repeat (keys, "1"): resolve once
    repeated = 0
    get_event = loader.get_event
    while True:
        event: Any = get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor is not None:
                _check_anchor(event, anchors, open_anchors, source, stack)
            tag = event.tag
            if tag is None or tag == "!":
                cache = (event.value, event.implicit)
                tag = resolved.get(cache)
                if tag is None:
                    tag = resolved[cache] = loader.resolve(
                        yaml.ScalarNode, event.value, event.implicit
                    )
            node: yaml.Node = yaml.ScalarNode(
                tag, event.value, event.start_mark, event.end_mark, style=event.style
            )
            size, height = 1, 0
            if event.anchor is not None:
                anchors[event.anchor] = _Anchored(node, size, height)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None:
                _check_anchor(event, anchors, open_anchors, source, stack)
            path = _child_path(stack)
            if len(stack) >= MAX_DEPTH:
                raise ManifestError([Issue(path, _depth_message(source, _where(event)))])
            sequence = kind is yaml.SequenceStartEvent
            node_kind = yaml.SequenceNode if sequence else yaml.MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(node_kind, None, event.implicit)
            collection = node_kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
            stack.append(_Open(collection, path, event.anchor, sequence))
            if event.anchor is not None:
                open_anchors.add(event.anchor)
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            done = stack.pop()
            done.node.end_mark = event.end_mark
            node, size, height = done.node, done.size, done.height
            if done.anchor is not None:
                open_anchors.discard(done.anchor)
                anchors[done.anchor] = _Anchored(node, size, height)
        elif kind is yaml.AliasEvent:
            name = str(event.anchor)
            target = anchors.get(name)
            if target is None:
                problem = (
                    f"alias *{name} is inside the node it refers to: recursive structures are "
                    "not allowed"
                    if name in open_anchors
                    else f"alias *{name} refers to no anchor &{name} before it"
                )
                raise ManifestError([Issue(_child_path(stack), _at(source, event, problem))])
            repeated += target.size
            if repeated > MAX_ALIAS_NODES:
                problem = (
                    f"its aliases repeat more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?); "
                    "write the repeated parts out, or repeat fewer"
                )
                raise ManifestError([Issue(_child_path(stack), _at(source, event, problem))])
            if len(stack) + target.height > MAX_DEPTH:
                path = _child_path(stack)
                raise ManifestError([Issue(path, _depth_message(source, _where(event)))])
            node, size, height = target.node, target.size, target.height
        else:  # pragma: no cover - the parser only emits the events above inside a document
            raise yaml.composer.ComposerError(None, None, f"unexpected {event}", event.start_mark)
        if not stack:
            break
        parent = stack[-1]
        parent.size += size
        if height >= parent.height:
            parent.height = height + 1
        if parent.sequence:
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
            if kind is yaml.ScalarEvent:
                _note_key(parent, node, duplicates)
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None
    get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        problem = "it holds more than one document (a second `---`); keep one"
        raise ManifestError([Issue("", _at(source, get_event(), problem))])
    if duplicates:
        raise ManifestError(duplicates)
    return node


def _child_path(stack: list[_Open]) -> str:
    """Path of the node that comes next inside the innermost open collection."""
    if not stack:
        return ""
    parent = stack[-1]
    if parent.sequence:
        return f"{parent.path}[{len(parent.node.value)}]"
    if parent.key is None:  # the node is a key: its path is the mapping's
        return parent.path
    key = str(parent.key.value) if isinstance(parent.key, yaml.ScalarNode) else "?"
    return f"{parent.path}.{key}" if parent.path else key


def _note_key(mapping: _Open, key_node: yaml.Node, duplicates: list[Issue]) -> None:
    key = str(key_node.value)
    line = key_node.start_mark.line
    first = mapping.seen.get(key)
    if first is None:
        mapping.seen[key] = line
        return
    path = f"{mapping.path}.{key}" if mapping.path else key
    duplicates.append(
        Issue(
            path,
            f"duplicate key {key!r} (lines {first + 1} and {line + 1}): each key may appear "
            "once; merge the two entries or remove one",
        )
    )


def _check_anchor(
    event: Any,
    anchors: Mapping[str, _Anchored],
    open_anchors: set[str],
    source: str,
    stack: list[_Open],
) -> None:
    name = event.anchor
    if name in anchors or name in open_anchors:
        problem = f"anchor &{name} is defined twice: give the second one another name"
        raise ManifestError([Issue(_child_path(stack), _at(source, event, problem))])


def _where(event: Any) -> str:
    mark = event.start_mark
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _at(source: str, event: Any, problem: str) -> str:
    return f"{source}{_where(event)}: {problem}"


def _depth_message(source: str, where: str) -> str:
    return (
        f"{source} nests mappings and lists more than {MAX_DEPTH} levels deep{where} (a "
        "manifest needs 6); remove the extra nesting"
    )


def _too_long(source: str, length: int, *, more: bool = False) -> str:
    size = f"more than {MAX_DOCUMENT_CHARS:,}" if more else f"{length:,}"
    return (
        f"{source} is {size} characters long; the limit is {MAX_DOCUMENT_CHARS:,} (a "
        "10,000-component manifest is about 4 MB): check that this is the right file"
    )


def _too_deep(data: Any) -> str | None:
    """Path of the first collection nested deeper than ``MAX_DEPTH`` in parsed JSON, or None."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict):
            items: Iterable[tuple[str, Any]] = (
                ((f"{path}.{k}" if path else str(k)), v) for k, v in value.items()
            )
        elif isinstance(value, list):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth > MAX_DEPTH:
            return path
        stack.extend(
            (child, where, depth + 1) for where, child in items if isinstance(child, dict | list)
        )
    return None


class _DuplicateKeyError(Exception):
    """A JSON object repeats a key: left to the YAML parser, which reports its path."""


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _yaml_message(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if "maximum nesting depth" in problem:  # libyaml's own limit (1,000) on flow collections
        return _depth_message(source, where)
    if isinstance(exc, yaml.constructor.ConstructorError):
        fix = "" if ";" in problem else "; use plain text, numbers, lists and mappings there"
        return f"{source} has a value that cannot be read{where}: {problem}{fix}"
    return f"{source} is not valid YAML or JSON{where}: {problem}; fix the syntax there"


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file. Raises ManifestError with every issue found."""
    file = Path(path)
    return manifest_from_text(read_document(file, "manifest"), source=str(file))


def read_document(
    file: Path, what: str, error: Callable[[list[Issue]], InputError] = ManifestError
) -> str:
    """The text of a manifest or scenario file (UTF-8), read at most ``MAX_DOCUMENT_CHARS`` far:
    a huge file, or a device such as /dev/zero, is refused without being read whole."""
    try:
        with file.open(encoding="utf-8") as handle:
            text = handle.read(MAX_DOCUMENT_CHARS + 1)
    except FileNotFoundError:
        raise error([Issue("", f"{what} file {str(file)!r} does not exist")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error([Issue("", f"cannot read {what} {str(file)!r}: {exc}")]) from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise error([Issue("", _too_long(f"{what} {str(file)!r}", len(text), more=True))])
    return text


def manifest_from_text(text: str, source: str = "manifest") -> Manifest:
    data = parse_document(text, source)
    with _collector_paused():  # validation builds as many objects again
        return manifest_from_data(data)


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
        issues = pydantic_issues(exc, model_at=_model_for, fixes=_FIX_FOR_MISSING, data=data)
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
    issues += _approval_issues(manifest)
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


def _approval_issues(manifest: Manifest) -> list[Issue]:
    """``approve_before`` names traffic steps of the strategy it applies to; the hotfix wait's cap
    is not shorter than one wait."""
    issues: list[Issue] = []
    specs = [("defaults.strategy", manifest.defaults.strategy, None)] + [
        (f"components.{name}.strategy", spec.strategy, name)
        for name, spec in manifest.components.items()
    ]
    for path, strategy, name in specs:
        if strategy.approve_before is None:
            continue
        names = (
            [name]
            if name is not None
            else [
                n for n, spec in manifest.components.items() if spec.strategy.approve_before is None
            ]
        )
        for component in names:
            steps = manifest.component(component).strategy.steps
            missing = [s for s in strategy.approve_before if s not in steps]
            if missing:
                listed = ", ".join(f"{s:g}" for s in steps)
                issues.append(
                    Issue(
                        f"{path}.approve_before",
                        f"{', '.join(f'{s:g}' for s in missing)} is not a traffic step of "
                        f"{component} ({listed}): approve_before names steps of `steps`, "
                        f"e.g. approve_before: [{steps[-1]:g}]",
                    )
                )
                break
    cap = manifest.hotfix_max_wait_seconds
    if cap is not None and cap < manifest.hotfix_timeout_seconds:
        issues.append(
            Issue(
                "hotfix_max_wait_seconds",
                f"{cap} is shorter than hotfix_timeout_seconds ({manifest.hotfix_timeout_seconds}):"
                " the cap on a hotfix wait kept open with `rollout hotfix --extend` must be at "
                "least one wait; raise it or lower hotfix_timeout_seconds",
            )
        )
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
