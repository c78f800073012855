"""Name the IAM actions behind botocore operations, and record which ones a client calls.

Each adapter declares ``AWS_ACTIONS`` (the IAM actions it may call); the infrastructure derives
each step's least-privilege policy from those lists. :class:`ActionRecorder` lets a test check a
declared list against the calls an adapter really makes, through botocore's ``before-call`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from botocore.client import BaseClient
    from botocore.model import OperationModel

IAM_PREFIXES: dict[str, str] = {
    "Lambda": "lambda",
    "SQS": "sqs",
    "CloudWatch": "cloudwatch",
    "DynamoDB": "dynamodb",
    "SNS": "sns",
    "SFN": "states",
}
"""botocore ``service_id`` -> IAM prefix (not the signing name: CloudWatch signs ``monitoring``)."""


def iam_action(service_id: str, operation: str) -> str:
    """``service:Operation`` as IAM spells it; for these services the action is the API name."""
    prefix = IAM_PREFIXES.get(service_id, service_id.lower().replace(" ", ""))
    return f"{prefix}:{operation}"


class ActionRecorder:
    """Collects the IAM action of every call made through the given clients, while attached.

    >>> with ActionRecorder(lambda_client) as calls:  # doctest: +SKIP
    ...     router.read("f", "live")
    >>> calls.actions  # doctest: +SKIP
    {'lambda:GetAlias'}
    """

    def __init__(self, *clients: BaseClient) -> None:
        self._clients = clients
        self.calls: list[str] = []

    @property
    def actions(self) -> set[str]:
        return set(self.calls)

    def _record(self, model: OperationModel, **_: Any) -> None:
        self.calls.append(iam_action(model.service_model.service_id, model.name))

    def __enter__(self) -> ActionRecorder:
        for client in self._clients:
            client.meta.events.register("before-call", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._record)

    def __iter__(self) -> Iterator[str]:
        return iter(self.calls)
