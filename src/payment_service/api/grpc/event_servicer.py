"""EventService: proto <-> domain mapping only; the feed lives in app/events.

Also the snapshot encoder the composition root installs in the outbox: each entity as
its Get RPC returns it, serialized (``Event.object`` is built back from those bytes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from google.protobuf.message import Message
from payments.v1 import event_service_pb2 as pb
from payments.v1.event_service_pb2_grpc import EventServiceServicer

from payment_service.api.grpc.context import current_caller
from payment_service.api.grpc.convert import timestamp
from payment_service.api.grpc.dispute_servicer import dispute_to_proto
from payment_service.api.grpc.invoice_servicer import invoice_to_proto
from payment_service.api.grpc.payment_servicer import payment_method_to_proto, payment_to_proto
from payment_service.api.grpc.refund_servicer import refund_to_proto
from payment_service.api.grpc.rpc import Context, page_of
from payment_service.api.grpc.subscription_servicer import subscription_to_proto
from payment_service.app.billing.queries import InvoiceView
from payment_service.app.customers.payment_methods import PaymentMethodView
from payment_service.app.events.cursors import encode_cursor
from payment_service.app.events.service import Events, Heartbeat, event_filter
from payment_service.app.ports.outbox import OutboxEvent
from payment_service.domain.entities import (
    Dispute,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
    Subscription,
)

_TO_PROTO: dict[type, Callable[[Any], Message]] = {
    Payment: payment_to_proto,
    Refund: refund_to_proto,
    PaymentMethod: lambda method: payment_method_to_proto(PaymentMethodView(method, False)),
    Subscription: subscription_to_proto,
    Invoice: lambda invoice: invoice_to_proto(InvoiceView(invoice, None)),
    Dispute: dispute_to_proto,
}
# Event.object's field for each object type.
_FIELD_BY_OBJECT = {
    "payment": "payment",
    "refund": "refund",
    "payment_method": "payment_method",
    "subscription": "subscription",
    "invoice": "invoice",
    "dispute": "dispute",
}


def encode_snapshot(entity: object) -> tuple[str, bytes] | None:
    """The ``SnapshotEncoder``: the entity's API message, serialized."""
    to_proto = _TO_PROTO.get(type(entity))
    if to_proto is None:
        return None
    message = to_proto(entity)
    return message.DESCRIPTOR.full_name, message.SerializeToString()


def event_to_proto(event: OutboxEvent) -> pb.Event:
    message = pb.Event(
        id=event.event_id,
        cursor=encode_cursor(event.position),
        type=event.type,
        object_type=event.object_type,
        object_id=event.object_id,
        account_id=event.account_id,
        create_time=timestamp(event.create_time),
        trace_parent=event.trace_parent or "",
    )
    name = _FIELD_BY_OBJECT.get(event.object_type)
    if name is not None and event.snapshot:
        getattr(message, name).MergeFromString(event.snapshot)
    return message


class EventServicer(EventServiceServicer):
    def __init__(self, events: Events) -> None:
        self._events = events

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: Context
    ) -> pb.ListEventsResponse:
        filters = event_filter(current_caller(), request.account_id, list(request.types))
        page = await self._events.list_events(filters, request.after_cursor, page_of(request))
        return pb.ListEventsResponse(
            events=[event_to_proto(event) for event in page.events],
            next_page_token=page.next_page_token,
            cursor=page.cursor,
        )

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Context
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        """An async generator (the interceptor writes what it yields)."""
        filters = event_filter(current_caller(), request.account_id, list(request.types))
        stream = self._events.watch(filters, request.after_cursor, from_now=request.from_now)
        async for item in stream:
            if isinstance(item, Heartbeat):
                yield pb.WatchEventsResponse(heartbeat=True, cursor=item.cursor)
            else:
                message = event_to_proto(item)
                yield pb.WatchEventsResponse(event=message, cursor=message.cursor)
