"""The example under examples/components/ on the embedded engine (issue 12).

1. The example's Lambdas (ingest@42/43, enrich@17/18, imported from their files) are served over
   Lambda's Invoke API by a :class:`LambdaEndpoint` (what `rollout local-lambda` serves), one
   function per component, its published versions picked by the Invoke ``Qualifier``. Their boto3
   clients reach the engine's SQS through ``AWS_ENDPOINT_URL``. The producers send real messages
   to the engine's queues; the test plays the SQS event source mapping: it receives from `orders`,
   invokes enrich with the batch, deletes what the answer does not list in ``batchItemFailures``
   and makes the rest visible again (a function error fails the whole batch), until the queue is
   empty; the queue's redrive policy (``maxReceiveCount`` 3) moves what keeps failing to the DLQ,
   as on AWS. A schema-1 and a schema-2 order are handled; a schema-3 one ends in the DLQ.
2. The per-schema metrics reach the engine's CloudWatch the way Lambda's log ingestion makes them
   on AWS: the test harness captures the EMF documents the handler printed and puts the figures
   they describe with ``PutMetricData`` (``orchestrator.contracts.metrics.emf_to_metric_data``),
   then reads them back with ``GetMetricData``, by the documented dimensions.
3. The example's manifest (built with `rollout declare`) dry-runs on the real state machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from orchestrator.contracts.declaration import import_target
from orchestrator.contracts.metrics import emf_to_metric_data, parse_emf
from orchestrator.local.engine import EmbeddedEngine
from orchestrator.local.lambda_endpoint import LambdaEndpoint
from tests.unit.test_contracts_events import from_received
from tests.workflow.conftest import MakeRun, moves

pytestmark = pytest.mark.workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "components"
MAX_RECEIVE_COUNT = 3


def load(name: str) -> ModuleType:
    return import_target(str(EXAMPLES / f"{name}.py"))


def by_version(handlers: dict[str, Callable[..., Any]]) -> Callable[[dict[str, Any], Any], Any]:
    """One function whose published versions run different code (picked by the qualifier)."""

    def handler(event: dict[str, Any], context: Any) -> Any:
        return handlers[context.function_version](event, context)

    return handler


@pytest.fixture
def account(engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Queues on the engine (orders with its DLQ and redrive policy, enriched) and the example's
    Lambdas on a local Invoke endpoint, their clients pointed at the engine."""
    engine.reset()
    sqs = engine.client("sqs")
    dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    orders = sqs.create_queue(
        QueueName="orders", Attributes={"RedrivePolicy": json.dumps(redrive)}
    )["QueueUrl"]
    enriched = sqs.create_queue(QueueName="enriched")["QueueUrl"]
    for name, value in {
        "AWS_ENDPOINT_URL": engine.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": engine.region,
        "ORDERS_QUEUE_URL": orders,
        "ENRICHED_QUEUE_URL": enriched,
    }.items():
        monkeypatch.setenv(name, value)
    modules = {
        name: load(name) for name in ("ingest_v42", "ingest_v43", "enrich_v17", "enrich_v18")
    }
    for module in modules.values():
        module.sqs.cache_clear()
    handlers = {
        "ingest": by_version(
            {"42": modules["ingest_v42"].handler, "43": modules["ingest_v43"].handler}
        ),
        "enrich": by_version(
            {"17": modules["enrich_v17"].handler, "18": modules["enrich_v18"].handler}
        ),
    }
    with LambdaEndpoint(handlers) as endpoint:
        yield {
            "sqs": sqs,
            "cloudwatch": engine.client("cloudwatch"),
            "lambda": _lambda_client(engine, endpoint),
            "orders": orders,
            "dlq": dlq,
            "enriched": enriched,
        }
    for module in modules.values():
        module.sqs.cache_clear()


def _lambda_client(engine: EmbeddedEngine, endpoint: LambdaEndpoint) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=engine.region
    ).client("lambda", endpoint_url=endpoint.url)


def invoke(lam: Any, function: str, version: str, event: dict[str, Any]) -> tuple[Any, bool]:
    response = lam.invoke(FunctionName=function, Qualifier=version, Payload=json.dumps(event))
    assert response["ExecutedVersion"] == version
    return json.loads(response["Payload"].read()), "FunctionError" in response


def drive_event_source(sqs: Any, lam: Any, queue_url: str, version: str) -> list[list[str]]:
    """Play the SQS event source mapping (ReportBatchItemFailures) until the queue is empty.

    Returns the message ids the consumer failed, per invocation."""
    failed_per_batch: list[list[str]] = []
    for _ in range(4 * MAX_RECEIVE_COUNT):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not messages:
            return failed_per_batch
        event = {"Records": [from_received(m, "orders") for m in messages]}
        answer, function_error = invoke(lam, "enrich", version, event)
        if function_error:  # the whole batch failed: every message is retried
            failed = {m["MessageId"] for m in messages}
        else:
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        failed_per_batch.append(sorted(failed))
        for message in messages:
            if message["MessageId"] in failed:  # retried at once (visibility timeout 0)
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    raise AssertionError("the queue did not empty: a message was neither handled nor dead-lettered")


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(10):
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return out
        out.extend(batch)
    return out


def publish_emf(cloudwatch: Any, output: str) -> int:
    """The harness's stand-in for Lambda's EMF ingestion: PutMetricData of what the logs say."""
    documents = parse_emf(output)
    for document in documents:
        for namespace, data in emf_to_metric_data(document).items():
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    return len(documents)


def metric_sum(cloudwatch: Any, metric: str, dimensions: dict[str, str]) -> float:
    now = datetime.now(UTC)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Rollout/Contracts",
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
    )
    return float(sum(result["MetricDataResults"][0]["Values"]))


def test_example_consumer_handles_schemas_1_and_2_and_dead_letters_3(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, lam = account["sqs"], account["lambda"]
    line = {"sku": "tea", "quantity": 2, "unit_price_cents": 350}
    sent_v1, _ = invoke(
        lam, "ingest", "42", {"orders": [{"order_id": "o-1", "customer": "c-1", "lines": [line]}]}
    )
    sent_v2, _ = invoke(
        lam,
        "ingest",
        "43",
        {"orders": [{"order_id": "o-2", "customer_id": "c-2", "currency": "EUR", "lines": [line]}]},
    )
    assert (sent_v1["sent"], sent_v2["sent"]) == (1, 1)
    # a producer from the future: schema 3, stamped by the same helper
    from pydantic import BaseModel

    from orchestrator.contracts import Component

    class OrderV3(BaseModel):
        order_id: str
        account: str

    future = Component("ingest").writes("orders", 3, OrderV3)
    future.send(sqs, account["orders"], OrderV3(order_id="o-3", account="a-3"))

    failed = drive_event_source(sqs, lam, account["orders"], version="18")
    (schema_3_id,) = failed[0]
    assert all(batch == [schema_3_id] for batch in failed)
    assert len(failed) == MAX_RECEIVE_COUNT  # received, failed and retried until redriven

    (dead,) = drain(sqs, account["dlq"])
    assert dead["MessageId"] == schema_3_id
    assert dead["MessageAttributes"]["schema_version"]["StringValue"] == "3"
    enriched = sorted(
        (json.loads(m["Body"]) for m in drain(sqs, account["enriched"])),
        key=lambda body: body["order_id"],
    )
    assert [(e["order_id"], e["customer_id"], e["currency"]) for e in enriched] == [
        ("o-1", "c-1", "GBP"),  # schema 1, through the upgrade 1 -> 2
        ("o-2", "c-2", "EUR"),
    ]

    assert publish_emf(account["cloudwatch"], capsys.readouterr().out) > 0
    cloudwatch = account["cloudwatch"]
    per_version = {"service": "enrich", "Queue": "orders", "ExecutedVersion": "18"}
    assert metric_sum(cloudwatch, "MessagesProcessed", {**per_version, "SchemaVersion": "1"}) == 1
    assert metric_sum(cloudwatch, "MessagesProcessed", {**per_version, "SchemaVersion": "2"}) == 1
    assert (
        metric_sum(cloudwatch, "MessagesUnreadable", {**per_version, "SchemaVersion": "3"})
        == MAX_RECEIVE_COUNT  # every delivery counts, like the dry run's ledger
    )
    alias_wide = {"service": "enrich", "Queue": "orders", "SchemaVersion": "3"}
    assert metric_sum(cloudwatch, "MessagesUnreadable", alias_wide) == MAX_RECEIVE_COUNT
    assert metric_sum(cloudwatch, "MessagesFailed", {**per_version, "SchemaVersion": "2"}) == 0


def test_enrich_17_reports_schema_2_unreadable_and_never_acknowledges_it(
    account: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, lam = account["sqs"], account["lambda"]
    line = {"sku": "tea", "quantity": 1, "unit_price_cents": 100}
    order = {"order_id": "o-2", "customer_id": "c-2", "currency": "GBP", "lines": [line]}
    invoke(lam, "ingest", "43", {"orders": [order]})
    failed = drive_event_source(sqs, lam, account["orders"], version="17")
    assert len(failed) == MAX_RECEIVE_COUNT
    assert len(drain(sqs, account["dlq"])) == 1
    assert drain(sqs, account["enriched"]) == []
    publish_emf(account["cloudwatch"], capsys.readouterr().out)
    unreadable = metric_sum(
        account["cloudwatch"],
        "MessagesUnreadable",
        {"service": "enrich", "Queue": "orders", "SchemaVersion": "2", "ExecutedVersion": "17"},
    )
    assert unreadable == MAX_RECEIVE_COUNT


def test_the_example_manifest_dry_runs_consumer_first(dry: MakeRun) -> None:
    manifest = yaml.safe_load((EXAMPLES / "manifest.yaml").read_text())
    result = dry(manifest).run(timeout=300)
    assert result.status == "SUCCEEDED", result.report.get("error")
    order = [m["component"] for m in moves(result)]
    assert order[0] == "enrich"
    assert order.index("ingest") > max(i for i, c in enumerate(order) if c == "enrich")
    assert result.contract()["final"]["enrich"]["weights"] == {"18": 100}
    assert result.contract()["final"]["ingest"]["weights"] == {"43": 100}
