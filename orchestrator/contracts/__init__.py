"""Schema versions on the data itself: the component side of a release (issue 12).

Import it inside any Python Lambda: it needs only pydantic and aws-lambda-powertools, never
imports boto3 (clients are passed in), and imports nothing else of ``orchestrator`` (all its imports
are relative), so the ``contracts/`` directory can be vendored into a layer under any name.

A consumer registers one handler per (queue, schema version) with that version's pydantic model,
and upgrade functions between versions, like migrations::

    from orchestrator.contracts import Component

    enrich = Component("enrich")               # the component's key in the manifest

    @enrich.reads("orders", 2, OrderV2)
    def handle(order: OrderV2) -> None: ...

    @enrich.upgrade("orders", 1, OrderV1, to=2)   # schema-1 messages reach handle() too
    def v1_to_v2(order: OrderV1) -> OrderV2: ...

    enriched = enrich.writes("enriched", 1, EnrichedV1)   # enriched.send(sqs, url, message)
    handler = enrich.lambda_handler                        # SQS event -> batchItemFailures

The handler runs on Powertools' ``BatchProcessor``: each record's schema version comes from the
``schema_version`` message attribute (``Component(version_attribute=...)``), or the attribute an
SNS envelope carried, or the payload's ``schema_version`` field (``version_field=``); SNS- and
EventBridge-wrapped bodies are unwrapped (:mod:`.envelopes`). A version with no handler and no
upgrade path raises :class:`UnknownSchemaVersionError`: the record is a batch item failure, is
retried, and reaches the DLQ; nothing is acknowledged that was not handled.

What the code registers is the component's declaration: ``rollout declare MODULE_OR_FILE`` prints
it as the manifest's ``reads``/``writes`` and ``--check MANIFEST`` fails when they disagree.

Per-schema metrics (:mod:`.metrics`), one EMF document per queue and schema version per batch:
namespace ``Rollout/Contracts``; metrics ``MessagesProcessed``, ``MessagesFailed``,
``MessagesUnreadable`` (unit ``Count``); dimension sets ``[service, Queue, SchemaVersion]`` and
``[service, Queue, SchemaVersion, ExecutedVersion]``, where ``service`` is the component's name,
``Queue`` the registered queue name, ``SchemaVersion`` the version the message carried (text;
``missing`` when none) and ``ExecutedVersion`` the Lambda context's ``function_version``.
"""

from __future__ import annotations

from .component import Component, Delivery, Reader, Upgrade
from .envelopes import Envelope
from .errors import (
    ContractError,
    MessageFailedError,
    MessageValidationError,
    MissingSchemaVersionError,
    RegistrationError,
    UnknownQueueError,
    UnknownSchemaVersionError,
    UnreadableMessageError,
    UpgradeError,
    WrongMessageError,
)
from .metrics import FAILED, NAMESPACE, PROCESSED, UNREADABLE
from .producer import Writer
from .versions import Schema

__all__ = [
    "FAILED",
    "NAMESPACE",
    "PROCESSED",
    "UNREADABLE",
    "Component",
    "ContractError",
    "Delivery",
    "Envelope",
    "MessageFailedError",
    "MessageValidationError",
    "MissingSchemaVersionError",
    "Reader",
    "RegistrationError",
    "Schema",
    "UnknownQueueError",
    "UnknownSchemaVersionError",
    "UnreadableMessageError",
    "Upgrade",
    "UpgradeError",
    "Writer",
    "WrongMessageError",
]
