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
    Identity,
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
from sqlalchemy.schema import SchemaItem

from payment_service.adapters.db.encrypted import EncryptedBytes, EncryptedJson, EncryptedText
from payment_service.adapters.db.types import UtcDateTime
from payment_service.domain.billing import PauseBehavior
from payment_service.domain.states import (
    CaptureMethod,
    DisputeState,
    InvoiceState,
    PaymentMethodState,
    PaymentMethodUsage,
    PaymentState,
    PriceInterval,
    RefundReason,
    RefundState,
    SetupIntentState,
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
_STRIPE_ID = "stripe_id"  # Column.info's mark of a table's Stripe id column


def one_of(column: str, values: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that ``column`` holds one of the enum's values (named ``ck_<table>_<column>``)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


def _stripe_id(name: str, *, required: bool = False) -> Column[object]:
    """The id of the Stripe object the row is (or mirrors): unique, the row's Stripe id
    for its repository (``stripe_id_column``: ``find_by_stripe_id``, the refresh queue)."""
    return Column(name, STRIPE_ID, nullable=not required, unique=True, info={_STRIPE_ID: True})


def stripe_id_column(table: Table) -> str:
    """The name of ``table``'s Stripe id column (the one ``_stripe_id`` made)."""
    (name,) = [column.name for column in table.c if column.info.get(_STRIPE_ID)]
    return name


def _entity(name: str, *items: SchemaItem) -> Table:
    """The table of one kind of entity, its rows keyed by their own ``id``."""
    return Table(name, metadata, Column("id", ID, primary_key=True), *items)


def _state(values: type[StrEnum]) -> list[SchemaItem]:
    """The row's lifecycle state, one of the enum's values."""
    return [Column("state", Text, nullable=False), one_of("state", values)]


def _times() -> list[Column[object]]:
    return [
        Column("create_time", UtcDateTime, nullable=False),
        Column("update_time", UtcDateTime, nullable=False),
    ]


def _versioned_times() -> list[Column[object]]:
    """Create and update times, and the version an optimistic update checks."""
    return [*_times(), Column("version", Integer, nullable=False)]


def _owner(*, customer_required: bool) -> list[Column[object]]:
    """The account a row belongs to, and its customer row."""
    return [
        Column("account_id", String(64), nullable=False),
        Column("customer_id", ID, ForeignKey("customers.id"), nullable=not customer_required),
    ]


def _of_payment() -> list[Column[object]]:
    """The payment a row is about (a refund, a dispute), and that payment's account."""
    return [
        Column("payment_id", ID, ForeignKey("transactions.id"), nullable=False),
        Column("account_id", String(64), nullable=False),
    ]


def _intent_action(table: str) -> list[Column[object]]:
    """What a PaymentIntent or SetupIntent awaits from the customer: its client secret, its
    next action (the 3-D Secure redirect URL carries the secret: both are encrypted), and
    the last error."""
    return [
        Column("client_secret", EncryptedText(f"{table}.client_secret")),
        Column("next_action_type", String(64)),
        Column("next_action_url", EncryptedText(f"{table}.next_action_url")),
        Column("last_error_code", String(64)),
        Column("last_error_decline_code", String(64)),
        Column("last_error_message", Text),
    ]


def _newest_first(key: str) -> Index:
    """The index of a list by ``key``, newest first (keyset pages on create_time, id)."""
    return Index(None, key, "create_time", "id")


def _request_key() -> list[SchemaItem]:
    """The AIP-155 request that created the row: unique per caller."""
    return [
        Column("caller", String(255), nullable=False),
        Column("request_id", String(255), nullable=False),
        Column("request_hash", String(64), nullable=False),
        UniqueConstraint("caller", "request_id"),
    ]


def _stripe_mirror(*, lease: bool = True) -> list[Column[object]]:
    """When Stripe last spoke about the row (its event time, and our read), and the lease a
    request holds while it calls Stripe for the row."""
    columns: list[Column[object]] = [Column("lease_until", UtcDateTime)] if lease else []
    return [
        *columns,
        Column("remote_updated_at", UtcDateTime),
        Column("synced_at", UtcDateTime),
    ]


def _money(*names: str) -> list[Column[object]]:
    """Amounts in the currency's minor unit."""
    return [Column(name, BigInteger, nullable=False) for name in names]


def _amount(name: str = "amount") -> list[SchemaItem]:
    return [
        *_money(name),
        Column("currency", CHAR(3), nullable=False),
        CheckConstraint(f"{name} > 0", name=f"{name}_positive"),
    ]


customers = _entity(
    "customers",
    Column("account_id", String(64), nullable=False, unique=True),
    _stripe_id("stripe_customer_id"),
    Column("email", EncryptedText("customers.email")),
    Column("name", EncryptedText("customers.name")),
    Column("default_payment_method_id", ID),
    *_times(),
)

payment_methods = _entity(
    "payment_methods",
    *_owner(customer_required=True),
    _stripe_id("stripe_payment_method_id", required=True),
    Column("type", String(32), nullable=False),
    Column("brand", String(32)),
    Column("last4", String(4)),
    Column("exp_month", Integer),
    Column("exp_year", Integer),
    Column("fingerprint", String(64)),
    Column("billing_name", EncryptedText("payment_methods.billing_name")),
    *_state(PaymentMethodState),
    *_times(),
    _newest_first("account_id"),
)

transactions = _entity(
    "transactions",
    *_owner(customer_required=False),
    *_request_key(),
    *_amount(),
    *_money("amount_capturable", "amount_received", "amount_refunded", "stripe_amount_refunded"),
    *_state(PaymentState),
    Column("capture_method", Text, nullable=False),
    Column("payment_method", STRIPE_ID),
    Column("description", Text),
    Column("receipt_email", EncryptedText("transactions.receipt_email")),
    Column("receipt_url", Text),
    *_intent_action("transactions"),
    _stripe_id("stripe_payment_intent_id"),
    Column("stripe_customer_id", STRIPE_ID),
    Column("metadata", JSON, nullable=False),
    Column("invoice_id", ID, ForeignKey("invoices.id"), index=True),
    Column("confirm_on_create", Boolean, nullable=False),
    Column("trace_parent", String(64)),
    Column("off_session", Boolean, nullable=False),
    Column("setup_future_usage", Text),
    # No foreign key: disputes.payment_id points here, and the two would make a cycle.
    Column("dispute_id", ID),
    Column("refund_blocked_by_dispute", Boolean, nullable=False),
    *_stripe_mirror(),
    *_versioned_times(),
    one_of("capture_method", CaptureMethod),
    one_of("setup_future_usage", PaymentMethodUsage),
    CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
    CheckConstraint("stripe_amount_refunded >= 0", name="stripe_amount_refunded_not_negative"),
    _newest_first("account_id"),
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

refunds = _entity(
    "refunds",
    *_of_payment(),
    *_request_key(),
    *_amount(),
    Column("reason", Text),
    *_state(RefundState),
    Column("failure_reason", String(64)),
    _stripe_id("stripe_refund_id"),
    Column("metadata", JSON, nullable=False),
    *_stripe_mirror(),
    *_versioned_times(),
    one_of("reason", RefundReason),
    _newest_first("account_id"),
    _newest_first("payment_id"),
    Index(None, "state", "create_time"),
)

prices = _entity(
    "prices",
    _stripe_id("stripe_price_id", required=True),
    Column("stripe_product_id", STRIPE_ID, index=True),
    Column("product_name", Text, nullable=False),
    *_money("unit_amount"),
    Column("currency", CHAR(3), nullable=False),
    Column("interval", Text, nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("remote_updated_at", UtcDateTime),
    *_times(),
    one_of("interval", PriceInterval),
)

# Items (price, quantity, period per item) and the pending payment action are JSON: the
# entity's own shapes, read and written whole; the pending action holds a client secret,
# so it is encrypted JSON. No column names a price: a subscription's prices are in
# ``items`` (the use cases look each one up before creating it).
subscriptions = _entity(
    "subscriptions",
    *_owner(customer_required=True),
    *_request_key(),
    Column("stripe_customer_id", STRIPE_ID, nullable=False),
    _stripe_id("stripe_subscription_id"),
    Column("items", JSON, nullable=False),
    *_state(SubscriptionState),
    Column("default_payment_method", STRIPE_ID),
    Column("trial_period_days", Integer),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("cancel_at", UtcDateTime),
    Column("trial_start", UtcDateTime),
    Column("trial_end", UtcDateTime),
    Column("canceled_at", UtcDateTime),
    Column("pause_behavior", Text),
    Column("pause_resumes_at", UtcDateTime),
    Column("trial_will_end_notice_at", UtcDateTime),
    Column("latest_invoice_id", ID),
    Column("stripe_latest_invoice_id", STRIPE_ID),
    Column("pending_action", EncryptedJson("subscriptions.pending_action")),
    Column("metadata", JSON, nullable=False),
    *_stripe_mirror(),
    *_versioned_times(),
    one_of("pause_behavior", PauseBehavior),
    _newest_first("account_id"),
    Index(None, "state", "create_time"),
    Index(None, "synced_at"),
)

# ``payment_id`` (our Payment of the invoice's PaymentIntent) is no foreign key: the
# key goes the other way (``transactions.invoice_id``), and the two would make a cycle.
invoices = _entity(
    "invoices",
    *_owner(customer_required=True),
    Column("subscription_id", ID, ForeignKey("subscriptions.id")),
    Column("stripe_subscription_id", STRIPE_ID),
    _stripe_id("stripe_invoice_id", required=True),
    Column("number", String(64)),
    *_state(InvoiceState),
    Column("currency", CHAR(3), nullable=False),
    *_money("amount_due", "amount_paid", "amount_remaining", "subtotal", "total"),
    Column("hosted_invoice_url", Text),
    Column("invoice_pdf_url", Text),
    Column("period_start", UtcDateTime),
    Column("period_end", UtcDateTime),
    Column("due_time", UtcDateTime),
    Column("paid_time", UtcDateTime),
    Column("billing_reason", String(64)),
    Column("attempt_count", Integer, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("stripe_payment_intent_id", STRIPE_ID),
    Column("payment_id", ID),
    *_stripe_mirror(lease=False),
    *_versioned_times(),
    _newest_first("account_id"),
    _newest_first("subscription_id"),
    Index(None, "synced_at"),
)

webhook_events = _entity(
    "webhook_events",
    _stripe_id("stripe_event_id", required=True),
    Column("type", String(128), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("payload", EncryptedText("webhook_events.payload"), nullable=False),
    *_state(WebhookEventState),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("next_attempt_at", UtcDateTime),
    Column("processed_at", UtcDateTime),
    Column("receive_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("trace_parent", String(64)),
    Column("object_id", STRIPE_ID),
    Index(None, "state", "next_attempt_at"),
    Index(None, "receive_time", "id"),
    Index(None, "object_id", "created"),
)

reconciler_state = Table(
    "reconciler_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

audit_log = _entity(
    "audit_log",
    Column("time", UtcDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(128), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", String(255), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("trace_id", String(64)),
    Column("detail", JSON, nullable=False),
    Column("account_id", String(255)),
    Column("request_id", String(255)),
    Column("peer", String(255)),
    Column("certificate", String(512)),
    Index(None, "object_type", "object_id", "time"),
    Index(None, "account_id", "time"),
    Index(None, "time"),
)

# A dispute's text evidence holds personal data (names, emails, addresses, IPs): encrypted.
disputes = _entity(
    "disputes",
    *_of_payment(),
    _stripe_id("stripe_dispute_id", required=True),
    Column("stripe_charge_id", STRIPE_ID, nullable=False),
    *_amount(),
    Column("reason", String(64), nullable=False),
    *_state(DisputeState),
    Column("evidence_due_by", UtcDateTime),
    Column("evidence_submitted", Boolean, nullable=False),
    Column("funds_withdrawn", Boolean, nullable=False),
    Column("funds_reinstated", Boolean, nullable=False),
    Column("payment_refundable", Boolean, nullable=False),
    Column("evidence", EncryptedJson("disputes.evidence"), nullable=False),
    *_stripe_mirror(lease=False),
    *_versioned_times(),
    _newest_first("account_id"),
    _newest_first("payment_id"),
    Index(None, "state", "evidence_due_by"),
)

setup_intents = _entity(
    "setup_intents",
    *_owner(customer_required=True),
    *_request_key(),
    Column("usage", Text, nullable=False),
    *_state(SetupIntentState),
    _stripe_id("stripe_setup_intent_id"),
    Column("stripe_customer_id", STRIPE_ID),
    Column("stripe_payment_method_id", STRIPE_ID),
    Column("payment_method_id", ID, ForeignKey("payment_methods.id")),
    *_intent_action("setup_intents"),
    *_stripe_mirror(),
    *_versioned_times(),
    one_of("usage", PaymentMethodUsage),
    _newest_first("account_id"),
    Index(None, "state", "create_time"),
)

# The transactional outbox: one row per state change, written in the change's transaction.
# ``position`` orders every event (an identity on PostgreSQL, AUTOINCREMENT on SQLite, so a
# position is never handed out twice); the snapshot (the object as the API returns it,
# serialized proto) may hold personal data, so it is encrypted as the other PII columns are.
event_outbox = Table(
    "event_outbox",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("event_id", ID, nullable=False),  # random ("evt_…"): unique by construction
    Column("type", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", ID, nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("snapshot_type", String(64), nullable=False),
    Column("snapshot", EncryptedBytes("event_outbox.snapshot"), nullable=False),
    Column("trace_parent", String(64)),
    Column("create_time", UtcDateTime, nullable=False),
    Index(None, "account_id", "position"),
    sqlite_autoincrement=True,
)
