"""Valid entities with every field set, for round trips and constraint tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payment_service.domain.billing import PauseBehavior
from payment_service.domain.disputes import DisputeEvidence
from payment_service.domain.entities import (
    AuditEntry,
    Customer,
    Dispute,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAction,
    PaymentMethod,
    Price,
    Refund,
    RequestRecord,
    SetupIntent,
    Subscription,
    SubscriptionItem,
    WebhookEvent,
)
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import (
    CaptureMethod,
    DisputeState,
    InvoiceState,
    PaymentMethodUsage,
    PaymentState,
    PriceInterval,
    RefundReason,
    RefundState,
    SetupIntentState,
    SubscriptionState,
)

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def customer(account_id: str | None = None) -> Customer:
    cid = new_id("cust")
    return Customer(
        id=cid,
        account_id=account_id or f"acct_{cid}",
        stripe_customer_id=f"cus_{cid}",
        email="ada@example.com",
        name="Ada",
        default_payment_method_id=None,
        create_time=T0,
        update_time=T0,
    )


def payment_method(c: Customer) -> PaymentMethod:
    mid = new_id("pmt")
    return PaymentMethod(
        id=mid,
        account_id=c.account_id,
        customer_id=c.id,
        stripe_payment_method_id=f"pm_{mid}",
        type="card",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        fingerprint="fp123",
        billing_name="Ada L",
        create_time=T0,
        update_time=T0,
    )


def payment(c: Customer | None, *, account_id: str | None = None, **overrides: object) -> Payment:
    pid = new_id("pay")
    values: dict[str, object] = dict(
        id=pid,
        account_id=c.account_id if c else (account_id or "acct_x"),
        customer_id=c.id if c else None,
        caller="svc-orders",
        request_id=f"req_{pid}",
        request_hash="a" * 64,
        amount=1050,
        currency="usd",
        capture_method=CaptureMethod.MANUAL,
        state=PaymentState.REQUIRES_CAPTURE,
        amount_capturable=1050,
        amount_received=0,
        amount_refunded=0,
        payment_method="pm_123",
        description="order 42",
        receipt_email="ada@example.com",
        receipt_url="https://pay.example/r",
        client_secret="pi_secret_x",
        next_action_type="redirect_to_url",
        next_action_url="https://3ds.example",
        last_error_code="card_declined",
        last_error_decline_code="insufficient_funds",
        last_error_message="declined",
        stripe_payment_intent_id=f"pi_{pid}",
        stripe_customer_id=c.stripe_customer_id if c else None,
        metadata={"order": "42", "ünï": "cödé"},
        confirm_on_create=True,
        lease_until=T0 + timedelta(seconds=30),
        remote_updated_at=T0,
        synced_at=T0 + timedelta(seconds=1),
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Payment(**values)  # type: ignore[arg-type]


def refund(p: Payment, amount: int = 100, **overrides: object) -> Refund:
    rid = new_id("rfd")
    values: dict[str, object] = dict(
        id=rid,
        payment_id=p.id,
        account_id=p.account_id,
        caller="svc-orders",
        request_id=f"req_{rid}",
        request_hash="b" * 64,
        amount=amount,
        currency=p.currency,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        state=RefundState.PENDING,
        failure_reason=None,
        stripe_refund_id=f"re_{rid}",
        metadata={"k": "v"},
        remote_updated_at=T0,
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Refund(**values)  # type: ignore[arg-type]


def dispute(p: Payment, **overrides: object) -> Dispute:
    did = new_id("dsp")
    values: dict[str, object] = dict(
        id=did,
        state=DisputeState.NEEDS_RESPONSE,
        payment_id=p.id,
        account_id=p.account_id,
        stripe_dispute_id=f"dp_{did}",
        stripe_charge_id=f"ch_{did}",
        amount=p.amount,
        currency=p.currency,
        reason="fraudulent",
        evidence_due_by=T0 + timedelta(days=7),
        funds_withdrawn=True,
        payment_refundable=False,
        evidence=DisputeEvidence(customer_name="Ada Lovelace"),
        remote_updated_at=T0,
        synced_at=T0,
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Dispute(**values)  # type: ignore[arg-type]


def setup_intent(c: Customer, **overrides: object) -> SetupIntent:
    sid = new_id("setup")
    values: dict[str, object] = dict(
        id=sid,
        account_id=c.account_id,
        customer_id=c.id,
        caller="svc-orders",
        request_id=f"req_{sid}",
        request_hash="c" * 64,
        usage=PaymentMethodUsage.OFF_SESSION,
        state=SetupIntentState.REQUIRES_PAYMENT_METHOD,
        stripe_setup_intent_id=f"seti_{sid}",
        stripe_customer_id=c.stripe_customer_id,
        client_secret=f"seti_{sid}_secret_x",
        remote_updated_at=T0,
        synced_at=T0,
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return SetupIntent(**values)  # type: ignore[arg-type]


def price(**overrides: object) -> Price:
    pid = new_id("price")
    values: dict[str, object] = dict(
        id=pid,
        stripe_price_id=f"price_{pid}",
        stripe_product_id="prod_pro",
        product_name="Pro",
        unit_amount=1999,
        currency="eur",
        interval=PriceInterval.MONTH,
        interval_count=1,
        active=True,
        remote_updated_at=T0,
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Price(**values)  # type: ignore[arg-type]


def subscription(c: Customer, pr: Price, **overrides: object) -> Subscription:
    """Every field set (two items, a pending action, a pause); ``overrides`` on top."""
    sid = new_id("subn")
    values: dict[str, object] = dict(
        id=sid,
        account_id=c.account_id,
        customer_id=c.id,
        caller="svc-orders",
        request_id=f"req_{sid}",
        request_hash="c" * 64,
        stripe_customer_id=c.stripe_customer_id or "cus_x",
        items=[
            SubscriptionItem(
                price_id=pr.id,
                stripe_price_id=pr.stripe_price_id,
                quantity=2,
                stripe_item_id=f"si_{sid}",
                current_period_start=T0,
                current_period_end=T0 + timedelta(days=30),
            ),
            SubscriptionItem(price_id=pr.id, stripe_price_id=pr.stripe_price_id, quantity=1),
        ],
        state=SubscriptionState.TRIALING,
        stripe_subscription_id=f"sub_{sid}",
        default_payment_method="pm_123",
        trial_period_days=7,
        cancel_at_period_end=True,
        cancel_at=T0 + timedelta(days=60),
        trial_start=T0,
        trial_end=T0 + timedelta(days=7),
        canceled_at=None,
        pause_behavior=PauseBehavior.KEEP_AS_DRAFT,
        pause_resumes_at=T0 + timedelta(days=14),
        trial_will_end_notice_at=T0 + timedelta(days=4),
        latest_invoice_id=None,
        stripe_latest_invoice_id=f"in_{sid}",
        pending_action=PaymentAction(
            invoice_id="inv_1",
            payment_id="pay_1",
            client_secret="pi_secret_y",
            next_action_type="use_stripe_sdk",
            next_action_url="https://3ds.example/s",
            hosted_invoice_url="https://inv.example/h",
            error_code="authentication_required",
            decline_code="authentication_required",
        ),
        metadata={"plan": "pro", "ünï": "cödé"},
        lease_until=T0 + timedelta(seconds=30),
        remote_updated_at=T0,
        synced_at=T0 + timedelta(seconds=2),
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Subscription(**values)  # type: ignore[arg-type]


def invoice(c: Customer, s: Subscription | None, **overrides: object) -> Invoice:
    iid = new_id("inv")
    values: dict[str, object] = dict(
        id=iid,
        account_id=c.account_id,
        customer_id=c.id,
        subscription_id=s.id if s else None,
        stripe_subscription_id=s.stripe_subscription_id if s else None,
        stripe_invoice_id=f"in_{iid}",
        number="INV-1",
        state=InvoiceState.OPEN,
        currency="eur",
        amount_due=3998,
        amount_paid=0,
        amount_remaining=3998,
        subtotal=3998,
        total=3998,
        hosted_invoice_url="https://inv.example/h",
        invoice_pdf_url="https://inv.example/p",
        period_start=T0,
        period_end=T0 + timedelta(days=30),
        due_time=T0 + timedelta(days=3),
        paid_time=None,
        billing_reason="subscription_cycle",
        attempt_count=2,
        lines=[
            InvoiceLine(
                stripe_line_id="il_1",
                description="Pro x2",
                amount=3998,
                currency="eur",
                quantity=2,
                stripe_price_id="price_x",
                period_start=T0,
                period_end=T0 + timedelta(days=30),
                proration=True,
            ),
            InvoiceLine(stripe_line_id="il_2", description=None, amount=0, currency="eur"),
        ],
        stripe_payment_intent_id=f"pi_{iid}",
        payment_id="pay_of_invoice",
        remote_updated_at=T0,
        synced_at=T0 + timedelta(seconds=3),
        create_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return Invoice(**values)  # type: ignore[arg-type]


def webhook_event(**overrides: object) -> WebhookEvent:
    wid = new_id("whe")
    values: dict[str, object] = dict(
        id=wid,
        stripe_event_id=f"evt_{wid}",
        type="payment_intent.succeeded",
        created=T0,
        payload='{"id": "evt"}',
        attempts=0,
        receive_time=T0,
        update_time=T0,
    )
    values.update(overrides)
    return WebhookEvent(**values)  # type: ignore[arg-type]


def audit_entry(object_id: str = "pay_1") -> AuditEntry:
    return AuditEntry(
        id=new_id("aud"),
        time=T0,
        actor="svc-orders",
        action="payments.create",
        object_type="payment",
        object_id=object_id,
        outcome="ok",
        trace_id="t" * 32,
        detail={"amount": "1050"},
    )


def request_record(resource_id: str = "pay_1") -> RequestRecord:
    return RequestRecord(
        caller="svc-orders",
        request_id=new_id("req"),
        method="CapturePayment",
        request_hash="d" * 64,
        resource_id=resource_id,
        response=b"\x00\x01proto",
        create_time=T0,
    )


def page(size: int = 50, token: str = "") -> PageRequest:
    return PageRequest(size, token)
