"""A manifest over the 256 KiB execution input goes to the ledger; the input names it."""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import ReleaseNotFoundError
from orchestrator.model.load import manifest_from_data
from orchestrator.model.steps import StartInput
from orchestrator.release import ledger
from orchestrator.steps.validate_and_plan import validate_and_plan
from orchestrator.testing import Fakes
from tests.dag_factory import dag_manifest


def test_a_large_manifest_is_passed_by_reference_and_planned_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = dag_manifest(["a", "b"], [("a", "b")])
    fakes = Fakes()
    small = json.loads(ledger.execution_input(fakes.records, data, {}))
    assert small["manifest"] == data  # fits: inline, as pipelines send it
    monkeypatch.setattr(ledger, "INLINE_INPUT_BYTES", 100)
    monkeypatch.setattr(ledger, "CONTEXT_PART_BYTES", 300)  # several parts
    payload = json.loads(ledger.execution_input(fakes.records, data, {"dry_run": True}))
    assert "manifest" not in payload
    assert payload["manifest_ref"]["release"] == "r1"
    assert len(fakes.records.list("r1", "manifest-part#")) >= 3  # a header and two parts
    fakes.seed(manifest_from_data(data))
    # the state machine hands the step the whole input as `start`
    planned = validate_and_plan(StartInput.model_validate({"start": payload}), fakes.ports)
    assert (planned.release, planned.components) == ("r1", 2)
    assert ledger.load_context(fakes.records, "r1").manifest.release == "r1"


def test_a_reference_to_nothing_is_a_clear_error() -> None:
    fakes = Fakes()
    event = StartInput.model_validate({"manifest_ref": {"release": "r1", "digest": "0" * 32}})
    with pytest.raises(ReleaseNotFoundError, match="rollout start"):
        validate_and_plan(event, fakes.ports)


def test_an_input_with_no_manifest_is_refused() -> None:
    with pytest.raises(ValueError, match="manifest"):
        StartInput.model_validate({"options": {}})
