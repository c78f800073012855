"""The producer side: a :class:`Writer` stamps the schema version it declares on every message.

``Component.writes(queue, schema, Model)`` returns one. It refuses a message that is not ``Model``
(a mapping is validated into one), serialises it by alias, and puts the version in the message
attribute (``schema_version`` by default: ``DataType`` ``Number`` for an integer version,
``String`` for a token) of ``SendMessage``, ``SendMessageBatch`` and SNS ``Publish``. SNS copies
the attribute onto the SQS message with raw message delivery, and into the notification's
``MessageAttributes`` without it; the consumer reads either. With ``stamp_body=True`` the version
also goes into the body's field (for routes that drop attributes, such as EventBridge).

Clients are passed in (boto3's SQS and SNS clients, or anything with the same methods; typed
``Any`` so that no boto3 stubs are needed); this module never imports boto3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import WrongMessageError
from .versions import Schema, schema_text

M = TypeVar("M", bound=BaseModel)

SQS_BATCH_LIMIT = 10
"""Entries per ``SendMessageBatch`` request (SQS's limit)."""


class Writer(Generic[M]):
    """What one component version writes to one queue: a model and its schema version."""

    def __init__(
        self,
        component: str,
        queue: str,
        schema: Schema,
        model: type[M],
        *,
        attribute: str,
        field: str,
        stamp_body: bool = False,
    ) -> None:
        self.component = component
        self.queue = queue
        self.schema = schema
        self.model = model
        self.attribute = attribute
        self.field = field
        self.stamp_body = stamp_body

    def __repr__(self) -> str:
        return (
            f"Writer({self.component!r} writes {self.queue!r} schema {self.schema!r} "
            f"as {self.model.__name__})"
        )

    # -- what goes on the wire ------------------------------------------------------------------

    def attribute_value(self) -> dict[str, str]:
        """The version as one SQS/SNS ``MessageAttributes`` value."""
        data_type = "Number" if isinstance(self.schema, int) else "String"
        return {"DataType": data_type, "StringValue": schema_text(self.schema)}

    def message_attributes(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``MessageAttributes`` with the version stamped; ``extra`` may not contradict it."""
        attributes = dict(extra or {})
        ours = self.attribute_value()
        theirs = attributes.get(self.attribute)
        if theirs is not None and str(theirs.get("StringValue")) != ours["StringValue"]:
            raise WrongMessageError(
                f"{self.component} writes {self.queue} schema {self.schema}, but the message "
                f"attributes say {self.attribute}={theirs.get('StringValue')!r}"
            )
        attributes[self.attribute] = ours
        return attributes

    def coerce(self, message: M | Mapping[str, Any]) -> M:
        """``message`` as the declared model: a mapping is validated, another model refused."""
        if isinstance(message, self.model):
            return message
        if isinstance(message, BaseModel):
            raise WrongMessageError(
                f"{self.component} declares it writes {self.queue} schema {self.schema} "
                f"({self.model.__name__}), not {type(message).__name__}"
            )
        try:
            return self.model.model_validate(message)
        except ValidationError as exc:
            raise WrongMessageError(
                f"not a valid {self.model.__name__} ({self.queue} schema {self.schema}): {exc}"
            ) from None

    def body(self, message: M | Mapping[str, Any]) -> str:
        """The message body: the model's JSON by alias, with the version field if stamped."""
        text = self.coerce(message).model_dump_json(by_alias=True)
        if not self.stamp_body:
            return text
        data = json.loads(text)
        if not isinstance(data, dict):
            raise WrongMessageError(f"cannot stamp {self.field!r} into a non-object body")
        present = data.get(self.field)
        if present is not None and schema_text(present) != schema_text(self.schema):
            raise WrongMessageError(
                f"the body's {self.field!r} is {present!r}, but {self.component} writes "
                f"{self.queue} schema {self.schema}"
            )
        data[self.field] = self.schema
        return json.dumps(data, separators=(",", ":"))

    # -- sending --------------------------------------------------------------------------------

    def send(
        self,
        client: Any,
        queue_url: str,
        message: M | Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        """``SendMessage`` of one message, version stamped; ``kwargs`` go to the call."""
        attributes = self.message_attributes(kwargs.pop("MessageAttributes", None))
        return client.send_message(
            QueueUrl=queue_url,
            MessageBody=self.body(message),
            MessageAttributes=attributes,
            **kwargs,
        )

    def send_batch(
        self,
        client: Any,
        queue_url: str,
        messages: Iterable[M | Mapping[str, Any]],
        **entry_fields: Any,
    ) -> dict[str, list[dict[str, Any]]]:
        """``SendMessageBatch`` in chunks of ten, every entry stamped.

        Entry ids are the messages' positions (``"0"``, ``"1"``, ...); ``entry_fields`` (e.g.
        ``MessageGroupId``) go on every entry. Returns the merged ``Successful`` and ``Failed``
        lists: SQS may fail some entries of a successful call, so check ``Failed``.
        """
        attributes = self.message_attributes(entry_fields.pop("MessageAttributes", None))
        entries = [
            {
                "Id": str(index),
                "MessageBody": self.body(message),
                "MessageAttributes": attributes,
                **entry_fields,
            }
            for index, message in enumerate(messages)
        ]
        result: dict[str, list[dict[str, Any]]] = {"Successful": [], "Failed": []}
        for start in range(0, len(entries), SQS_BATCH_LIMIT):
            response = client.send_message_batch(
                QueueUrl=queue_url, Entries=entries[start : start + SQS_BATCH_LIMIT]
            )
            result["Successful"].extend(response.get("Successful", []))
            result["Failed"].extend(response.get("Failed", []))
        return result

    def publish(
        self,
        client: Any,
        topic_arn: str,
        message: M | Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        """SNS ``Publish`` of one message with the version as a message attribute."""
        attributes = self.message_attributes(kwargs.pop("MessageAttributes", None))
        return client.publish(
            TopicArn=topic_arn,
            Message=self.body(message),
            MessageAttributes=attributes,
            **kwargs,
        )
