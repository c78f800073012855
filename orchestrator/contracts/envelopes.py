"""Unwrapping SQS bodies that another service wrapped, as Powertools' parser envelopes do.

* ``sns``: SNS delivered to SQS without raw message delivery: the body is the SNS notification
  (``{"Type": "Notification", "Message": "...", "MessageAttributes": {...}}``, Powertools'
  ``SnsNotificationModel``, as ``SnsSqsEnvelope`` reads it); the payload is ``Message`` and the
  publisher's message attributes ride along in the notification.
* ``eventbridge``: an EventBridge rule targeting SQS: the body is the event (Powertools'
  ``EventBridgeModel``, as ``EventBridgeEnvelope`` reads it); the payload is ``detail``. EventBridge
  cannot set SQS message attributes, so the schema version travels in the payload's field.
* ``none``: the body is the payload.
* ``auto`` (default): ``sns`` when the body is a JSON object with ``Type: Notification``,
  ``TopicArn`` and ``Message``; ``eventbridge`` when it has ``detail-type``, ``source`` and
  ``detail``; ``none`` otherwise.

Powertools' parser models are imported on the first wrapped body only (they cost ~0.2 s of cold
start that an unwrapped queue never pays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError


class Envelope(StrEnum):
    AUTO = "auto"
    NONE = "none"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"


class EnvelopeError(ValueError):
    """The body is not the envelope it was configured (or detected) as."""


@dataclass(frozen=True)
class Unwrapped:
    """A body with its envelope taken off."""

    text: str
    """The payload as JSON text (or the raw text when it is not JSON)."""
    data: Any
    """The payload parsed (``None`` when ``text`` is not JSON)."""
    envelope: Envelope
    attributes: dict[str, str] = field(default_factory=dict)
    """Message attributes the envelope carried (SNS), name -> value."""


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def detect(data: Any) -> Envelope:
    """The envelope of an already parsed body, for ``auto``."""
    if isinstance(data, dict):
        if data.get("Type") == "Notification" and "TopicArn" in data and "Message" in data:
            return Envelope.SNS
        if {"detail-type", "source", "detail"} <= data.keys():
            return Envelope.EVENTBRIDGE
    return Envelope.NONE


def unwrap(body: str, envelope: Envelope | str = Envelope.AUTO) -> Unwrapped:
    """The payload of an SQS ``body`` under ``envelope``; :class:`EnvelopeError` if it is not."""
    kind = Envelope(envelope)
    data = _loads(body)
    if kind is Envelope.AUTO:
        kind = detect(data)
    if kind is Envelope.NONE:
        return Unwrapped(text=body, data=data, envelope=kind)
    if kind is Envelope.SNS:
        from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

        try:
            notification = SnsNotificationModel.model_validate_json(body)
        except ValidationError as exc:
            raise EnvelopeError(f"the body is not an SNS notification: {_first(exc)}") from None
        message = notification.Message
        text = message if isinstance(message, str) else json.dumps(message)
        attributes = {
            name: attribute.Value
            for name, attribute in (notification.MessageAttributes or {}).items()
        }
        return Unwrapped(text=text, data=_loads(text), envelope=kind, attributes=attributes)
    from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

    try:
        event = EventBridgeModel.model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeError(f"the body is not an EventBridge event: {_first(exc)}") from None
    detail = event.detail
    if isinstance(detail, BaseModel):  # pragma: no cover - only with a model passed in
        detail = detail.model_dump(mode="json")
    return Unwrapped(text=json.dumps(detail), data=detail, envelope=kind)


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))
