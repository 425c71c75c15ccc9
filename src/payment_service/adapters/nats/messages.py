"""An outbox event as a JetStream message and back: the snapshot is the payload, the rest
headers, so any NATS client reads an event without our code.

| header | value |
| --- | --- |
| ``Nats-Msg-Id`` | the event id (JetStream drops a re-publish within the duplicate window) |
| ``Payments-Position`` | the outbox position (increasing along the stream) |
| ``Payments-Prev-Position`` | the position published before it (the feed detects dropped history) |
| ``Payments-Event-Type``, ``Payments-Object-Type``, ``Payments-Object-Id``, ``Payments-Account-Id`` | as in the outbox |
| ``Payments-Occurred-At`` | the commit's time, ISO 8601, UTC |
| ``Payments-Snapshot-Type`` | the payload's proto message, e.g. ``payments.v1.Payment`` |
| ``traceparent`` | W3C trace context of the change, when it had one |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from payment_service.adapters.nats.subjects import event_subject
from payment_service.app.ports.event_stream import OutboxEvent

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
POSITION = "Payments-Position"
PREV_POSITION = "Payments-Prev-Position"
EVENT_TYPE = "Payments-Event-Type"
OBJECT_TYPE = "Payments-Object-Type"
OBJECT_ID = "Payments-Object-Id"
ACCOUNT_ID = "Payments-Account-Id"
OCCURRED_AT = "Payments-Occurred-At"
SNAPSHOT_TYPE = "Payments-Snapshot-Type"
TRACE_PARENT = "traceparent"


class MalformedEventMessage(ValueError):
    """A message on the stream that lacks our headers (not published by the relay)."""


@dataclass(frozen=True, slots=True)
class EventMessage:
    subject: str
    headers: dict[str, str]
    payload: bytes


def to_message(prefix: str, event: OutboxEvent, *, prev_position: int) -> EventMessage:
    headers = {
        MSG_ID: event.event_id,
        POSITION: str(event.position),
        PREV_POSITION: str(prev_position),
        EVENT_TYPE: event.type,
        OBJECT_TYPE: event.object_type,
        OBJECT_ID: event.object_id,
        ACCOUNT_ID: event.account_id,
        OCCURRED_AT: event.create_time.isoformat(),
    }
    if event.snapshot_type:
        headers[SNAPSHOT_TYPE] = event.snapshot_type
    if event.trace_parent:
        headers[TRACE_PARENT] = event.trace_parent
    return EventMessage(
        event_subject(prefix, event.account_id, event.type), headers, event.snapshot
    )


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header by name, case-insensitively (parsers differ in how they keep case)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def position_of(headers: Mapping[str, str] | None) -> int:
    return _int(headers, POSITION)


def prev_position_of(headers: Mapping[str, str] | None) -> int:
    return _int(headers, PREV_POSITION)


def from_message(headers: Mapping[str, str] | None, payload: bytes | None) -> OutboxEvent:
    def required(name: str) -> str:
        value = header(headers, name)
        if value is None:
            raise MalformedEventMessage(f"event message without header {name}")
        return value

    try:
        occurred_at = datetime.fromisoformat(required(OCCURRED_AT))
    except ValueError as exc:
        raise MalformedEventMessage(f"header {OCCURRED_AT}: not ISO 8601") from exc
    return OutboxEvent(
        position=position_of(headers),
        event_id=required(MSG_ID),
        type=required(EVENT_TYPE),
        object_type=required(OBJECT_TYPE),
        object_id=required(OBJECT_ID),
        account_id=required(ACCOUNT_ID),
        create_time=occurred_at,
        snapshot_type=header(headers, SNAPSHOT_TYPE) or "",
        snapshot=payload or b"",
        trace_parent=header(headers, TRACE_PARENT),
    )


def _int(headers: Mapping[str, str] | None, name: str) -> int:
    value = header(headers, name)
    if value is None or not value.isdigit():
        raise MalformedEventMessage(f"event message without a numeric {name} header")
    return int(value)
