"""CloudWatchMetricSource against moto's CloudWatch (and a Stubber for pagination)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import ANY, Stubber

from orchestrator.aws.actions import ActionRecorder
from orchestrator.aws.metrics import CloudWatchMetricSource, to_data_query
from orchestrator.errors import EnvironmentProblemError, TransientError
from orchestrator.model.live import MetricQuery

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

from tests.functional.conftest import REGION

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
START, END = NOW - timedelta(minutes=10), NOW


@pytest.fixture
def cloudwatch(aws: None) -> CloudWatchClient:
    return boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def source(cloudwatch: CloudWatchClient) -> CloudWatchMetricSource:
    return CloudWatchMetricSource(cloudwatch)


def _stub_client() -> CloudWatchClient:
    return boto3.client(
        "cloudwatch", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"
    )


def lambda_query(qid: str, metric: str, version: str, stat: str = "Sum") -> MetricQuery:
    return MetricQuery(
        id=qid,
        namespace="AWS/Lambda",
        metric=metric,
        dimensions={
            "FunctionName": "enrich",
            "Resource": "enrich:live",
            "ExecutedVersion": version,
        },
        stat=stat,
    )


def _put(
    cloudwatch: CloudWatchClient, metric: str, version: str, minutes_ago: int, value: float
) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "FunctionName", "Value": "enrich"},
                    {"Name": "Resource", "Value": "enrich:live"},
                    {"Name": "ExecutedVersion", "Value": version},
                ],
                "Timestamp": NOW - timedelta(minutes=minutes_ago),
                "Value": value,
            }
        ],
    )


def test_query_reads_the_new_version_only(
    source: CloudWatchMetricSource, cloudwatch: CloudWatchClient
) -> None:
    for minutes_ago in (1, 3, 5):
        _put(cloudwatch, "Invocations", "18", minutes_ago, 40.0)
        _put(cloudwatch, "Invocations", "17", minutes_ago, 360.0)
    _put(cloudwatch, "Errors", "18", 3, 2.0)
    results = source.query(
        [
            lambda_query("inv", "Invocations", "18"),
            lambda_query("err", "Errors", "18"),
            lambda_query("thr", "Throttles", "18"),
            lambda_query("peak", "Invocations", "18", stat="Maximum"),
        ],
        START,
        END,
    )
    assert set(results) == {"inv", "err", "thr", "peak"}
    assert results["inv"].total == 120.0
    assert results["err"].values == [2.0]
    assert results["thr"].values == []
    assert results["thr"].complete
    assert results["peak"].maximum == 40.0
    assert all(r.complete for r in results.values())


def test_all_queries_go_in_one_call(
    source: CloudWatchMetricSource, cloudwatch: CloudWatchClient
) -> None:
    queries = [lambda_query(f"q{i}", "Errors", str(i)) for i in range(20)]
    with ActionRecorder(cloudwatch) as recorded:
        source.query(queries, START, END)
    assert recorded.calls == ["cloudwatch:GetMetricData"]


def test_more_queries_than_one_request_allows_are_split(
    source: CloudWatchMetricSource, cloudwatch: CloudWatchClient
) -> None:
    queries = [lambda_query(f"q{i}", "Errors", str(i)) for i in range(501)]
    with ActionRecorder(cloudwatch) as recorded:
        results = source.query(queries, START, END)
    assert recorded.calls == ["cloudwatch:GetMetricData"] * 2
    assert len(results) == 501


def test_no_queries_no_call(source: CloudWatchMetricSource, cloudwatch: CloudWatchClient) -> None:
    with ActionRecorder(cloudwatch) as recorded:
        assert source.query([], START, END) == {}
    assert recorded.calls == []


def test_duplicate_ids_are_refused(source: CloudWatchMetricSource) -> None:
    with pytest.raises(ValueError, match="unique"):
        source.query(
            [lambda_query("a", "Errors", "1"), lambda_query("a", "Errors", "2")], START, END
        )


def test_pages_are_followed_and_status_kept() -> None:
    client = _stub_client()
    queries = [lambda_query("inv", "Invocations", "18"), lambda_query("err", "Errors", "18")]
    first = {
        "MetricDataQueries": [to_data_query(q) for q in queries],
        "StartTime": START,
        "EndTime": END,
        "ScanBy": "TimestampDescending",
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "inv", "Values": [5.0, 6.0], "StatusCode": "PartialData"},
                    {"Id": "err", "Values": [1.0], "StatusCode": "PartialData"},
                ],
                "NextToken": "page-2",
            },
            first,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "inv", "Values": [7.0], "StatusCode": "Complete"},
                    {"Id": "err", "Values": [], "StatusCode": "PartialData"},
                ]
            },
            {**first, "NextToken": "page-2"},
        )
        results = CloudWatchMetricSource(client).query(queries, START, END)
        stub.assert_no_pending_responses()
    assert results["inv"].values == [5.0, 6.0, 7.0]
    assert results["inv"].complete
    assert results["err"].values == [1.0]
    assert not results["err"].complete


def test_a_series_cloudwatch_did_not_return_is_incomplete() -> None:
    client = _stub_client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "inv", "Values": [1.0], "StatusCode": "Complete"}]},
            {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": ANY},
        )
        results = CloudWatchMetricSource(client).query(
            [lambda_query("inv", "Invocations", "18"), lambda_query("err", "Errors", "18")],
            START,
            END,
        )
    assert results["err"].values == []
    assert not results["err"].complete


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("Throttling", 400, TransientError),
        ("InternalServiceError", 500, TransientError),
        ("AccessDenied", 403, EnvironmentProblemError),
    ],
)
def test_failed_reads_are_translated(code: str, status: int, error: type[Exception]) -> None:
    client = _stub_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_data", code, "no", status)
        with pytest.raises(error, match="cloudwatch:GetMetricData on inv"):
            CloudWatchMetricSource(client).query([lambda_query("inv", "Errors", "1")], START, END)


def _alarm(cloudwatch: CloudWatchClient, name: str, state: str | None = None) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    if state:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")  # type: ignore[arg-type]


def test_alarm_states(source: CloudWatchMetricSource, cloudwatch: CloudWatchClient) -> None:
    _alarm(cloudwatch, "enrich-errors", "ALARM")
    _alarm(cloudwatch, "enrich-latency")
    _alarm(cloudwatch, "unrelated", "ALARM")
    states = source.alarm_states(["enrich-errors", "enrich-latency", "absent", "enrich-errors"])
    assert states == {"enrich-errors": "ALARM", "enrich-latency": "OK"}


def test_alarm_names_are_asked_in_chunks_of_100(
    source: CloudWatchMetricSource, cloudwatch: CloudWatchClient
) -> None:
    names = [f"alarm-{i:03}" for i in range(150)]
    for name in names[::10]:
        _alarm(cloudwatch, name)
    with ActionRecorder(cloudwatch) as recorded:
        states = source.alarm_states(names)
    assert recorded.calls == ["cloudwatch:DescribeAlarms"] * 2
    assert set(states) == set(names[::10])


def test_no_alarms_no_call(source: CloudWatchMetricSource, cloudwatch: CloudWatchClient) -> None:
    with ActionRecorder(cloudwatch) as recorded:
        assert source.alarm_states([]) == {}
    assert recorded.calls == []


def test_composite_alarms_are_included() -> None:
    client = _stub_client()
    with Stubber(client) as stub:
        stub.add_response(
            "describe_alarms",
            {
                "MetricAlarms": [{"AlarmName": "a", "StateValue": "OK"}],
                "CompositeAlarms": [{"AlarmName": "c", "StateValue": "ALARM"}],
            },
            {"AlarmNames": ["a", "c"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
        )
        assert CloudWatchMetricSource(client).alarm_states(["a", "c"]) == {"a": "OK", "c": "ALARM"}


def test_aws_actions_match_the_calls_made(
    source: CloudWatchMetricSource, cloudwatch: CloudWatchClient
) -> None:
    _alarm(cloudwatch, "a")
    with ActionRecorder(cloudwatch) as recorded:
        source.query([lambda_query("inv", "Invocations", "1")], START, END)
        source.alarm_states(["a"])
    assert recorded.actions == set(CloudWatchMetricSource.AWS_ACTIONS)
