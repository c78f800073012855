"""Translate botocore failures into the project's error hierarchy.

Every adapter wraps its AWS calls in :func:`aws_call`, so the state machine's ``Retry``/``Catch``
blocks and the CLI's exit codes see one vocabulary (``orchestrator.errors``) instead of botocore's:

- throttling and 5xx service errors -> ``TransientError`` (ASL ``Retry`` names it);
- a missing function, alias, version, queue, table or topic -> ``ResourceMissingError``;
- a Lambda ``RevisionId`` mismatch (``PreconditionFailedException``) -> ``AliasDriftError``;
- unreachable endpoints, missing credentials, access denied and anything else ->
  ``EnvironmentProblemError`` naming the operation and the resource.

Errors the adapters handle themselves (a DynamoDB conditional check, a queue that may be absent)
are caught inside the ``with`` block, before they reach the translator.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)

from orchestrator.errors import (
    AliasDriftError,
    EnvironmentProblemError,
    ResourceMissingError,
    RolloutError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "Throttled",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceException",
        "KMSThrottlingException",
        # Lambda: "another operation is in progress" on the function (an update still applying).
        "ResourceConflictException",
    }
)
"""Error codes worth a retry. Any HTTP 5xx response is treated the same way."""

MISSING_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "NotFound",
        "NotFoundException",
    }
)
"""Error codes meaning the named resource does not exist."""

DRIFT_CODES = frozenset({"PreconditionFailedException"})
"""Lambda's answer when the ``RevisionId`` passed no longer matches: someone moved the alias."""

ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
"""Error codes meaning the caller's identity or its IAM policy is the problem."""


def error_code(exc: ClientError) -> str:
    """The service's error code (``Error.Code``), empty when the response carries none."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _codes(exc: ClientError) -> set[str]:
    """Both the error code and, for SQS's JSON protocol, the legacy query error code."""
    error = exc.response.get("Error", {})
    return {str(error.get("Code", "")), str(error.get("QueryErrorCode", ""))} - {""}


def is_missing(exc: ClientError) -> bool:
    """Whether ``exc`` says the resource does not exist."""
    return bool(_codes(exc) & MISSING_CODES)


def translate_error(exc: Exception, operation: str, resource: str) -> Exception:
    """Map one botocore exception to the project's hierarchy; other exceptions pass unchanged.

    ``operation`` is what the adapter was doing (e.g. ``"lambda:GetAlias"``) and ``resource`` what
    it was doing it to; both end up in the message so that an on-call engineer reading a failed
    execution knows which call and which resource to look at.
    """
    where = f"{operation} on {resource}" if resource else operation
    if isinstance(exc, ClientError):
        codes = _codes(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        detail = f"{error_code(exc) or f'HTTP {_status(exc)}'}: {message}"
        if codes & DRIFT_CODES:
            return AliasDriftError(
                f"{where} refused: the resource changed since it was read ({detail})",
                component=resource,
            )
        if codes & MISSING_CODES:
            return ResourceMissingError(f"{where}: not found ({detail})", resource=resource)
        if codes & THROTTLING_CODES or _status(exc) >= 500:
            return TransientError(f"{where}: throttled or service busy, worth a retry ({detail})")
        if codes & ACCESS_CODES:
            return EnvironmentProblemError(
                f"{where}: access denied, check the credentials and that the IAM policy grants "
                f"{operation} ({detail})"
            )
        return EnvironmentProblemError(f"{where} failed ({detail})")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        # The endpoint answered before and dropped this one call: a busy service, not a setup fault.
        return TransientError(f"{where}: connection dropped, worth a retry ({exc})")
    if isinstance(exc, BotoCoreError):
        return EnvironmentProblemError(f"{where}: cannot reach AWS ({type(exc).__name__}: {exc})")
    return exc


@contextmanager
def aws_call(operation: str, resource: str = "") -> Iterator[None]:
    """Run the block's AWS calls, re-raising botocore failures as project errors.

    The project's own errors raised inside the block (e.g. ``LockConflictError``) pass through.
    """
    try:
        yield
    except RolloutError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise translate_error(exc, operation, resource) from exc
