"""Building the ports for a real Lambda environment from settings (read once, at the edge)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.aws.alias_router import LambdaAliasReader, LambdaAliasRouter
from orchestrator.aws.clock import SystemClock
from orchestrator.aws.metrics import CloudWatchMetricSource
from orchestrator.aws.notifier import SnsNotifier
from orchestrator.aws.queue_inspector import SqsQueueInspector
from orchestrator.aws.store import DynamoLeaseStore, DynamoRecordStore

if TYPE_CHECKING:
    from orchestrator.steps.runtime import Ports


class Settings(BaseSettings):
    """Environment of the step functions (set by infra/template.yaml)."""

    model_config = SettingsConfigDict(env_prefix="ROLLOUT_", extra="ignore")

    table_name: str
    topic_arn: str
    region: str | None = None
    endpoint_url: str | None = None


def ports_from_settings(settings: Settings | None = None) -> Ports:
    from orchestrator.steps.runtime import Ports

    s = settings or Settings()
    session = boto3.session.Session(region_name=s.region)
    config = Config(retries={"max_attempts": 3, "mode": "standard"})

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=s.endpoint_url, config=config)  # type: ignore[call-overload]

    cloudwatch = client("cloudwatch")
    dynamodb = client("dynamodb")
    return Ports(
        aliases=LambdaAliasRouter(client("lambda")),
        alias_reads=LambdaAliasReader(client("lambda")),
        queues=SqsQueueInspector(client("sqs"), cloudwatch),
        metrics=CloudWatchMetricSource(cloudwatch),
        leases=DynamoLeaseStore(dynamodb, s.table_name),
        records=DynamoRecordStore(dynamodb, s.table_name),
        notifier=SnsNotifier(client("sns"), s.topic_arn),
        clock=SystemClock(),
    )
