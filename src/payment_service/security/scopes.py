"""Which scope each RPC needs: one table, keyed by full gRPC method name.

A method missing from the table is denied (fail closed); a unit test checks that
the table covers every RPC of the payments.v1 services. Health and reflection are
public: probes and operators' tools call them without a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"
REFUNDS_READ = "refunds:read"
REFUNDS_WRITE = "refunds:write"
SUBSCRIPTIONS_READ = "subscriptions:read"
SUBSCRIPTIONS_WRITE = "subscriptions:write"
INVOICES_READ = "invoices:read"
INVOICES_WRITE = "invoices:write"
DISPUTES_READ = "disputes:read"
DISPUTES_WRITE = "disputes:write"
EVENTS_READ = "events:read"

ALL_SCOPES = frozenset(
    {
        PAYMENTS_READ,
        PAYMENTS_WRITE,
        REFUNDS_READ,
        REFUNDS_WRITE,
        SUBSCRIPTIONS_READ,
        SUBSCRIPTIONS_WRITE,
        INVOICES_READ,
        INVOICES_WRITE,
        DISPUTES_READ,
        DISPUTES_WRITE,
        EVENTS_READ,
    }
)

PUBLIC_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def _service(name: str, scopes: Mapping[str, str]) -> dict[str, str]:
    return {f"/payments.v1.{name}/{method}": scope for method, scope in scopes.items()}


SCOPE_BY_METHOD: Mapping[str, str] = MappingProxyType(
    _service(
        "PaymentService",
        {
            "CreatePayment": PAYMENTS_WRITE,
            "GetPayment": PAYMENTS_READ,
            "ListPayments": PAYMENTS_READ,
            "ConfirmPayment": PAYMENTS_WRITE,
            "CapturePayment": PAYMENTS_WRITE,
            "CancelPayment": PAYMENTS_WRITE,
            "GetCustomer": PAYMENTS_READ,
            "AttachPaymentMethod": PAYMENTS_WRITE,
            "ListPaymentMethods": PAYMENTS_READ,
            "DetachPaymentMethod": PAYMENTS_WRITE,
            "SetDefaultPaymentMethod": PAYMENTS_WRITE,
            # Saving a card is a payment-method write, as AttachPaymentMethod is.
            "CreateSetupIntent": PAYMENTS_WRITE,
            "GetSetupIntent": PAYMENTS_READ,
        },
    )
    | _service(
        "RefundService",
        {
            "CreateRefund": REFUNDS_WRITE,
            "GetRefund": REFUNDS_READ,
            "ListRefunds": REFUNDS_READ,
        },
    )
    | _service(
        "SubscriptionService",
        {
            "CreateSubscription": SUBSCRIPTIONS_WRITE,
            "GetSubscription": SUBSCRIPTIONS_READ,
            "ListSubscriptions": SUBSCRIPTIONS_READ,
            "UpdateSubscription": SUBSCRIPTIONS_WRITE,
            "CancelSubscription": SUBSCRIPTIONS_WRITE,
            "ResumeSubscription": SUBSCRIPTIONS_WRITE,
            "ListPrices": SUBSCRIPTIONS_READ,
            "PreviewSubscriptionChange": SUBSCRIPTIONS_READ,
            "PauseSubscription": SUBSCRIPTIONS_WRITE,
            "ListDelinquentSubscriptions": SUBSCRIPTIONS_READ,
        },
    )
    | _service(
        "InvoiceService",
        {
            "GetInvoice": INVOICES_READ,
            "ListInvoices": INVOICES_READ,
            "PayInvoice": INVOICES_WRITE,
            "VoidInvoice": INVOICES_WRITE,
        },
    )
    | _service(
        "DisputeService",
        {
            "GetDispute": DISPUTES_READ,
            "ListDisputes": DISPUTES_READ,
            "UpdateDisputeEvidence": DISPUTES_WRITE,
            "CloseDispute": DISPUTES_WRITE,
        },
    )
    | _service("EventService", {"WatchEvents": EVENTS_READ, "ListEvents": EVENTS_READ})
)


def is_public(method: str) -> bool:
    """True for methods that need no token (health checks and server reflection)."""
    return method.startswith(PUBLIC_METHOD_PREFIXES)


def required_scope(method: str) -> str | None:
    """The scope ``method`` needs, or None when the method is unknown (and so denied)."""
    return SCOPE_BY_METHOD.get(method)
