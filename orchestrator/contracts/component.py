"""A component's registrations and its SQS batch handler.

::

    enrich = Component("enrich")

    @enrich.reads("orders", 2, OrderV2)
    def handle(order: OrderV2) -> None: ...

    @enrich.upgrade("orders", 1, OrderV1, to=2)
    def v1_to_v2(order: OrderV1) -> OrderV2: ...

    enriched = enrich.writes("enriched", 1, EnrichedV1)
    handler = enrich.lambda_handler

A message is dispatched by the schema version it carries: the ``schema_version`` message attribute
(``version_attribute``), else the attribute the SNS envelope carried, else the payload's field
(``version_field``, removed before validation when the model does not declare it). Its body is
validated against that version's model, upgraded version by version to the nearest one with a
handler, and handed to that handler (``handler(message)``, or ``handler(message, delivery)`` when
it takes two arguments). Failures raise (see :mod:`.errors`), so Powertools' ``BatchProcessor``
reports the record in ``batchItemFailures``: it is retried and reaches the DLQ, never dropped.
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ValidationError

from . import metrics as _metrics
from .envelopes import Envelope, EnvelopeError, Unwrapped, unwrap
from .errors import (
    MessageValidationError,
    MissingSchemaVersionError,
    RegistrationError,
    UnknownQueueError,
    UnknownSchemaVersionError,
    UnreadableMessageError,
    UpgradeError,
)
from .producer import Writer
from .versions import Schema, schema_key, schema_text, schema_version

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

DEFAULT_VERSION_ATTRIBUTE = "schema_version"
DEFAULT_VERSION_FIELD = "schema_version"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _positional_arity(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(1 for p in parameters if p.kind in kinds)


@dataclass(frozen=True)
class Reader:
    """A handler of one schema version of one queue."""

    queue: str
    schema: Schema
    model: type[BaseModel]
    handler: Callable[..., Any]
    wants_delivery: bool

    @property
    def name(self) -> str:
        return _qualname(self.handler)


@dataclass(frozen=True)
class Upgrade:
    """A migration of one queue's messages from schema ``source`` to schema ``target``."""

    queue: str
    source: Schema
    model: type[BaseModel]
    target: Schema
    function: Callable[[Any], Any]

    @property
    def name(self) -> str:
        return _qualname(self.function)


@dataclass(frozen=True)
class Delivery:
    """What a two-argument handler gets beside the message."""

    component: str
    queue: str
    schema: Schema
    """The version the message carried."""
    handled_as: Schema
    """The version of the handler it reached (after upgrades)."""
    path: tuple[Schema, ...]
    """The versions it went through, ``schema`` first, ``handled_as`` last."""
    message_id: str
    attempt: int
    """SQS's ``ApproximateReceiveCount`` (1 on the first delivery)."""
    record: SQSRecord


class Component:
    """One component's readers, upgrades and writers, and its SQS batch handler.

    ``name`` is the component's key in the release manifest. ``queue_names`` maps a registered
    queue name to its SQS queue name when they differ (a record's queue is read off its
    ``eventSourceARN``; a component that reads one queue takes every record as that queue's).
    ``envelope`` is one :class:`~.envelopes.Envelope` for every queue, or a mapping per queue.
    ``raise_on_entire_batch_failure`` is Powertools': when every record failed the invocation
    raises, so it also counts as a Lambda error. ``logger`` gets Powertools' warning (with the
    exception) for every failed record.
    """

    def __init__(
        self,
        name: str,
        *,
        version_attribute: str = DEFAULT_VERSION_ATTRIBUTE,
        version_field: str | None = DEFAULT_VERSION_FIELD,
        envelope: Envelope | str | Mapping[str, Envelope | str] = Envelope.AUTO,
        queue_names: Mapping[str, str] | None = None,
        namespace: str = _metrics.NAMESPACE,
        raise_on_entire_batch_failure: bool = True,
        logger: logging.Logger | None = None,
    ) -> None:
        if not name:
            raise RegistrationError("a component needs a name (its key in the manifest)")
        self.name = name
        self.version_attribute = version_attribute
        self.version_field = version_field
        self._envelope = envelope
        self.queue_names = dict(queue_names or {})
        self.namespace = namespace
        self.readers: dict[tuple[str, Schema], Reader] = {}
        self.upgrades: dict[tuple[str, Schema], Upgrade] = {}
        self.writers: dict[str, Writer[Any]] = {}
        self.raise_on_entire_batch_failure = raise_on_entire_batch_failure
        self.logger = logger

    def __repr__(self) -> str:
        return f"Component({self.name!r})"

    # -- registration -----------------------------------------------------------------------------

    def reads(self, queue: str, schema: Schema, model: type[BaseModel]) -> Callable[[F], F]:
        """Decorator: the handler of ``queue``'s messages of ``schema``, parsed as ``model``."""
        version = self._schema(schema)
        self._check_model(model)

        def register(handler: F) -> F:
            key = (queue, version)
            if key in self.readers:
                raise RegistrationError(
                    f"{self.name}: {queue} schema {version} already has a handler "
                    f"({self.readers[key].name}); register one handler per schema version"
                )
            if key in self.upgrades:
                raise RegistrationError(
                    f"{self.name}: {queue} schema {version} has an upgrade "
                    f"({self.upgrades[key].name}) and a handler ({_qualname(handler)}); keep one"
                )
            self.readers[key] = Reader(
                queue, version, model, handler, wants_delivery=_positional_arity(handler) >= 2
            )
            return handler

        return register

    def upgrade(
        self, queue: str, schema: Schema, model: type[BaseModel], *, to: Schema
    ) -> Callable[[F], F]:
        """Decorator: turns ``queue``'s ``schema`` messages (``model``) into schema ``to``.

        The function gets a ``model`` instance and returns the target version's model (or data it
        validates). Chains are followed (1 -> 2 -> 3) to the nearest version with a handler.
        """
        source, target = self._schema(schema), self._schema(to)
        self._check_model(model)
        if source == target:
            raise RegistrationError(f"{self.name}: an upgrade of {queue} must change the version")

        def register(function: F) -> F:
            key = (queue, source)
            if key in self.upgrades:
                raise RegistrationError(
                    f"{self.name}: {queue} schema {source} already has an upgrade "
                    f"({self.upgrades[key].name})"
                )
            if key in self.readers:
                raise RegistrationError(
                    f"{self.name}: {queue} schema {source} has a handler "
                    f"({self.readers[key].name}) and an upgrade ({_qualname(function)}); keep one"
                )
            self.upgrades[key] = Upgrade(queue, source, model, target, function)
            return function

        return register

    def writes(
        self, queue: str, schema: Schema, model: type[M], *, stamp_body: bool = False
    ) -> Writer[M]:
        """The producer of ``queue``'s messages: one schema version per queue, like the manifest."""
        version = self._schema(schema)
        self._check_model(model)
        existing = self.writers.get(queue)
        if existing is not None:
            if existing.schema == version and existing.model is model:
                return existing
            raise RegistrationError(
                f"{self.name}: writes {queue} schema {existing.schema} ({existing.model.__name__}) "
                f"already; a version writes one schema per queue"
            )
        writer: Writer[M] = Writer(
            self.name,
            queue,
            version,
            model,
            attribute=self.version_attribute,
            field=self.version_field or DEFAULT_VERSION_FIELD,
            stamp_body=stamp_body,
        )
        self.writers[queue] = writer
        return writer

    def _schema(self, schema: Schema) -> Schema:
        try:
            return schema_version(schema)
        except ValueError as exc:
            raise RegistrationError(f"{self.name}: {exc}") from None

    def _check_model(self, model: object) -> None:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise RegistrationError(f"{self.name}: {model!r} is not a pydantic model class")

    # -- what is registered -----------------------------------------------------------------------

    @property
    def queues_read(self) -> list[str]:
        return sorted({q for q, _ in self.readers} | {q for q, _ in self.upgrades})

    def route(self, queue: str, schema: Schema) -> tuple[Schema, ...] | None:
        """The versions a ``schema`` message goes through to a handler, or None if it cannot."""
        start = (queue, schema)
        if start in self.readers:
            return (schema,)
        seen = {schema}
        frontier: deque[tuple[Schema, ...]] = deque([(schema,)])
        while frontier:
            path = frontier.popleft()
            step = self.upgrades.get((queue, path[-1]))
            if step is None or step.target in seen:
                continue
            extended = (*path, step.target)
            if (queue, step.target) in self.readers:
                return extended
            seen.add(step.target)
            frontier.append(extended)
        return None

    def read_schemas(self, queue: str) -> list[Schema]:
        """The schema versions of ``queue`` this component reads (a handler or an upgrade path)."""
        candidates = {s for q, s in self.readers if q == queue}
        candidates |= {s for q, s in self.upgrades if q == queue}
        return sorted((s for s in candidates if self.route(queue, s)), key=schema_key)

    def model_of(self, queue: str, schema: Schema) -> type[BaseModel] | None:
        reader = self.readers.get((queue, schema))
        if reader is not None:
            return reader.model
        step = self.upgrades.get((queue, schema))
        return step.model if step is not None else None

    def problems(self) -> list[str]:
        """Registrations that serve nothing: upgrades whose chain reaches no handler."""
        out: list[str] = []
        for (queue, source), step in sorted(
            self.upgrades.items(), key=lambda kv: (kv[0][0], schema_key(kv[0][1]))
        ):
            if self.route(queue, source) is None:
                out.append(
                    f"{self.name}: the upgrade of {queue} schema {source} to {step.target} "
                    f"({step.name}) reaches no handler: register a reader of {queue} schema "
                    f"{step.target} or an upgrade from it"
                )
        return out

    # -- handling -------------------------------------------------------------------------------

    @property
    def lambda_handler(self) -> Callable[[dict[str, Any], Any], PartialItemFailureResponse]:
        """``handler = component.lambda_handler``: the Lambda entry point."""
        return self.handle

    def handle(self, event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
        """Process an SQS event; returns ``{"batchItemFailures": [...]}`` (Powertools)."""
        tally = _metrics.Tally()

        def record_handler(record: SQSRecord) -> Any:
            return self._process(record, tally)

        version = getattr(context, "function_version", None)
        try:
            return process_partial_response(
                event=event,
                record_handler=record_handler,
                # one processor per batch: it holds the batch's state, and local servers call
                # handlers on several threads at once
                processor=BatchProcessor(
                    event_type=EventType.SQS,
                    raise_on_entire_batch_failure=self.raise_on_entire_batch_failure,
                    logger=self.logger,
                ),
            )
        finally:
            if tally:
                _metrics.emit(
                    tally,
                    component=self.name,
                    namespace=self.namespace,
                    executed_version=str(version) if version else None,
                )

    def _process(self, record: SQSRecord, tally: _metrics.Tally) -> Any:
        queue = self._queue_of(record)
        label = _metrics.MISSING_SCHEMA
        try:
            schema = self._version_of(record, None)  # the SQS message attribute, if any
            if schema is not None:
                label = schema_text(schema)
            if queue not in self.queues_read:
                raise UnknownQueueError(
                    f"{self.name} reads no queue named {queue!r} (it reads "
                    f"{', '.join(self.queues_read) or 'none'}); map it with queue_names=",
                    component=self.name,
                    queue=queue,
                    schema=schema,
                )
            try:
                payload = unwrap(record.body, self._envelope_of(queue))
            except EnvelopeError as exc:
                carried = self._require_route(queue, schema)[0]
                raise MessageValidationError(
                    f"{self.name}: a {queue} schema {carried} message: {exc}",
                    component=self.name,
                    queue=queue,
                    schema=carried,
                ) from None
            if schema is None:
                schema = self._version_of(record, payload)  # the envelope's, then the field
                if schema is not None:
                    label = schema_text(schema)
            path = self._require_route(queue, schema)
            result = self._dispatch(queue, path, payload, record)
        except UnreadableMessageError:
            tally.add(queue, label, _metrics.UNREADABLE)
            raise
        except Exception:
            tally.add(queue, label, _metrics.FAILED)
            raise
        tally.add(queue, label, _metrics.PROCESSED)
        return result

    def _require_route(self, queue: str, schema: Schema | None) -> tuple[Schema, ...]:
        """The upgrade path of a ``schema`` message, or the unreadable error that says why not."""
        if schema is None:
            where = f"no {self.version_attribute!r} message attribute"
            if self.version_field:
                where += f" and no {self.version_field!r} field"
            raise MissingSchemaVersionError(
                f"{self.name}: a {queue} message carries no schema version ({where})",
                component=self.name,
                queue=queue,
                schema=None,
            )
        path = self.route(queue, schema)
        if path is None:
            readable = self.read_schemas(queue)
            raise UnknownSchemaVersionError(
                f"{self.name} does not read {queue} schema {schema} (it reads "
                f"{', '.join(map(str, readable)) or 'none'}): no handler and no upgrade path",
                component=self.name,
                queue=queue,
                schema=schema,
                readable=readable,
            )
        return path

    def _dispatch(
        self, queue: str, path: tuple[Schema, ...], payload: Unwrapped, record: SQSRecord
    ) -> Any:
        schema = path[0]
        model = self.model_of(queue, schema)
        assert model is not None
        message: BaseModel = self._validate(queue, schema, model, payload)
        for source, target in itertools.pairwise(path):
            message = self._upgrade(queue, schema, self.upgrades[(queue, source)], message, target)
        reader = self.readers[(queue, path[-1])]
        if not reader.wants_delivery:
            return reader.handler(message)
        delivery = Delivery(
            component=self.name,
            queue=queue,
            schema=schema,
            handled_as=path[-1],
            path=path,
            message_id=record.message_id,
            attempt=int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1),
            record=record,
        )
        return reader.handler(message, delivery)

    def _validate(
        self, queue: str, schema: Schema, model: type[BaseModel], payload: Unwrapped
    ) -> BaseModel:
        text = payload.text
        field = self.version_field
        if (
            field
            and isinstance(payload.data, dict)
            and field in payload.data
            and field not in model.model_fields
            and not any(f.alias == field for f in model.model_fields.values())
        ):
            text = json.dumps({k: v for k, v in payload.data.items() if k != field})
        try:
            return model.model_validate_json(text)
        except ValidationError as exc:
            raise MessageValidationError(
                f"{self.name}: a {queue} schema {schema} message is not a valid "
                f"{model.__name__}: {_summary(exc)}",
                component=self.name,
                queue=queue,
                schema=schema,
            ) from None

    def _upgrade(
        self, queue: str, schema: Schema, step: Upgrade, message: BaseModel, target: Schema
    ) -> BaseModel:
        target_model = self.model_of(queue, target)
        assert target_model is not None
        try:
            result = step.function(message)
        except Exception as exc:
            raise UpgradeError(
                f"{self.name}: upgrading a {queue} schema {schema} message from {step.source} to "
                f"{target} ({step.name}) raised {type(exc).__name__}: {exc}",
                component=self.name,
                queue=queue,
                schema=schema,
            ) from exc
        if isinstance(result, target_model):
            return result
        try:
            data = result.model_dump() if isinstance(result, BaseModel) else result
            return target_model.model_validate(data)
        except ValidationError as exc:
            raise UpgradeError(
                f"{self.name}: {step.name} returned no valid {target_model.__name__} "
                f"({queue} schema {target}): {_summary(exc)}",
                component=self.name,
                queue=queue,
                schema=schema,
            ) from None

    # -- where the version and the queue come from -----------------------------------------------

    def _queue_of(self, record: SQSRecord) -> str:
        sqs_name = str(record.get("eventSourceARN") or "").rsplit(":", 1)[-1]
        for queue, mapped in self.queue_names.items():
            if mapped == sqs_name:
                return queue
        read = self.queues_read
        if sqs_name in read or len(read) != 1:
            return sqs_name
        return read[0]

    def _envelope_of(self, queue: str) -> Envelope:
        if isinstance(self._envelope, Mapping):
            return Envelope(self._envelope.get(queue, Envelope.AUTO))
        return Envelope(self._envelope)

    def _version_of(self, record: SQSRecord, payload: Unwrapped | None) -> Schema | None:
        raw: object = None
        attributes = record.get("messageAttributes") or {}
        attribute = attributes.get(self.version_attribute)
        if isinstance(attribute, Mapping):
            raw = attribute.get("stringValue")
        if raw is None and payload is not None:
            raw = payload.attributes.get(self.version_attribute)
        if (
            raw is None
            and payload is not None
            and self.version_field
            and isinstance(payload.data, dict)
        ):
            raw = payload.data.get(self.version_field)
        if raw is None:
            return None
        try:
            return schema_version(raw)
        except ValueError:
            return str(raw)[:64] or None


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "(body)"
        parts.append(f"{where}: {error.get('msg', '')}")
    more = exc.error_count() - 3
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
