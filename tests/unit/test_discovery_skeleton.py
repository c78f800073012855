"""``to_manifest_skeleton``: a DESIGN §3 manifest skeleton from a discovered graph."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from orchestrator.discovery import discover, load_template, to_manifest_skeleton
from orchestrator.discovery.loader import parse_template
from orchestrator.model.load import manifest_from_data
from tests.unit.realworld_index import MISSING_REASON, REALWORLD, available

needs_corpus = pytest.mark.skipif(not available(), reason=MISSING_REASON)


def filled(skeleton: dict[str, Any]) -> dict[str, Any]:
    """The skeleton with its placeholders replaced, as a user would."""
    data = copy.deepcopy(skeleton)
    data["release"] = "r1"
    for component in data["components"].values():
        component["from"]["version"] = "1"
        component["to"]["version"] = "2"
    return data


@needs_corpus
def test_skeleton_of_a_real_template_round_trips_through_yaml() -> None:
    graph = discover(load_template(REALWORLD / "sp-serverless-message-processing.yaml"))
    skeleton = to_manifest_skeleton(graph)
    text = yaml.safe_dump(skeleton, sort_keys=False)
    assert "&id" not in text
    assert "*id" not in text
    assert yaml.safe_load(text) == skeleton
    assert skeleton == {
        "release": "CHANGE-ME",
        "queues": {
            "MainQueue": {
                "url": "https://sqs.REGION.amazonaws.com/ACCOUNT/MainQueue",
                "dlq_url": "https://sqs.REGION.amazonaws.com/ACCOUNT/AutomatedDLQ",
            },
            "AutomatedDLQ": {"url": "https://sqs.REGION.amazonaws.com/ACCOUNT/AutomatedDLQ"},
            "FatalDLQ": {"url": "https://sqs.REGION.amazonaws.com/ACCOUNT/FatalDLQ"},
        },
        "components": {
            "ProcessMessages": {
                "function": "ProcessMessages",
                "from": {"version": "CHANGE-ME", "reads": {"MainQueue": [1]}},
                "to": {"version": "CHANGE-ME", "reads": {"MainQueue": [1]}},
            },
            "DecisionMaker": {
                "function": "DecisionMaker",
                "from": {
                    "version": "CHANGE-ME",
                    "reads": {"AutomatedDLQ": [1]},
                    "writes": {"MainQueue": 1, "FatalDLQ": 1},
                },
                "to": {
                    "version": "CHANGE-ME",
                    "reads": {"AutomatedDLQ": [1]},
                    "writes": {"MainQueue": 1, "FatalDLQ": 1},
                },
            },
        },
    }
    assert graph.unlinked == ()


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "sp-serverless-message-processing.yaml",
        "sts-apigw-sqs-lambda-sqs.yaml",
        "sp-sns-sqs-lambda-xray.yaml",
        "starfleet-sam-no-ecr.yaml",
        "shopping-cart-service.yaml",
        "solutions-constructs-lambda-sqs-lambda-cfn.yaml",
        "sqs-priority-queues-cfn.yaml",
        "extras/sqs-dlq-replay-backoff.yaml",
    ],
)
def test_filled_skeleton_is_a_valid_manifest(name: str) -> None:
    skeleton = to_manifest_skeleton(discover(load_template(REALWORLD / name)), release="x")
    round_tripped = yaml.safe_load(yaml.safe_dump(skeleton))
    assert round_tripped == skeleton
    manifest = manifest_from_data(filled(skeleton))
    assert set(manifest.components) == set(skeleton["components"])


@needs_corpus
def test_literal_queue_names_make_the_urls_and_unlinked_functions_stay_out() -> None:
    graph = discover(load_template(REALWORLD / "starfleet-sam-no-ecr.yaml"))
    skeleton = to_manifest_skeleton(graph)
    assert skeleton["queues"]["StarbaseFanoutQueue"] == {
        "url": "https://sqs.REGION.amazonaws.com/ACCOUNT/starbase-fanout-queue",
        "dlq_url": "https://sqs.REGION.amazonaws.com/ACCOUNT/starbase-fanout-dlq",
    }
    cart = discover(load_template(REALWORLD / "shopping-cart-service.yaml"))
    cart_skeleton = to_manifest_skeleton(cart)
    assert set(cart_skeleton["components"]) == {"MigrateCartFunction", "DeleteFromCartFunction"}
    assert "AddToCartFunction" in cart.unlinked
    assert "defaults" not in cart_skeleton  # AutoPublishAlias: live is the default alias


def test_hints_never_reach_the_skeleton_and_aliases_carry_over() -> None:
    graph = discover(
        parse_template(
            """
Globals:
  Function: {AutoPublishAlias: blue}
Resources:
  Q: {Type: AWS::SQS::Queue}
  Only: {Type: AWS::SQS::Queue, Properties: {QueueName: only}}
  P:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [{SQSSendMessagePolicy: {QueueName: !GetAtt Q.QueueName}}]
  Guess:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [{SQSSendMessagePolicy: {QueueName: "onl*"}}]
  C:
    Type: AWS::Serverless::Function
    Properties:
      Events: {E: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}}
"""
        )
    )
    assert [e.name for e in graph.hints] == ["Guess->Only"]
    skeleton = to_manifest_skeleton(graph, release="2026-01-01.1")
    assert skeleton["release"] == "2026-01-01.1"
    assert skeleton["defaults"] == {"alias": "blue"}
    assert list(skeleton["queues"]) == ["Q"]
    assert list(skeleton["components"]) == ["P", "C"]
    assert graph.unlinked == ("Guess",)
    manifest_from_data(filled(skeleton))


def test_external_queue_names_are_valid_manifest_keys() -> None:
    graph = discover(
        parse_template(
            """
Parameters:
  OutQueueName: {Type: String}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [{SQSSendMessagePolicy: {QueueName: !Ref OutQueueName}}]
      Events: {E: {Type: SQS, Properties: {Queue: !ImportValue "shared:in-queue"}}}
"""
        )
    )
    skeleton = to_manifest_skeleton(graph)
    assert skeleton["queues"] == {
        "shared-in-queue": {"url": "https://sqs.REGION.amazonaws.com/ACCOUNT/shared-in-queue"},
        "OutQueueName": {"url": "https://sqs.REGION.amazonaws.com/ACCOUNT/OutQueueName"},
    }
    manifest_from_data(filled(skeleton))
