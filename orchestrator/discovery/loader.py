"""Reading CloudFormation / SAM templates: YAML with the short-form intrinsic tags, or JSON.

Every short-form tag is turned into the long form CloudFormation itself uses, so the analyzer only
ever sees one shape:

=================  =============================================
``!Ref X``         ``{"Ref": "X"}``
``!GetAtt A.B``    ``{"Fn::GetAtt": ["A", "B"]}`` (``A.B.C`` -> ``["A", "B.C"]``; lists stay)
``!Condition C``   ``{"Condition": "C"}``
``!Sub``, ``!Join``, ``!If``, ``!Select``, ``!Split``, ``!FindInMap``, ``!ImportValue``,
``!GetAZs``, ``!Equals``, ``!Not``, ``!And``, ``!Or``, ``!Base64``, ``!Cidr``, ``!Transform``
                   ``{"Fn::<Name>": <value as written>}``
=================  =============================================

YAML 1.1 timestamps stay text (``Version: 2012-10-17`` is an IAM policy version, not a date), as
CloudFormation reads them. JSON templates are read with :mod:`json` (a JSON file may carry a
``.yaml`` name). Unknown ``!Tags`` and unreadable files raise
:class:`~orchestrator.errors.InputError` carrying the file path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import InputError, Issue

#: Short-form tags whose long form is ``Fn::<Name>``.
FN_TAGS: tuple[str, ...] = (
    "Sub",
    "Join",
    "If",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Equals",
    "Not",
    "And",
    "Or",
    "Base64",
    "Cidr",
    "Transform",
    "Length",
    "ToJsonString",
    "ForEach",
)


class TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation's short-form tags and keeps dates as text."""


TemplateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(  # pragma: no cover - the three kinds are exhaustive
        None, None, f"unexpected node {node!r}", node.start_mark
    )


def _construct_ref(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _node_value(loader, node)}


def _construct_condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _node_value(loader, node)}


def _construct_getatt(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute] if attribute else [resource]}
    return {"Fn::GetAtt": value}


def _fn_constructor(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _node_value(loader, node)}

    return construct


def _unknown_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"unknown tag !{suffix}: CloudFormation's short forms are !Ref, !GetAtt, !Sub, !Join, "
        "!If, !Select, !Split, !FindInMap, !ImportValue, !GetAZs, !Equals, !Not, !And, !Or, "
        "!Condition, !Base64, !Cidr, !Transform",
        node.start_mark,
    )


TemplateLoader.add_constructor("!Ref", _construct_ref)
TemplateLoader.add_constructor("!Condition", _construct_condition)
TemplateLoader.add_constructor("!GetAtt", _construct_getatt)
for _name in FN_TAGS:
    TemplateLoader.add_constructor(f"!{_name}", _fn_constructor(_name))
TemplateLoader.add_multi_constructor("!", _unknown_tag)


def parse_template(text: str, source: str = "template") -> dict[str, Any]:
    """Parse template text (YAML with short-form tags, or JSON) into plain dicts and lists.

    Raises ``InputError`` (path = ``source``) when the text does not parse or is not a template.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    data: Any
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = _parse_yaml(text, source)  # YAML flow style is not always JSON
    else:
        data = _parse_yaml(text, source)
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise InputError(
            [Issue(source, f"a template is a mapping with a `Resources` section, not {kind}")]
        )
    resources = data.get("Resources")
    if not isinstance(resources, Mapping):
        raise InputError(
            [Issue(source, "the template has no `Resources` mapping: is it a SAM/CFN template?")]
        )
    return dict(data)


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=TemplateLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputError([Issue(source, f"not valid YAML or JSON{where}: {problem}")]) from None


def load_template(path: str | Path) -> dict[str, Any]:
    """Read a SAM / CloudFormation template file (YAML or JSON) into plain data.

    Raises ``InputError`` whose issue path is the file path when the file is missing, unreadable,
    not YAML/JSON, or has no ``Resources`` mapping.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError([Issue(str(file), "template file does not exist")]) from None
    except IsADirectoryError:
        raise InputError([Issue(str(file), "is a directory, not a template file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Issue(str(file), f"cannot read the template: {exc}")]) from None
    return parse_template(text, source=str(file))
