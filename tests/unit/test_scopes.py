"""The scope table covers every RPC of the payments.v1 services, read from the generated descriptors."""

from __future__ import annotations

import pytest
from payments.v1 import (
    dispute_service_pb2,
    event_service_pb2,
    invoice_service_pb2,
    payment_service_pb2,
    refund_service_pb2,
    subscription_service_pb2,
)

from payment_service.security.scopes import ALL_SCOPES, SCOPE_BY_METHOD, is_public, required_scope

SERVICE_FILES = (
    payment_service_pb2,
    refund_service_pb2,
    subscription_service_pb2,
    invoice_service_pb2,
    dispute_service_pb2,
    event_service_pb2,
)


def _all_rpcs() -> set[str]:
    methods = set()
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                methods.add(f"/{service.full_name}/{method.name}")
    return methods


def test_descriptors_list_the_six_services() -> None:
    services = {s.full_name for m in SERVICE_FILES for s in m.DESCRIPTOR.services_by_name.values()}
    assert services == {
        "payments.v1.PaymentService",
        "payments.v1.RefundService",
        "payments.v1.SubscriptionService",
        "payments.v1.InvoiceService",
        "payments.v1.DisputeService",
        "payments.v1.EventService",
    }


def test_every_rpc_has_a_scope() -> None:
    missing = sorted(_all_rpcs() - set(SCOPE_BY_METHOD))
    assert not missing, f"RPCs without a scope in security/scopes.py: {missing}"


def test_table_has_no_stale_methods() -> None:
    stale = sorted(set(SCOPE_BY_METHOD) - _all_rpcs())
    assert not stale, f"scope table names RPCs the protos do not have: {stale}"


def test_only_known_scopes_are_used() -> None:
    assert set(SCOPE_BY_METHOD.values()) <= ALL_SCOPES


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        ("/payments.v1.PaymentService/CreatePayment", "payments:write"),
        ("/payments.v1.PaymentService/GetPayment", "payments:read"),
        ("/payments.v1.RefundService/CreateRefund", "refunds:write"),
        ("/payments.v1.SubscriptionService/ListPrices", "subscriptions:read"),
        ("/payments.v1.InvoiceService/VoidInvoice", "invoices:write"),
        ("/payments.v1.DisputeService/ListDisputes", "disputes:read"),
        ("/payments.v1.DisputeService/CloseDispute", "disputes:write"),
        ("/payments.v1.PaymentService/CreateSetupIntent", "payments:write"),
    ],
)
def test_reads_and_writes_get_their_scopes(method: str, scope: str) -> None:
    assert required_scope(method) == scope


def test_unknown_method_has_no_scope_so_it_is_denied() -> None:
    assert required_scope("/payments.v1.PaymentService/DropAllTables") is None
    assert not is_public("/payments.v1.PaymentService/DropAllTables")


def test_health_and_reflection_are_public() -> None:
    assert is_public("/grpc.health.v1.Health/Check")
    assert is_public("/grpc.health.v1.Health/Watch")
    assert is_public("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not is_public("/payments.v1.PaymentService/GetPayment")
