"""LambdaAliasRouter against moto's Lambda (and a Stubber where moto cannot answer)."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from orchestrator.aws.actions import ActionRecorder
from orchestrator.aws.alias_router import LambdaAliasRouter
from orchestrator.errors import AliasDriftError, ResourceMissingError, TransientError
from orchestrator.model.live import AliasState

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from tests.functional.conftest import REGION


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def lambda_client(aws: None) -> LambdaClient:
    """Function ``ingest`` with published versions 1, 2, 3 and alias ``live`` on version 1."""
    role = boto3.client("iam").create_role(RoleName="x", AssumeRolePolicyDocument="{}")
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(
        FunctionName="ingest",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )
    for n in range(3):
        client.update_function_configuration(FunctionName="ingest", Description=f"build {n}")
        client.publish_version(FunctionName="ingest")
    client.create_alias(FunctionName="ingest", Name="live", FunctionVersion="1")
    return client


@pytest.fixture
def router(lambda_client: LambdaClient) -> LambdaAliasRouter:
    return LambdaAliasRouter(lambda_client)


def test_read_plain_alias(router: LambdaAliasRouter) -> None:
    state = router.read("ingest", "live")
    assert (state.function, state.alias, state.version, state.extra) == ("ingest", "live", "1", {})
    assert state.revision_id
    assert state.weights == {"1": 100.0}


def test_read_weighted_alias(lambda_client: LambdaClient, router: LambdaAliasRouter) -> None:
    lambda_client.create_alias(
        FunctionName="ingest",
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    state = router.read("ingest", "canary")
    assert state.extra == {"2": 0.1}
    assert state.weights == {"1": 90.0, "2": 10.0}


def test_read_by_arn(lambda_client: LambdaClient, router: LambdaAliasRouter) -> None:
    arn = lambda_client.get_function(FunctionName="ingest")["Configuration"]["FunctionArn"]
    state = router.read(arn, "live")
    assert state.function == arn
    assert state.version == "1"
    assert router.version_exists(arn, "2")


def test_shift_in_steps_then_promote(router: LambdaAliasRouter) -> None:
    current = router.read("ingest", "live")
    canary = router.set_weights(current, "1", {"2": 0.1})
    assert canary.weights == {"1": 90.0, "2": 10.0}
    assert router.read("ingest", "live").same_routing(canary)

    half = router.set_weights(canary, "1", {"2": 0.5})
    assert half.weights == {"1": 50.0, "2": 50.0}

    promoted = router.set_weights(half, "2", None)
    assert promoted.version == "2"
    assert promoted.extra == {}
    assert promoted.weights == {"2": 100.0}
    assert router.read("ingest", "live").same_routing(promoted)


def _capture_update_alias(client: LambdaClient) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    client.meta.events.register("provide-client-params.lambda.UpdateAlias", record)
    return sent


def test_set_weights_passes_the_revision_it_read(
    lambda_client: LambdaClient, router: LambdaAliasRouter
) -> None:
    sent = _capture_update_alias(lambda_client)
    current = router.read("ingest", "live")
    router.set_weights(current, "1", {"3": 0.25})
    assert sent == [
        {
            "FunctionName": "ingest",
            "Name": "live",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"3": 0.25}},
            "RevisionId": current.revision_id,
        }
    ]


def test_a_built_state_moves_unconditionally(
    lambda_client: LambdaClient, router: LambdaAliasRouter
) -> None:
    sent = _capture_update_alias(lambda_client)
    router.set_weights(AliasState(function="ingest", alias="live", version="1"), "2", {})
    assert "RevisionId" not in sent[0]
    assert sent[0]["RoutingConfig"] == {"AdditionalVersionWeights": {}}


def test_moto_does_not_check_revision_id(router: LambdaAliasRouter) -> None:
    """DESIGN §6: moto accepts a stale RevisionId, so callers must also compare states.

    If this starts failing, moto learned to enforce it: good news, update DESIGN §6.
    """
    stale = router.read("ingest", "live").model_copy(update={"revision_id": "stale"})
    moved = router.set_weights(stale, "2", None)
    assert moved.version == "2"


def test_revision_mismatch_is_alias_drift() -> None:
    client = boto3.client("lambda", region_name=REGION)
    current = AliasState(function="ingest", alias="live", version="1", revision_id="r1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "update_alias",
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id.",
            412,
        )
        with pytest.raises(AliasDriftError, match="ingest:live") as caught:
            LambdaAliasRouter(client).set_weights(current, "2", None)
    assert caught.value.component == "ingest:live"


def test_throttled_update_is_transient() -> None:
    client = boto3.client("lambda", region_name=REGION)
    current = AliasState(function="ingest", alias="live", version="1", revision_id="r1")
    with Stubber(client) as stub:
        stub.add_client_error("update_alias", "TooManyRequestsException", "Rate exceeded", 429)
        with pytest.raises(TransientError):
            LambdaAliasRouter(client).set_weights(current, "2", None)


def test_missing_alias_or_function(router: LambdaAliasRouter) -> None:
    with pytest.raises(ResourceMissingError, match="ingest:nope") as caught:
        router.read("ingest", "nope")
    assert caught.value.resource == "ingest:nope"
    with pytest.raises(ResourceMissingError):
        router.read("absent", "live")


def test_moving_to_an_unpublished_version_is_refused(router: LambdaAliasRouter) -> None:
    with pytest.raises(ResourceMissingError):
        router.set_weights(router.read("ingest", "live"), "9", None)


@pytest.mark.parametrize(
    ("function", "version", "expected"),
    [
        ("ingest", "1", True),
        ("ingest", "3", True),
        ("ingest", "9", False),
        ("ingest", "$LATEST", False),
        ("ingest", "live", False),
        ("absent", "1", False),
    ],
)
def test_version_exists(
    router: LambdaAliasRouter, function: str, version: str, expected: bool
) -> None:
    assert router.version_exists(function, version) is expected


def test_aws_actions_match_the_calls_made(
    lambda_client: LambdaClient, router: LambdaAliasRouter
) -> None:
    with ActionRecorder(lambda_client) as recorded:
        current = router.read("ingest", "live")
        router.set_weights(current, "1", {"2": 0.1})
        router.version_exists("ingest", "2")
        router.version_exists("ingest", "9")
    assert recorded.actions == set(LambdaAliasRouter.AWS_ACTIONS)
