"""botocore failures become the project's errors, naming the operation and the resource."""

from __future__ import annotations

from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from orchestrator.aws.alias_router import LambdaAliasRouter
from orchestrator.aws.errors import aws_call, is_missing, translate_error
from orchestrator.errors import (
    AliasDriftError,
    EnvironmentProblemError,
    LockConflictError,
    ResourceMissingError,
    TransientError,
)

pytestmark = pytest.mark.usefixtures("fake_credentials")


def client_error(code: str, status: int = 400, **error: Any) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"the {code} message", **error},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(cast("Any", response), "SomeOperation")


@pytest.mark.parametrize(
    "code",
    [
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "ServiceException",
    ],
)
def test_throttling_is_transient(code: str) -> None:
    error = translate_error(client_error(code), "lambda:GetAlias", "f:live")
    assert isinstance(error, TransientError)
    assert "lambda:GetAlias on f:live" in str(error)
    assert code in str(error)


def test_any_5xx_is_transient() -> None:
    error = translate_error(client_error("SomethingOdd", 503), "sqs:GetQueueAttributes", "q")
    assert isinstance(error, TransientError)


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("ResourceNotFoundException", {}),
        ("QueueDoesNotExist", {}),
        ("AWS.SimpleQueueService.NonExistentQueue", {}),
        ("AWS.SimpleQueueService.NonExistentQueue", {"QueryErrorCode": "QueueDoesNotExist"}),
        ("NotFound", {}),
    ],
)
def test_missing_resources(code: str, extra: dict[str, str]) -> None:
    exc = client_error(code, 404, **extra)
    error = translate_error(exc, "lambda:GetAlias", "f:live")
    assert is_missing(exc)
    assert isinstance(error, ResourceMissingError)
    assert error.resource == "f:live"
    assert error.exit_code == 3


def test_revision_mismatch_is_alias_drift() -> None:
    error = translate_error(
        client_error("PreconditionFailedException", 412), "lambda:UpdateAlias", "f:live"
    )
    assert isinstance(error, AliasDriftError)
    assert error.component == "f:live"


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "AccessDenied", "UnrecognizedClientException"]
)
def test_access_denied_names_the_iam_action(code: str) -> None:
    error = translate_error(client_error(code, 403), "cloudwatch:GetMetricData", "errors")
    assert type(error) is EnvironmentProblemError
    assert "access denied" in str(error)
    assert "cloudwatch:GetMetricData" in str(error)


def test_other_client_errors_are_environment_problems() -> None:
    error = translate_error(client_error("ValidationException"), "dynamodb:PutItem", "table")
    assert type(error) is EnvironmentProblemError
    assert "dynamodb:PutItem on table failed (ValidationException" in str(error)


def test_connection_failures() -> None:
    unreachable = translate_error(
        EndpointConnectionError(endpoint_url="http://nowhere"), "sns:Publish", "topic"
    )
    assert type(unreachable) is EnvironmentProblemError
    assert "sns:Publish on topic: cannot reach AWS" in str(unreachable)
    assert isinstance(
        translate_error(NoCredentialsError(), "sns:Publish", ""), EnvironmentProblemError
    )
    dropped = translate_error(ReadTimeoutError(endpoint_url="http://x"), "sns:Publish", "topic")
    assert isinstance(dropped, TransientError)


def test_foreign_exceptions_pass_unchanged() -> None:
    original = KeyError("x")
    assert translate_error(original, "op", "res") is original


def test_aws_call_translates_and_chains() -> None:
    cause = client_error("ThrottlingException")
    with pytest.raises(TransientError) as caught, aws_call("lambda:GetAlias", "f:live"):
        raise cause
    assert caught.value.__cause__ is cause


def test_aws_call_lets_project_and_foreign_errors_through() -> None:
    with pytest.raises(LockConflictError), aws_call("dynamodb:PutItem", "t"):
        raise LockConflictError("held", component="c")
    with pytest.raises(ValueError, match="bug"), aws_call("dynamodb:PutItem", "t"):
        raise ValueError("bug")


def test_param_validation_is_an_environment_problem() -> None:
    with pytest.raises(EnvironmentProblemError), aws_call("lambda:GetAlias", "f"):
        raise ParamValidationError(report="bad")


def test_stubbed_throttling_reaches_the_caller_as_transient() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_alias", "TooManyRequestsException", "Rate exceeded", 429)
        with pytest.raises(TransientError, match="lambda:GetAlias on f:live"):
            LambdaAliasRouter(client).read("f", "live")


def test_unreachable_endpoint_is_an_environment_problem() -> None:
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(EnvironmentProblemError, match="cannot reach AWS") as caught:
        LambdaAliasRouter(client).read("f", "live")
    assert not isinstance(caught.value, ResourceMissingError)
