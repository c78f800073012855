"""Fuzzing every user input (issue 9): 0 tracebacks.

Manifest text (YAML and JSON), scenario text and the ``--reads/--writes`` pairs go through what
the CLI does with them (``validate``/``plan`` load, plan and render; ``dry-run`` loads the scenario
and its warnings; ``hotfix`` parses the pairs). The property: each input either works or ends in
one of the project's InputError subclasses (exit code 2) carrying at least one issue, each with a
path (a string, "" for the whole document) and a message. Anything else (ValueError,
RecursionError, KeyError, a hang past the deadline) is a failure, shrunk to a minimal input.

Inputs are built three ways: the seed manifest or scenario mutated (values replaced by hostile
ones, keys dropped or added) then written as YAML or JSON, that text mutated again at the
character level (YAML syntax spliced in: anchors, aliases, tags, brackets, merge keys, documents),
and plain random text.

In the suite: a few hundred cases, derandomized, no example database (the same cases every run).
``make fuzz-inputs`` runs thousands of random ones (``ROLLOUT_INPUT_EXAMPLES``, default 2000 per
test) and prints Hypothesis' statistics.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rich.console import Console

from orchestrator.cli.operate_commands import parse_pairs
from orchestrator.cli.render import render_mermaid, render_plan
from orchestrator.errors import InputError
from orchestrator.local.scenario import scenario_from_text, scenario_warnings
from orchestrator.model.load import manifest_from_text
from orchestrator.planning import plan_release

ROOT = Path(__file__).resolve().parents[2]
SEED_TEXT = (ROOT / "examples" / "seed.yaml").read_text()
SEED_DATA: dict[str, Any] = yaml.safe_load(SEED_TEXT)
SEED = manifest_from_text(SEED_TEXT)
SCENARIO_TEXT = (ROOT / "examples" / "scenarios" / "seed-enrich-breaks.yaml").read_text()
SCENARIO_DATA: dict[str, Any] = yaml.safe_load(SCENARIO_TEXT)

RANDOM = int(os.environ.get("ROLLOUT_INPUT_EXAMPLES", "0"))


def fuzz(suite_examples: int) -> Callable[[Any], Any]:
    """Derandomized and small in the suite; ``ROLLOUT_INPUT_EXAMPLES`` random ones otherwise."""
    return settings(
        max_examples=RANDOM or suite_examples,
        derandomize=not RANDOM,
        database=None,
        deadline=None if not RANDOM else 5000,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )


def ends_well(action: Callable[[], Any]) -> None:
    """The property: ``action`` returns, or raises an InputError with paths and messages."""
    refused: InputError | None = None
    try:
        action()
    except InputError as exc:
        refused = exc
    if refused is None:
        event("accepted")
        return
    event(f"refused: {type(refused).__name__}")
    assert refused.exit_code == 2
    assert refused.issues, f"{type(refused).__name__} without an issue"
    for issue in refused.issues:
        assert isinstance(issue.path, str), issue
        assert isinstance(issue.message, str) and issue.message.strip(), issue


# -- hostile values and YAML syntax -------------------------------------------------------------

WORDS = [
    "release", "defaults", "queues", "components", "function", "alias", "delivery", "strategy",
    "steps", "bake_seconds", "gates", "max_error_rate", "max_throttles", "min_invocations",
    "alarms", "name", "insufficient_data", "max_dlq_growth", "max_queue_age_seconds",
    "max_inconclusive", "max_errors", "from", "to", "version", "reads", "writes", "url",
    "dlq_url", "drain_timeout_seconds", "drain_poll_seconds", "on_failure",
    "hotfix_timeout_seconds", "max_concurrency", "orders", "enriched", "ingest", "enrich",
    "store", "live", "per-version", "roll-forward", "halt", "traffic_per_minute", "versions",
    "error_rate", "throttles_per_minute", "errors_on", "backlog", "drain_per_minute",
    "backlog_age_seconds", "hotfixes", "component", "enrich@18", "ingest@43", "enrich@19",
    "a-b", "a_b", "a.b",
]  # fmt: skip

SPECIAL_TEXT = [
    "", " ", "$LATEST", "42", "0", "-1", "1e309", "NaN", "2026-11-28", "2026-13-45", "²", "٣",
    "12345678901", "99999", "50000", "live", "v2", "x", "null", "~", "true", "yes", "on",
    "https://sqs.eu-west-2.amazonaws.com/111122223333/orders", "https://x", "not a url",
    "arn:aws:lambda:eu-west-2:111122223333:function:ingest",
    "arn:aws:lambda:eu-west-2:111122223333:function:ingest:live", "a" * 300, "ü", "\u0000",
    "\ufeff", "enrich@", "@18", "enrich@18@19", "orders=1", "\n", "#",
]  # fmt: skip

SYNTAX = [
    "&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ": ", ":", "- ", "? ", ",", "\n", "\n  ",
    "  ", "\t", '"', "'", "#", "!!int ", "!!str ", "!!float ", "!!bool ", "!!timestamp ",
    "!!binary ", "!!set ", "!!omap ", "!!python/object:os.system ", "!custom ", "<<: *a\n",
    "<<: ", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2026:\n", "|\n  ", ">\n  ", "\\",
    "\x00", "\x85", "\u2028", "\ufeff", "9" * 5000, "[" * 200, "- " * 100, "{a: " * 80,
    "&a [*a]", "\x7f", "\r\n",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**20, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_TEXT),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)

keys = st.one_of(st.sampled_from(WORDS), st.text(max_size=8), st.integers(-3, 3))

hostile = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


PLAUSIBLE = [
    1, 2, 3, "2", "v2", [1], [2], [1, 2], [2, 3], {"orders": 1}, {"orders": 2}, {"orders": [1, 2]},
    {"orders": [2]}, {"enriched": 1}, {"enriched": [1]}, {}, "42", "43", "17", "18", "19", "5",
    "live", "canary", "alias", "per-version", "halt", 0.5, 10, 100, [10, 100], [50, 100], 0,
    {"version": "44", "writes": {"orders": 2}}, {"version": "6", "reads": {"enriched": [1, 2]}},
]  # fmt: skip
"""Values that keep a manifest or scenario valid more often, so planning and rendering run."""


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` (a manifest or scenario as data) with a few values replaced, keys dropped or
    added, at random depths: hostile values, or plausible ones that keep it valid more often."""
    values = draw(
        st.sampled_from([hostile, hostile, st.sampled_from(PLAUSIBLE).map(copy.deepcopy)])
    )
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 4))):
        node: Any = data
        for _depth in range(draw(st.integers(0, 5))):
            if isinstance(node, dict) and node:
                child = node[draw(st.sampled_from(sorted(node, key=str)))]
            elif isinstance(node, list) and node:
                child = node[draw(st.integers(0, len(node) - 1))]
            else:
                break
            if not isinstance(child, dict | list):
                break
            node = child
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if action == "replace":
                node[key] = draw(values)
            elif action == "drop":
                del node[key]
            else:
                node[draw(keys)] = draw(values)
        elif isinstance(node, list):
            if node and action == "replace":
                node[draw(st.integers(0, len(node) - 1))] = draw(values)
            elif node and action == "drop":
                node.pop()
            else:
                node.append(draw(values))
    return data


def written(draw: st.DrawFn, data: Any) -> str:
    """``data`` as YAML (block or flow) or JSON text."""
    how = draw(st.sampled_from(["yaml", "yaml-flow", "json"]))
    if how == "json":
        return json.dumps(data, indent=draw(st.sampled_from([None, 2])))
    return yaml.safe_dump(data, default_flow_style=how == "yaml-flow", sort_keys=False)


@st.composite
def spliced(draw: st.DrawFn, text: str) -> str:
    """``text`` with YAML syntax inserted, slices removed or lines repeated."""
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "insert", "delete", "repeat"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(SYNTAX) | st.text(max_size=3)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                index = draw(st.integers(0, len(lines) - 1))
                lines.insert(index, lines[index])
                text = "".join(lines)
    return text


@st.composite
def documents(draw: st.DrawFn, base: Any) -> str:
    kind = draw(st.sampled_from(["mutated", "mutated", "spliced", "spliced", "random"]))
    event(f"input: {kind}")
    if kind == "random":
        return draw(st.text(max_size=200) | st.binary(max_size=200).map(_latin1))
    text = written(draw, draw(mutated(base)))
    return draw(spliced(text)) if kind == "spliced" else text


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


# -- the properties ------------------------------------------------------------------------------


def validate_and_plan(text: str) -> None:
    """What `rollout validate` and `rollout plan` (every format) do with a manifest's text."""
    manifest = manifest_from_text(text)
    plan = plan_release(manifest)
    json.dumps(plan.contract())
    render_mermaid(manifest, plan)
    render_plan(Console(file=io.StringIO(), width=140), manifest, plan)


@fuzz(suite_examples=150)
@given(documents(SEED_DATA))
def test_any_manifest_text_validates_or_is_an_input_error(text: str) -> None:
    ends_well(lambda: validate_and_plan(text))


@fuzz(suite_examples=100)
@given(documents({"release": "r", "components": {"a-b": {}, "a_b": {}}}))
def test_small_manifests_validate_or_are_input_errors(text: str) -> None:
    ends_well(lambda: validate_and_plan(text))


def load_scenario_text(text: str) -> None:
    """What `rollout dry-run --scenario` does with the scenario's text before it seeds."""
    scenario = scenario_from_text(text, SEED)
    scenario_warnings(scenario, SEED)


@fuzz(suite_examples=150)
@given(documents(SCENARIO_DATA))
def test_any_scenario_text_loads_or_is_an_input_error(text: str) -> None:
    ends_well(lambda: load_scenario_text(text))


UNICODE_DIGITS = "\u00b2\u00b3\u00b9\u0663\u0661\u0660\u2460\U0001d7d9"  # isdigit(), not int()
PAIR_CHARACTERS = "=,  orders1234567890-_.ab\t\n\u00a0x$" + UNICODE_DIGITS
PAIR_TEXT = st.text(alphabet=st.sampled_from(list(PAIR_CHARACTERS)) | st.characters(), max_size=16)


@fuzz(suite_examples=150)
@given(st.lists(PAIR_TEXT, max_size=4), st.booleans())
def test_any_reads_writes_pairs_parse_or_are_an_input_error(values: list[str], many: bool) -> None:
    option = "--reads" if many else "--writes"

    def parse() -> None:
        out = parse_pairs(values, option, many=many)
        for queue, schemas in out.items():
            assert isinstance(queue, str) and queue
            for schema in schemas if many else [schemas]:
                assert isinstance(schema, int | str), schema

    ends_well(parse)


@pytest.mark.parametrize(
    "value",
    ["orders=\u00b2", "orders=1,\u00b2", "orders=\u0663", "orders=\u2460", "=", "orders="],
)
def test_pairs_with_unicode_digits_are_input_errors(value: str) -> None:
    """The `--reads orders=²` traceback of issue 9 (`"²".isdigit()` is true, `int()` fails)."""
    for many in (True, False):
        with pytest.raises(InputError):
            parse_pairs([value], "--reads", many=many)
