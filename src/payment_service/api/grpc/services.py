"""The payments.v1 services the server exposes, and the servicer instance behind each.

``Servicers`` takes a servicer per service; one left as None is served by the
generated ``*Servicer`` base class, which answers UNIMPLEMENTED for every RPC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import grpc.aio
from google.protobuf.descriptor import FileDescriptor
from payments.v1 import (
    dispute_service_pb2,
    dispute_service_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    payment_service_pb2,
    payment_service_pb2_grpc,
    refund_service_pb2,
    refund_service_pb2_grpc,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
)

_S = TypeVar("_S")


def _unimplemented(servicer_class: Callable[[], _S]) -> _S:
    """An instance of a generated base class. Its stubs mark every RPC abstract, but at
    runtime each RPC is implemented and answers UNIMPLEMENTED, which is what we want."""
    return servicer_class()


def _full_name(file: FileDescriptor, service: str) -> str:
    return str(file.services_by_name[service].full_name)


PAYMENT_SERVICE = _full_name(payment_service_pb2.DESCRIPTOR, "PaymentService")
REFUND_SERVICE = _full_name(refund_service_pb2.DESCRIPTOR, "RefundService")
SUBSCRIPTION_SERVICE = _full_name(subscription_service_pb2.DESCRIPTOR, "SubscriptionService")
INVOICE_SERVICE = _full_name(invoice_service_pb2.DESCRIPTOR, "InvoiceService")
DISPUTE_SERVICE = _full_name(dispute_service_pb2.DESCRIPTOR, "DisputeService")
EVENT_SERVICE = _full_name(event_service_pb2.DESCRIPTOR, "EventService")

SERVICE_NAMES = (
    PAYMENT_SERVICE,
    REFUND_SERVICE,
    SUBSCRIPTION_SERVICE,
    INVOICE_SERVICE,
    DISPUTE_SERVICE,
    EVENT_SERVICE,
)


@dataclass(frozen=True, slots=True)
class Servicers:
    """Servicer instances to serve; None means the generated base class (UNIMPLEMENTED)."""

    payment: payment_service_pb2_grpc.PaymentServiceServicer | None = None
    refund: refund_service_pb2_grpc.RefundServiceServicer | None = None
    subscription: subscription_service_pb2_grpc.SubscriptionServiceServicer | None = None
    invoice: invoice_service_pb2_grpc.InvoiceServiceServicer | None = None
    dispute: dispute_service_pb2_grpc.DisputeServiceServicer | None = None
    event: event_service_pb2_grpc.EventServiceServicer | None = None


@dataclass(frozen=True, slots=True)
class ServiceBinding:
    """One service: its full name and how to register its servicer on a server."""

    name: str
    register: Callable[[grpc.aio.Server], None]


def _binding(name: str, stubs: ModuleType, servicer: object | None) -> ServiceBinding:
    """Service ``name`` as its generated ``*_pb2_grpc`` module ``stubs`` registers it:
    ``servicer``, or the generated base class (UNIMPLEMENTED) for None."""
    short_name = name.rsplit(".", 1)[-1]
    serving = servicer or _unimplemented(getattr(stubs, f"{short_name}Servicer"))
    add: Callable[[Any, grpc.aio.Server], None] = getattr(
        stubs, f"add_{short_name}Servicer_to_server"
    )
    return ServiceBinding(name=name, register=lambda server: add(serving, server))


def service_bindings(servicers: Servicers) -> tuple[ServiceBinding, ...]:
    return (
        _binding(PAYMENT_SERVICE, payment_service_pb2_grpc, servicers.payment),
        _binding(REFUND_SERVICE, refund_service_pb2_grpc, servicers.refund),
        _binding(SUBSCRIPTION_SERVICE, subscription_service_pb2_grpc, servicers.subscription),
        _binding(INVOICE_SERVICE, invoice_service_pb2_grpc, servicers.invoice),
        _binding(DISPUTE_SERVICE, dispute_service_pb2_grpc, servicers.dispute),
        _binding(EVENT_SERVICE, event_service_pb2_grpc, servicers.event),
    )
