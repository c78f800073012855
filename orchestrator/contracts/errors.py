"""Errors of the contracts library (self-contained: nothing here imports the orchestrator).

A record handler that raises marks its SQS message as a batch item failure, so the message is
retried and, after the queue's ``maxReceiveCount``, lands in its dead-letter queue. The classes
say why, and the metrics count them apart (:mod:`.metrics`)::

    ContractError                     base of everything the library raises on purpose
    ├── RegistrationError             the component's registrations contradict each other
    ├── WrongMessageError             a producer got a message it does not declare writing
    ├── UnreadableMessageError        the component does not read it at all: MessagesUnreadable
    │   ├── MissingSchemaVersionError neither the message attribute nor the envelope field says
    │   ├── UnknownSchemaVersionError a schema version with no handler and no upgrade path
    │   └── UnknownQueueError         a record from a queue the component does not read
    └── MessageFailedError            a readable version whose message still failed: MessagesFailed
        ├── MessageValidationError    the body does not validate against its version's model
        └── UpgradeError              an upgrade function raised or returned the wrong model

A handler's own exception is counted as MessagesFailed too (it is not wrapped).
"""

from __future__ import annotations

from collections.abc import Sequence


class ContractError(Exception):
    """Base class of every error the contracts library raises on purpose."""


class RegistrationError(ContractError):
    """Two registrations of one component contradict each other (raised at import time)."""


class WrongMessageError(ContractError):
    """A producer was asked to send a message that is not the model and version it writes."""


class UnreadableMessageError(ContractError):
    """The component version cannot read this message: it is retried and reaches the DLQ."""

    def __init__(
        self, message: str, *, component: str, queue: str, schema: int | str | None
    ) -> None:
        self.component = component
        self.queue = queue
        self.schema = schema
        super().__init__(message)


class MissingSchemaVersionError(UnreadableMessageError):
    """Neither the message attribute nor the envelope field names a schema version."""


class UnknownSchemaVersionError(UnreadableMessageError):
    """A schema version the component has neither a handler nor an upgrade path for."""

    def __init__(
        self,
        message: str,
        *,
        component: str,
        queue: str,
        schema: int | str,
        readable: Sequence[int | str] = (),
    ) -> None:
        self.readable = tuple(readable)
        super().__init__(message, component=component, queue=queue, schema=schema)


class UnknownQueueError(UnreadableMessageError):
    """A record from a queue the component registers no reader on."""


class MessageFailedError(ContractError):
    """A message of a schema the component reads could not be handled."""

    def __init__(self, message: str, *, component: str, queue: str, schema: int | str) -> None:
        self.component = component
        self.queue = queue
        self.schema = schema
        super().__init__(message)


class MessageValidationError(MessageFailedError):
    """The body does not validate against the model of the schema version it carries."""


class UpgradeError(MessageFailedError):
    """An upgrade function raised, or returned something its target model does not accept."""
