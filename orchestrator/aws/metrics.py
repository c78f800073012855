"""``MetricSource`` on CloudWatch: metric statistics via GetMetricData, alarm states.

All queries of one verification go into one ``GetMetricData`` request (following ``NextToken``),
so the numbers a gate compares come from one consistent read and one API call's cost. A series
CloudWatch could not fully return (``StatusCode`` other than ``Complete``) is flagged incomplete so
the gate can answer INCONCLUSIVE or ERROR instead of trusting a partial sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from orchestrator.aws.errors import aws_call
from orchestrator.model.live import MetricQuery, MetricResult

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

MAX_QUERIES_PER_REQUEST = 500
"""GetMetricData's limit on ``MetricDataQueries``; longer lists are split into several requests."""

MAX_ALARM_NAMES_PER_REQUEST = 100
"""DescribeAlarms' limit on ``AlarmNames``."""


@dataclass
class Series:
    """Datapoints of one query gathered across pages, newest first as requested."""

    timestamps: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    status: str = ""


def to_data_query(query: MetricQuery) -> MetricDataQueryTypeDef:
    """One ``MetricDataQueries`` entry for ``query`` (always returned)."""
    return {
        "Id": query.id,
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric,
                "Dimensions": [
                    {"Name": k, "Value": v} for k, v in sorted(query.dimensions.items())
                ],
            },
            "Period": query.period,
            "Stat": query.stat,
        },
        "ReturnData": True,
    }


def fetch_series(
    client: CloudWatchClient, queries: Sequence[MetricQuery], start: datetime, end: datetime
) -> dict[str, Series]:
    """Run ``queries`` through GetMetricData, following every page; series keyed by query id.

    The status kept per series is the one on the last page that mentions it (earlier pages say
    ``PartialData`` while more follow).
    """
    out: dict[str, Series] = {q.id: Series() for q in queries}
    paginator = client.get_paginator("get_metric_data")
    for offset in range(0, len(queries), MAX_QUERIES_PER_REQUEST):
        chunk = queries[offset : offset + MAX_QUERIES_PER_REQUEST]
        pages = paginator.paginate(
            MetricDataQueries=[to_data_query(q) for q in chunk],
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        for page in pages:
            for result in page.get("MetricDataResults", []):
                series = out.setdefault(result.get("Id", ""), Series())
                series.timestamps.extend(result.get("Timestamps", []))
                series.values.extend(float(v) for v in result.get("Values", []))
                series.status = result.get("StatusCode", series.status)
    return out


class CloudWatchMetricSource:
    """Metric statistics and alarm states from CloudWatch."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = (
        "cloudwatch:GetMetricData",
        "cloudwatch:DescribeAlarms",
    )

    def __init__(self, cloudwatch_client: CloudWatchClient) -> None:
        self._client = cloudwatch_client

    def query(
        self, queries: Sequence[MetricQuery], start: datetime, end: datetime
    ) -> dict[str, MetricResult]:
        """All ``queries`` in one GetMetricData request (paginated), keyed by query id.

        A query CloudWatch did not answer at all comes back empty and incomplete.
        """
        if not queries:
            return {}
        ids = [q.id for q in queries]
        if len(set(ids)) != len(ids):
            raise ValueError(f"metric query ids must be unique: {sorted(ids)}")
        with aws_call("cloudwatch:GetMetricData", ", ".join(ids)):
            series = fetch_series(self._client, queries, start, end)
        return {
            q.id: MetricResult(
                id=q.id,
                values=series[q.id].values,
                complete=series[q.id].status == "Complete",
                timestamps=list(series[q.id].timestamps),
            )
            for q in queries
        }

    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        """``OK`` / ``ALARM`` / ``INSUFFICIENT_DATA`` per alarm name; missing alarms are absent.

        Metric and composite alarms are both asked for (DescribeAlarms returns only metric
        alarms unless told otherwise).
        """
        unique = list(dict.fromkeys(names))
        states: dict[str, str] = {}
        paginator = self._client.get_paginator("describe_alarms")
        with aws_call("cloudwatch:DescribeAlarms", ", ".join(unique)):
            for offset in range(0, len(unique), MAX_ALARM_NAMES_PER_REQUEST):
                chunk = unique[offset : offset + MAX_ALARM_NAMES_PER_REQUEST]
                pages = paginator.paginate(
                    AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
                for page in pages:
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        if "AlarmName" in alarm and "StateValue" in alarm:
                            states[alarm["AlarmName"]] = alarm["StateValue"]
        return states
