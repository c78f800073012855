"""The dry run's scripted operator (orchestrator/local/operator.py) as a pure object: a resume
counts as still to come until it has acted, so a hold the dry run's poll loop sees meanwhile (on
its own thread) waits for it instead of ending the release as one nobody will resume (seen in
CI: the resume at 7,200 s was refused because the poll had already halted the release)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.errors import RolloutError
from orchestrator.local import operator
from orchestrator.local.operator import ScenarioOperator
from orchestrator.local.scenario import OperatorAction

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _operator(actions: list[OperatorAction]) -> ScenarioOperator:
    timeline = SimpleNamespace(on_park=None, parent_leaves_hold=None)
    clock = SimpleNamespace(now=lambda: T0)
    deployment = SimpleNamespace(ports=SimpleNamespace(clock=clock), sfn=object())
    return ScenarioOperator("r1", actions, timeline, deployment)  # type: ignore[arg-type]


@pytest.mark.parametrize("refused", [False, True])
def test_a_resume_is_still_to_come_while_it_acts(
    monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    resume = OperatorAction(at=7200, do="resume")
    scripted = _operator([resume])
    seen: list[bool] = []

    def resume_release(*_: Any, **__: Any) -> None:
        seen.append(scripted.will_resume())  # what the poll loop would see right now
        if refused:
            raise RolloutError("not held")

    monkeypatch.setattr(operator, "resume_release", resume_release)
    assert scripted.will_resume()
    scripted._run(resume)
    assert seen == [True]
    assert not scripted.will_resume()  # acted (done or refused): no longer to come
    assert [e["outcome"] for e in scripted.log] == ["refused" if refused else "done"]
