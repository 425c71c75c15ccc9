"""Calling any RPC of the four services by descriptor, reading what came back, and counting
the rows of every table (a refused request must change none)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import grpc
import grpc.aio
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from payments.v1 import (
    dispute_service_pb2,
    invoice_service_pb2,
    payment_service_pb2,
    refund_service_pb2,
    subscription_service_pb2,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.tables import metadata as tables

SERVICES = (
    payment_service_pb2.DESCRIPTOR.services_by_name["PaymentService"],
    refund_service_pb2.DESCRIPTOR.services_by_name["RefundService"],
    subscription_service_pb2.DESCRIPTOR.services_by_name["SubscriptionService"],
    invoice_service_pb2.DESCRIPTOR.services_by_name["InvoiceService"],
    dispute_service_pb2.DESCRIPTOR.services_by_name["DisputeService"],
)
TIMESTAMP = "google.protobuf.Timestamp"
# What a client accepts in trailing metadata by default (grpc.max_metadata_size); an
# answer must stay well below it, whatever the caller sent.
CLIENT_METADATA_LIMIT = 8 * 1024


def methods() -> Iterator[MethodDescriptor]:
    for service in SERVICES:
        yield from service.methods


def path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def request_class(method: MethodDescriptor) -> type[Message]:
    return GetMessageClass(method.input_type)


def is_map(field_descriptor: FieldDescriptor) -> bool:
    message_type = field_descriptor.message_type
    return message_type is not None and message_type.GetOptions().map_entry


def fields_of(descriptor: Descriptor, kind: str) -> list[FieldDescriptor]:
    """The request's fields of one kind: "string", "enum", "timestamp", "map"."""

    def kind_of(f: FieldDescriptor) -> str:
        if is_map(f):
            return "map"
        if f.type == FieldDescriptor.TYPE_STRING:
            return "string"
        if f.type == FieldDescriptor.TYPE_ENUM:
            return "enum"
        if f.message_type is not None and f.message_type.full_name == TIMESTAMP:
            return "timestamp"
        return "other"

    return [f for f in descriptor.fields if kind_of(f) == kind]


@dataclass(frozen=True)
class Answer:
    """What one call came back with (OK or the error's facts)."""

    code: grpc.StatusCode
    message: str = ""
    reason: str = ""
    violations: dict[str, str] = field(default_factory=dict)
    trailer_bytes: int = 0

    @property
    def shown(self) -> str:
        return f"{self.code.name} {self.message[:200]!r} {self.violations}"


async def call(
    channel: grpc.aio.Channel,
    method: MethodDescriptor,
    request: Message | bytes,
    metadata: tuple[tuple[str, str], ...],
) -> Answer:
    """One call; ``request`` as bytes is sent as they are (a body that may be no message)."""
    stub = channel.unary_unary(
        path(method),
        request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
        response_deserializer=GetMessageClass(method.output_type).FromString,
    )
    try:
        await stub(request, metadata=metadata, timeout=10)  # type: ignore[arg-type]
    except grpc.aio.AioRpcError as error:
        return answer_of(error)
    return Answer(grpc.StatusCode.OK)


def answer_of(error: grpc.aio.AioRpcError) -> Answer:
    trailers = error.trailing_metadata() or ()
    size = sum(len(k) + len(v) for k, v in trailers)
    reason, violations = "", {}
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:  # the trailers were dropped on the way (RESOURCE_EXHAUSTED)
        status = None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = {v.field: v.description for v in bad.field_violations}
    return Answer(error.code(), error.details() or "", reason, violations, size)


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.name: int(
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            )
            for table in tables.sorted_tables
        }
