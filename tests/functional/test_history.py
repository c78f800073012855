"""`rollout history`: the summaries built from the ledger, the record store's release listing
(the fake's and DynamoDB's Scan on moto, paged), and the command's input checks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from typer.testing import CliRunner

from orchestrator.aws.store import DynamoRecordStore, create_table
from orchestrator.cli.app import app
from orchestrator.errors import ReleaseStateError
from orchestrator.ports import ReleaseCatalog
from orchestrator.release import ledger
from orchestrator.release.history import RUNNING, history, release_picture, summarize
from orchestrator.testing import FakeRecordStore
from tests.functional.conftest import REGION
from tests.ledger_stories import T0, plan, running_story, seed_data, seed_story

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def three_releases(records: Any) -> None:
    seed_story(records, "2026-11-28.1", T0)
    seed_story(records, "2026-11-30.1", T0 + timedelta(days=2))
    running_story(records, "2026-12-01.1", T0 + timedelta(days=3))


def test_history_lists_the_latest_first_with_versions_status_and_rounds() -> None:
    records = FakeRecordStore()
    three_releases(records)
    found = history(records, records)
    assert [s.release for s in found] == ["2026-12-01.1", "2026-11-30.1", "2026-11-28.1"]
    running, done = found[0], found[2]
    assert running.status == RUNNING
    assert running.finished is None
    assert running.started == "2026-12-05T00:29:00Z"
    assert done.status == "ROLLED_FORWARD"
    assert (done.started, done.finished) == ("2026-12-02T00:29:00Z", "2026-12-02T01:19:00Z")
    assert done.rounds == 1
    assert done.components["enrich"].versions() == "17 -> 18 -> 19"
    assert done.components["ingest"].versions() == "42 -> 43"
    assert not done.components["store"].changed
    assert done.contract()["components"]["enrich"] == {
        "from": "17",
        "to": "18",
        "hotfixes": ["19"],
        "final": "19",
        "status": "promoted",
    }


def test_history_filters_by_component_and_limits() -> None:
    records = FakeRecordStore()
    three_releases(records)
    other = seed_data("2026-12-02.7")
    other["components"] = {"store": other["components"]["store"]}
    other["queues"] = {"enriched": other["queues"]["enriched"]}
    plan(records, other)
    assert [s.release for s in history(records, records, component="ingest", limit=2)] == [
        "2026-12-01.1",
        "2026-11-30.1",
    ]
    assert "2026-12-02.7" in [s.release for s in history(records, records, component="store")]
    assert history(records, records, component="nope") == []


def test_a_report_without_a_plan_is_not_a_release() -> None:
    records = FakeRecordStore()
    records.put("stray", "report", {"status": "SUCCEEDED"})
    assert history(records, records) == []


def test_summarize_a_release_that_planned_and_never_moved() -> None:
    summary = summarize("r", {"manifest": seed_data()}, None, None)
    assert (summary.status, summary.started, summary.finished, summary.rounds) == (
        RUNNING,
        None,
        None,
        0,
    )
    assert summary.components["enrich"].versions() == "17 -> 18"


def test_fake_listing_pages_until_the_last_one() -> None:
    records = FakeRecordStore()
    three_releases(records)
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = records.releases(("context", "report"), cursor, page_size=2)
        seen += [(release, kind) for release, kind, _ in page]
        pages += 1
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen)
    assert ("2026-12-01.1", "report") not in seen
    assert len(seen) == 5


@pytest.fixture
def dynamo_records(aws: None) -> DynamoRecordStore:
    client: DynamoDBClient = boto3.client("dynamodb", region_name=REGION)
    create_table(client, "rollout-history")
    return DynamoRecordStore(client, "rollout-history")


def test_dynamodb_lists_releases_with_a_paged_scan(dynamo_records: DynamoRecordStore) -> None:
    assert isinstance(dynamo_records, ReleaseCatalog)
    three_releases(dynamo_records)
    found: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        page, cursor = dynamo_records.releases(("context", "report"), cursor, page_size=3)
        found += [(release, kind) for release, kind, item in page if isinstance(item, dict)]
        pages += 1
        if cursor is None:
            break
    assert pages > 1  # Limit counts the records examined, so many pages hold fewer than 3
    assert sorted(found) == [
        ("2026-11-28.1", "context"),
        ("2026-11-28.1", "report"),
        ("2026-11-30.1", "context"),
        ("2026-11-30.1", "report"),
        ("2026-12-01.1", "context"),
    ]
    assert [s.release for s in history(dynamo_records, dynamo_records)] == [
        "2026-12-01.1",
        "2026-11-30.1",
        "2026-11-28.1",
    ]
    assert dynamo_records.releases((), None) == ([], None)


def test_the_scan_is_no_steps_permission() -> None:
    """Only an operator lists releases: no step's policy may grant dynamodb:Scan."""
    from orchestrator.permissions import all_step_actions

    assert DynamoRecordStore.OPERATOR_ACTIONS == ("dynamodb:Scan",)
    assert not [step for step, actions in all_step_actions().items() if "dynamodb:Scan" in actions]


def test_the_picture_of_a_stored_release_reads_the_ledger() -> None:
    records = FakeRecordStore()
    seed_story(records)
    picture = release_picture(records, "2026-11-28.1")
    assert [c["name"] for c in picture["components"]] == ["enrich", "ingest", "store"]
    assert picture["plan"]["waves"] == [["enrich"], ["ingest"]]  # as it started, not replanned
    [round_] = picture["rounds"]
    assert round_["hotfix"]["version"] == "19"
    assert round_["resolved_at"] == "2026-12-02T01:04:00Z"
    assert [f["at"] for f in picture["freezes"]] == ["2026-12-02T00:49:00Z"]
    enrich = picture["components"][0]
    assert enrich["hotfixes"] == ["19"]
    assert [a["action"] for a in enrich["actions"]] == ["shift"] * 3 + ["hotfix-shift"] * 3


def test_a_stored_plan_that_does_not_load_is_a_release_state_error() -> None:
    records = FakeRecordStore()
    seed_story(records)
    context = ledger.context_document(records, "2026-11-28.1")
    ledger.write_context_document(records, "2026-11-28.1", {**context, "manifest": {"release": 3}})
    with pytest.raises(ReleaseStateError, match=r"rollout status 2026-11-28\.1"):
        release_picture(records, "2026-11-28.1")
    # the history still lists it, with what it can read
    [summary] = history(records, records)
    assert summary.status == "ROLLED_FORWARD" and summary.components == {}


def test_the_picture_of_a_running_release_is_the_story_so_far() -> None:
    records = FakeRecordStore()
    running_story(records, "r2", T0)
    picture = release_picture(records, "r2")
    assert picture["status"] == RUNNING
    assert picture["finished"] is None
    assert len(picture["components"][0]["actions"]) == 1


cli = CliRunner()
NO_AWS: dict[str, str | None] = {
    "ROLLOUT_STATE_MACHINE_ARN": None,
    "ROLLOUT_TABLE_NAME": None,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_a_bad_limit_is_bad_input(limit: str) -> None:
    result = cli.invoke(app, ["history", "--limit", limit], env=NO_AWS)
    assert result.exit_code == 2
    assert "--limit" in result.stderr


def test_history_without_aws_is_an_environment_problem() -> None:
    result = cli.invoke(app, ["history", "-f", "json"], env=NO_AWS)
    assert result.exit_code == 3, result.stdout
    [error] = json.loads(result.stdout)["errors"]
    assert "ROLLOUT_STATE_MACHINE_ARN" in error["message"]


def test_history_help_teaches() -> None:
    result = cli.invoke(app, ["history", "--help"], env=NO_AWS)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for needle in ("--component", "--limit", "dynamodb:Scan", "rollout history --component enrich"):
        assert needle in text
