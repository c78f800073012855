"""The simulated figures as CloudWatch datapoints in the emulated account (moto's CloudWatch).

Lambda figures carry exactly the dimensions ``orchestrator.release.verify`` queries
(``FunctionName``, ``Resource`` = ``function:alias``, ``ExecutedVersion``), one datapoint per
piece of minute; ``AWS/SQS ApproximateAgeOfOldestMessage`` (dimension ``QueueName``) one per queue
at the end of the window. ``PutMetricData`` takes at most 500 datapoints a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.local.sqs_state import chunks

__all__ = ["METRIC_BATCH", "lambda_datapoints", "put_metrics", "queue_age_datapoint"]

METRIC_BATCH = 500


def lambda_datapoints(
    function: str,
    alias: str,
    version: str,
    figures: Sequence[tuple[datetime, dict[str, int]]],
) -> list[dict[str, Any]]:
    """``AWS/Lambda`` datapoints of one executed version: per piece of minute, each figure."""
    dimensions = [
        {"Name": "FunctionName", "Value": function},
        {"Name": "Resource", "Value": f"{function}:{alias}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    return [
        {
            "MetricName": metric,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": float(value),
            "Unit": "Count",
        }
        for timestamp, drawn in figures
        for metric, value in drawn.items()
    ]


def queue_age_datapoint(queue: str, at: datetime, age_seconds: float) -> dict[str, Any]:
    """``AWS/SQS ApproximateAgeOfOldestMessage`` of SQS queue ``queue`` at ``at``."""
    return {
        "MetricName": "ApproximateAgeOfOldestMessage",
        "Dimensions": [{"Name": "QueueName", "Value": queue}],
        "Timestamp": at,
        "Value": float(age_seconds),
        "Unit": "Seconds",
    }


def put_metrics(cloudwatch: Any, namespace: str, data: list[dict[str, Any]]) -> None:
    """Write ``data`` in batches (nothing when it is empty)."""
    for chunk in chunks(data, METRIC_BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
