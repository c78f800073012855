"""Ground truth for the discovery tests: ``shared/realworld/INDEX.md`` and its templates.

The folder sits next to the repository (``<repo>/../shared/realworld``). Each template section of
INDEX.md has a heading ``## <n>. `<file>``` (main set) or ``### E<n>. `extras/<file>``` (extras)
and one fenced ``yaml`` block with the hand-checked graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.discovery import Graph

REALWORLD = (Path(__file__).resolve().parents[2] / ".." / "shared" / "realworld").resolve()
INDEX = REALWORLD / "INDEX.md"
MISSING_REASON = f"the real-world template corpus is absent ({INDEX} not found)"

EDGE_KINDS = ("produces", "consumes", "dlq")
#: Kinds whose edges the analyzer reports, as named in INDEX.md.
ALL_KINDS = ("produces", "consumes", "dlq", "non_lambda_producers", "consumes_polling")
#: Evidence tokens of INDEX.md the analyzer emits (first word of an evidence entry).
TOKEN_PREFIXES = (
    "event/",
    "esm",
    "policy/",
    "iam-policy/",
    "env/",
    "sns-subscription",
    "eventbridge-rule",
    "connector",
    "sfn-substitution/",
    "redrive",
    "queue-policy",
    "apigw-integration",
)

_HEADING = re.compile(r"^(?P<level>#{2,3}) (?P<num>E?\d+)\. `(?P<file>[^`]+)`", re.MULTILINE)
_YAML_BLOCK = re.compile(r"```yaml\n(?P<body>.*?)\n```", re.DOTALL)
_SHA_LINE = re.compile(r"^(?P<file>\S+\.yaml) (?P<sha>[0-9a-f]{64})$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    """One template of the corpus with its ground truth."""

    number: str  # "1".."12" or "E1".."E4"
    file: Path
    truth: dict[str, Any]

    @property
    def extra(self) -> bool:
        return self.number.startswith("E")

    @property
    def id(self) -> str:
        return f"{self.number}-{self.file.stem}"

    def edges(self, kind: str) -> set[str]:
        return set(self.truth.get(kind) or [])

    @property
    def guessed(self) -> set[str]:
        return set(self.truth.get("guessed") or [])

    @property
    def not_edges(self) -> set[str]:
        return set(self.truth.get("not_edges") or [])


def available() -> bool:
    return INDEX.is_file()


def load_cases() -> list[Case]:
    """Every section of INDEX.md that has a template and a ground-truth block."""
    if not available():
        return []
    text = INDEX.read_text(encoding="utf-8")
    headings = list(_HEADING.finditer(text))
    cases: list[Case] = []
    for i, match in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        block = _YAML_BLOCK.search(text, match.end(), end)
        if block is None:
            continue
        truth = yaml.safe_load(block.group("body"))
        cases.append(Case(match.group("num"), REALWORLD / match.group("file"), truth))
    return cases


def sha256_sums() -> dict[str, str]:
    if not available():
        return {}
    text = INDEX.read_text(encoding="utf-8")
    return {m.group("file"): m.group("sha") for m in _SHA_LINE.finditer(text)}


def found_edges(graph: Graph, kind: str) -> set[str]:
    return {e.name for e in graph.edges if e.kind == kind}


def hinted_edges(graph: Graph) -> set[str]:
    return {e.name for e in graph.hints}


def precision_recall(found: set[str], truth: set[str]) -> tuple[float, float]:
    """Precision and recall; an empty side counts as perfect (nothing to get wrong or miss)."""
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def vocabulary_tokens(entries: Iterable[str]) -> list[str]:
    """The INDEX evidence entries the analyzer is expected to reproduce, as bare tokens.

    An entry is free text starting with a token (``event/SQS with FilterCriteria``); state-machine
    entries start with ``sfn `` (``sfn policy/SQSSendMessagePolicy``). Entries outside the
    vocabulary (``code-only ...``, ``DependsOn ...``, ``inline ZipFile ...``) are skipped.
    """
    out: list[str] = []
    for entry in entries:
        text = str(entry).strip()
        text = text.removeprefix("sfn ")
        word = text.split()[0] if text.split() else ""
        if word.startswith(TOKEN_PREFIXES) and word not in out:
            out.append(word)
    return out
