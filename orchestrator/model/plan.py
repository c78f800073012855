"""The release plan: what the planner decides and what the workflow executes (DESIGN §4, §7)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

ConstraintKind = Literal["consumer-first", "producer-first-drain"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Constraint(_Model):
    """``before`` must be fully on its new version before ``after`` starts shifting."""

    before: str
    after: str
    queue: str
    kind: ConstraintKind
    reason: str


class Drain(_Model):
    """Before any of ``before`` shifts, ``queue`` must hold no message of ``schema`` any more.

    Messages of ``schema`` stop arriving once every component in ``after`` is fully cut over.
    """

    queue: str
    schema_: int | str = Field(alias="schema")
    after: list[str]
    before: list[str]

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Edge(TypedDict):
    """One producer -> queue -> consumer relation and how the planner classified it.

    A plain mapping: a 10,000-component release has about 20,000 of them.
    """

    producer: str
    queue: str
    consumer: str
    kind: Literal["none", "consumer-first", "producer-first-drain", "infeasible"]


class Plan(_Model):
    release: str
    waves: list[list[str]]
    constraints: list[Constraint]
    drains: list[Drain]
    unchanged: list[str]
    edges: list[Edge] = Field(default_factory=list)

    def wave_of(self, component: str) -> int | None:
        for index, wave in enumerate(self.waves):
            if component in wave:
                return index
        return None

    def contract(self) -> dict[str, object]:
        """The JSON document of DESIGN §7 (`plan --format json`)."""
        return self.model_dump(mode="json", by_alias=True)
