"""``FunctionInvoker`` on Lambda's Invoke API: call one published version directly.

The smoke test of a component (``components.<name>.smoke``) invokes the new version by its version
qualifier before the alias gives it any weight, so no production traffic reaches it. A function
that raises answers ``FunctionError`` in a 200 response: that is a result for the caller to judge,
not an exception here. The IAM action is ``lambda:InvokeFunction`` on the managed functions only
(``infra/template.yaml``, the same tag condition as the alias actions).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from orchestrator.aws.errors import aws_call
from orchestrator.ports import InvokeResult

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous request payload."""


class LambdaFunctionInvoker:
    """Invokes a function version synchronously (``RequestResponse``)."""

    AWS_ACTIONS: ClassVar[tuple[str, ...]] = ("lambda:InvokeFunction",)

    def __init__(self, lambda_client: LambdaClient) -> None:
        self._client = lambda_client

    def invoke(self, function: str, qualifier: str, payload: Any) -> InvokeResult:
        body = json.dumps(payload).encode("utf-8")
        with aws_call("lambda:InvokeFunction", f"{function}:{qualifier}"):
            response = self._client.invoke(
                FunctionName=function,
                Qualifier=qualifier,
                InvocationType="RequestResponse",
                Payload=body,
            )
            raw = response["Payload"].read() if "Payload" in response else b""
        return InvokeResult(
            status=int(response.get("StatusCode", 0)),
            payload=parse_payload(raw),
            error=response.get("FunctionError"),
            version=response.get("ExecutedVersion"),
        )


def parse_payload(raw: bytes) -> Any:
    """A response payload as JSON; its text when it is not JSON; None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
