"""The schema as SQLAlchemy Core tables. Migrations in ``migrations/`` must produce exactly this."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from payment_service.adapters.db.encrypted import EncryptedText
from payment_service.adapters.db.types import UtcDateTime
from payment_service.domain.states import (
    CaptureMethod,
    InvoiceState,
    PaymentMethodState,
    PaymentState,
    PriceInterval,
    RefundReason,
    RefundState,
    SubscriptionState,
    WebhookEventState,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = String(40)
STRIPE_ID = String(255)


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that ``column`` holds one of the enum's values (named ``ck_<table>_<column>``)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def _times() -> list[Column[object]]:
    return [
        Column("create_time", UtcDateTime, nullable=False),
        Column("update_time", UtcDateTime, nullable=False),
    ]


customers = Table(
    "customers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", String(64), nullable=False, unique=True),
    Column("stripe_customer_id", STRIPE_ID, unique=True),
    Column("email", EncryptedText("customers.email")),
    Column("name", EncryptedText("customers.name")),
    Column("default_payment_method_id", ID),
    *_times(),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("customer_id", ID, ForeignKey("customers.id"), nullable=False),
    Column("stripe_payment_method_id", STRIPE_ID, nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("brand", String(32)),
    Column("last4", String(4)),
    Column("exp_month", Integer),
    Column("exp_year", Integer),
    Column("fingerprint", String(64)),
    Column("billing_name", EncryptedText("payment_methods.billing_name")),
    Column("state", Text, nullable=False),
    *_times(),
    one_of("state", PaymentMethodState),
    Index(None, "account_id", "create_time", "id"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("customer_id", ID, ForeignKey("customers.id")),
    Column("caller", String(255), nullable=False),
    Column("request_id", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_capturable", BigInteger, nullable=False),
    Column("amount_received", BigInteger, nullable=False),
    Column("amount_refunded", BigInteger, nullable=False),
    Column("stripe_amount_refunded", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Column("capture_method", Text, nullable=False),
    Column("payment_method", STRIPE_ID),
    Column("description", Text),
    Column("receipt_email", EncryptedText("transactions.receipt_email")),
    Column("receipt_url", Text),
    Column("client_secret", Text),
    Column("next_action_type", String(64)),
    Column("next_action_url", Text),
    Column("last_error_code", String(64)),
    Column("last_error_decline_code", String(64)),
    Column("last_error_message", Text),
    Column("stripe_payment_intent_id", STRIPE_ID, unique=True),
    Column("stripe_customer_id", STRIPE_ID),
    Column("metadata", JSON, nullable=False),
    Column("confirm_on_create", Boolean, nullable=False),
    Column("lease_until", UtcDateTime),
    Column("remote_updated_at", UtcDateTime),
    Column("synced_at", UtcDateTime),
    *_times(),
    Column("version", Integer, nullable=False),
    one_of("state", PaymentState),
    one_of("capture_method", CaptureMethod),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
    CheckConstraint("stripe_amount_refunded >= 0", name="stripe_amount_refunded_not_negative"),
    UniqueConstraint("caller", "request_id"),
    Index(None, "account_id", "create_time", "id"),
    Index(None, "state", "create_time"),
)

request_records = Table(
    "request_records",
    metadata,
    Column("caller", String(255), nullable=False),
    Column("request_id", String(255), nullable=False),
    Column("method", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("response", LargeBinary),
    Column("create_time", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("caller", "request_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", ID, primary_key=True),
    Column("payment_id", ID, ForeignKey("transactions.id"), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("caller", String(255), nullable=False),
    Column("request_id", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("reason", Text),
    Column("state", Text, nullable=False),
    Column("failure_reason", String(64)),
    Column("stripe_refund_id", STRIPE_ID, unique=True),
    Column("metadata", JSON, nullable=False),
    Column("remote_updated_at", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("synced_at", UtcDateTime),
    *_times(),
    Column("version", Integer, nullable=False),
    one_of("state", RefundState),
    one_of("reason", RefundReason),
    CheckConstraint("amount > 0", name="amount_positive"),
    UniqueConstraint("caller", "request_id"),
    Index(None, "account_id", "create_time", "id"),
    Index(None, "payment_id", "create_time", "id"),
    Index(None, "state", "create_time"),
)

prices = Table(
    "prices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("stripe_price_id", STRIPE_ID, nullable=False, unique=True),
    Column("product_name", Text, nullable=False),
    Column("unit_amount", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("interval", Text, nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    *_times(),
    one_of("interval", PriceInterval),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("customer_id", ID, ForeignKey("customers.id"), nullable=False),
    Column("caller", String(255), nullable=False),
    Column("request_id", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("stripe_subscription_id", STRIPE_ID, unique=True),
    Column("price_id", ID, ForeignKey("prices.id"), nullable=False),
    Column("stripe_price_id", STRIPE_ID, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("current_period_start", UtcDateTime),
    Column("current_period_end", UtcDateTime),
    Column("trial_start", UtcDateTime),
    Column("trial_end", UtcDateTime),
    Column("canceled_at", UtcDateTime),
    Column("latest_invoice_id", ID),
    Column("metadata", JSON, nullable=False),
    Column("remote_updated_at", UtcDateTime),
    *_times(),
    Column("version", Integer, nullable=False),
    one_of("state", SubscriptionState),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    UniqueConstraint("caller", "request_id"),
    Index(None, "account_id", "create_time", "id"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("customer_id", ID, ForeignKey("customers.id"), nullable=False),
    Column("subscription_id", ID, ForeignKey("subscriptions.id")),
    Column("stripe_invoice_id", STRIPE_ID, nullable=False, unique=True),
    Column("number", String(64)),
    Column("state", Text, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_due", BigInteger, nullable=False),
    Column("amount_paid", BigInteger, nullable=False),
    Column("amount_remaining", BigInteger, nullable=False),
    Column("subtotal", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("hosted_invoice_url", Text),
    Column("invoice_pdf_url", Text),
    Column("period_start", UtcDateTime),
    Column("period_end", UtcDateTime),
    Column("due_time", UtcDateTime),
    Column("paid_time", UtcDateTime),
    Column("lines", JSON, nullable=False),
    Column("remote_updated_at", UtcDateTime),
    *_times(),
    one_of("state", InvoiceState),
    Index(None, "account_id", "create_time", "id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("stripe_event_id", STRIPE_ID, nullable=False, unique=True),
    Column("type", String(128), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("payload", EncryptedText("webhook_events.payload"), nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("next_attempt_at", UtcDateTime),
    Column("processed_at", UtcDateTime),
    Column("receive_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    one_of("state", WebhookEventState),
    Index(None, "state", "next_attempt_at"),
    Index(None, "receive_time", "id"),
)

reconciler_state = Table(
    "reconciler_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("time", UtcDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(128), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(255), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("trace_id", String(64)),
    Column("detail", JSON, nullable=False),
    Index(None, "object_type", "object_id", "time"),
)
