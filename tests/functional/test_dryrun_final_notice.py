"""An SNS notice on every terminal state (issue 9): SUCCEEDED, ROLLED_FORWARD, HALTED, FAILED,
not only when a hotfix is needed.

``notify.final_notice`` builds it from the Report step's document and ``publish_final_notice``
sends it once per release. The last test is the end-to-end wish: the Report step sends it. It is
an expected failure until orchestrator/steps/report.py (another owner's) calls
``publish_final_notice`` and gets the ``notifier`` port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import TransientError
from orchestrator.steps.notify import FINAL_NOTICE, final_notice, publish_final_notice
from orchestrator.steps.report import ReportInput, build_report
from orchestrator.testing import Fakes

ROOT = Path(__file__).resolve().parents[2]
SEED = yaml.safe_load((ROOT / "examples" / "seed.yaml").read_text())


def report(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "release": "2026-11-28.1",
        "status": status,
        "final": {
            "enrich": {"version": "19", "weights": {"19": 100.0}, "status": "promoted"},
            "ingest": {"version": "43", "weights": {"43": 100.0}, "status": "promoted"},
            "store": {"version": "5", "weights": {"5": 100.0}, "status": "unchanged"},
        },
        "actions": [],
        **extra,
    }


@pytest.mark.parametrize("status", ["SUCCEEDED", "ROLLED_FORWARD", "HALTED", "FAILED"])
def test_every_terminal_status_has_a_notice(status: str) -> None:
    notice = final_notice(report(status))
    assert notice.subject.startswith(f"rollout 2026-11-28.1: {status}")
    assert f"Release 2026-11-28.1 ended {status}" in notice.message
    assert "enrich: [19: 100%] (promoted)" in notice.message
    assert "rollout status 2026-11-28.1" in notice.message
    assert not notice.wait and len(notice.subject) <= 100


def test_a_roll_forward_names_its_hotfixes_and_the_redrive() -> None:
    notice = final_notice(
        report(
            "ROLLED_FORWARD",
            hotfixes=[{"component": "enrich", "version": "19"}],
            failure={
                "component": "ingest",
                "version": "43",
                "step": 10.0,
                "broken": "enrich",
                "reasons": ["dead-letter queue of orders grew by 150 > max_dlq_growth 0"],
            },
        )
    )
    assert notice.subject == "rollout 2026-11-28.1: ROLLED_FORWARD with enrich@19"
    assert "Hotfixes shipped: enrich@19" in notice.message
    assert "Failure: ingest@43 at 10.0% broke enrich" in notice.message
    assert "rollout redrive 2026-11-28.1 --queue <queue>" in notice.message


def test_a_failure_carries_its_error() -> None:
    notice = final_notice(
        report("FAILED", error={"Error": "HotfixTimeout", "Cause": "no hotfix within 86400 s"})
    )
    assert notice.subject == "rollout 2026-11-28.1: FAILED (HotfixTimeout)"
    assert "Error: HotfixTimeout: no hotfix within 86400 s" in notice.message
    assert "runbooks/abort.md" in notice.message


def test_it_is_sent_once_per_release() -> None:
    fakes = Fakes()
    assert publish_final_notice(fakes.ports, report("SUCCEEDED")) is not None
    assert publish_final_notice(fakes.ports, report("SUCCEEDED")) is None, "a retried Report"
    assert [s for s, _ in fakes.notifier.published] == ["rollout 2026-11-28.1: SUCCEEDED"]
    assert fakes.records.get("2026-11-28.1", FINAL_NOTICE) == {
        "status": "SUCCEEDED",
        "subject": "rollout 2026-11-28.1: SUCCEEDED",
    }


def test_a_notifier_that_fails_does_not_fail_the_step() -> None:
    fakes = Fakes()
    fakes.notifier.fail_next("publish", TransientError("SNS throttled"))
    notice = publish_final_notice(fakes.ports, report("HALTED"))
    assert notice is not None and fakes.notifier.published == []


def test_the_report_step_sends_the_final_notice() -> None:
    fakes = Fakes()
    context = fakes.plan_release(SEED)
    build_report(ReportInput(release=context.manifest.release), fakes.ports)
    subjects = [subject for subject, _ in fakes.notifier.published]
    assert subjects and subjects[-1].startswith(f"rollout {context.manifest.release}: ")
