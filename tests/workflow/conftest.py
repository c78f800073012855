"""Workflow tests: the real ASL on the embedded engine, against the simulated account.

``dry`` builds a :class:`~orchestrator.local.dry_run.DryRun` on the session's engine after
emptying it, so every test starts from a fresh account. Every wait has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator.local.dry_run import DryRun
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.scenario import Scenario, scenario_from_data
from orchestrator.model.load import manifest_from_data

MakeRun = Callable[..., DryRun]


@pytest.fixture
def dry(engine: EmbeddedEngine) -> Iterator[MakeRun]:
    engine.reset()

    def make(
        manifest_data: dict[str, Any],
        scenario_data: dict[str, Any] | None = None,
        **options: Any,
    ) -> DryRun:
        manifest = manifest_from_data(manifest_data)
        scenario = scenario_from_data(scenario_data, manifest) if scenario_data else Scenario()
        run = DryRun(manifest, manifest_data, scenario, engine=engine, **options)
        run.setup()
        return run

    yield make


def moves(result: Any) -> list[dict[str, Any]]:
    """The release's alias moves, in order."""
    return list(result.report.get("actions", []))


def moves_of(result: Any, component: str) -> list[dict[str, Any]]:
    return [m for m in moves(result) if m["component"] == component]


def assert_never_backwards(result: Any, from_versions: dict[str, str]) -> None:
    """No alias move lowered a newer version's share, except proven-safe pull-backs."""
    for move in moves(result):
        if move["action"] == "pull-back":
            continue
        old = from_versions.get(move["component"])
        previous, now = move["previous"], move["weights"]
        if old is not None:
            assert now.get(old, 0) <= previous.get(old, 0), move


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
