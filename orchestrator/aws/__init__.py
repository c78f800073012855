"""boto3 adapters implementing ``orchestrator.ports``; clients are always passed in.

Each adapter class lists the IAM actions it calls in ``AWS_ACTIONS``, from which the
infrastructure derives each step's least-privilege policy.
"""

from __future__ import annotations

from orchestrator.aws.alias_router import LambdaAliasReader, LambdaAliasRouter
from orchestrator.aws.clock import SystemClock
from orchestrator.aws.errors import aws_call, translate_error
from orchestrator.aws.metrics import CloudWatchMetricSource
from orchestrator.aws.notifier import SnsNotifier
from orchestrator.aws.queue_inspector import SqsQueueInspector
from orchestrator.aws.store import (
    TABLE_ATTRIBUTE_DEFINITIONS,
    TABLE_KEY_SCHEMA,
    DynamoLeaseStore,
    DynamoRecordStore,
    create_table,
)

ADAPTERS = (
    LambdaAliasReader,
    LambdaAliasRouter,
    SqsQueueInspector,
    CloudWatchMetricSource,
    DynamoLeaseStore,
    DynamoRecordStore,
    SnsNotifier,
    SystemClock,
)
"""Every adapter class, for code that derives IAM policies from their ``AWS_ACTIONS``."""

__all__ = [
    "ADAPTERS",
    "TABLE_ATTRIBUTE_DEFINITIONS",
    "TABLE_KEY_SCHEMA",
    "CloudWatchMetricSource",
    "DynamoLeaseStore",
    "DynamoRecordStore",
    "LambdaAliasReader",
    "LambdaAliasRouter",
    "SnsNotifier",
    "SqsQueueInspector",
    "SystemClock",
    "aws_call",
    "create_table",
    "translate_error",
]
