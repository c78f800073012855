"""The constraint DAG, critical-path ranks and child execution names (pure)."""

from __future__ import annotations

import pytest

from orchestrator.model.plan import Constraint, Plan
from orchestrator.planning.schedule import (
    MAX_EXECUTION_NAME,
    critical_path,
    dag_of,
    execution_name,
    priority_order,
    ranks,
)


def plan(waves: list[list[str]], edges: list[tuple[str, str]]) -> Plan:
    return Plan(
        release="r1",
        waves=waves,
        constraints=[
            Constraint(before=u, after=v, queue=f"{u}-{v}", kind="consumer-first", reason="test")
            for u, v in edges
        ],
        drains=[],
        unchanged=["x"],
    )


DIAMOND = plan([["a"], ["b", "c"], ["d"]], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])


def test_dag_has_the_constraints_between_shifted_components() -> None:
    dag = dag_of(DIAMOND)
    assert dag.nodes == ("a", "b", "c", "d")
    assert dag.predecessors["d"] == {"b", "c"}
    assert dag.successors["a"] == {"b", "c"}
    assert dag.roots() == ["a"]
    done = {"a", "b"}
    assert dag.ready("b", done.__contains__)
    assert not dag.ready("d", done.__contains__)  # c is not done yet


def test_ranks_are_the_longest_remaining_path() -> None:
    times = {"a": 10.0, "b": 100.0, "c": 1.0, "d": 5.0}
    rank = ranks(dag_of(DIAMOND), times.__getitem__)
    assert rank == {"d": 5.0, "b": 105.0, "c": 6.0, "a": 115.0}
    assert priority_order(["c", "b", "d"], rank) == ["b", "c", "d"]


def test_critical_path_follows_the_longest_branch() -> None:
    times = {"a": 10.0, "b": 100.0, "c": 1.0, "d": 5.0}
    length, path = critical_path(dag_of(DIAMOND), times.__getitem__)
    assert (length, path) == (115.0, ["a", "b", "d"])


def test_ties_break_by_name_so_the_order_is_deterministic() -> None:
    even = ranks(dag_of(DIAMOND), lambda _: 1.0)
    assert priority_order(["c", "b"], even) == ["b", "c"]
    assert critical_path(dag_of(DIAMOND), lambda _: 1.0) == (3.0, ["a", "b", "d"])


def test_an_empty_plan_has_no_critical_path() -> None:
    assert critical_path(dag_of(plan([], [])), lambda _: 1.0) == (0.0, [])


@pytest.mark.parametrize("component", ["enrich", "x" * 120])
def test_execution_names_are_deterministic_and_fit(component: str) -> None:
    name = execution_name("2026-11-28.1", component, 2)
    assert name == execution_name("2026-11-28.1", component, 2)
    assert len(name) <= MAX_EXECUTION_NAME
    assert name.endswith("--r2")
    assert name != execution_name("2026-11-28.1", component, 3)
    assert execution_name("2026-11-28.1", "x" * 120, 1) != execution_name(
        "2026-11-28.1", "x" * 119 + "y", 1
    )
