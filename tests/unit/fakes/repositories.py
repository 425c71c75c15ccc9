"""In-memory repositories: the SQL repositories' behaviour over a ``Transaction``.

Each one answers like its adapters/db/repositories counterpart: the same filters and
orderings, the same keyset pages (same tokens, so a token of one list is refused by
another), ``update`` of a versioned row refused with ``Aborted`` when the stored version
moved and bumping ``version`` on success, unversioned updates stamping ``update_time``.
Entities handed out are copies: changing one changes nothing until it is written back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar, cast

from payment_service.domain.clock import utcnow
from payment_service.domain.entities import (
    RESERVING_REFUND_STATES,
    AuditEntry,
    Customer,
    Invoice,
    Payment,
    PaymentMethod,
    Price,
    Refund,
    RequestRecord,
    Subscription,
    WebhookEvent,
)
from payment_service.domain.errors import Aborted
from payment_service.domain.pagination import Cursor, Page, PageRequest
from payment_service.domain.states import (
    InvoiceState,
    PaymentMethodState,
    PaymentState,
    RefundState,
    SubscriptionState,
    WebhookEventState,
)
from payment_service.domain.transitions import PAYMENT_TRANSITIONS
from tests.unit.fakes.database import Key, StateRow, Transaction

E = TypeVar("E")

_LIVE_PAYMENT_STATES = frozenset(
    s
    for s in PaymentState
    if s is not PaymentState.PENDING and not PAYMENT_TRANSITIONS.is_terminal(s)
)
_DUE_EVENT_STATES = frozenset({WebhookEventState.RECEIVED, WebhookEventState.FAILED})
_STAMPED = ("id", "create_time")  # columns an update leaves as they are


def by_create_time(entity: Any) -> Cursor:
    return Cursor(entity.create_time, entity.id)


def _by_receive_time(event: WebhookEvent) -> Cursor:
    return Cursor(event.receive_time, event.id)


def _created_between(row: Any, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or row.create_time >= after) and (
        before is None or row.create_time < before
    )


def _in(states: Collection[Any], row: Any) -> bool:
    return not states or row.state in states


class _Repository(Generic[E]):
    table: ClassVar[str]

    def __init__(self, txn: Transaction) -> None:
        self._txn = txn

    def _get(self, key: Key) -> E | None:
        return cast("E | None", self._txn.get(self.table, key))

    def _where(self, where: Callable[[Any], bool]) -> list[E]:
        return cast("list[E]", self._txn.select(self.table, where))

    def _first(self, **equals: object) -> E | None:
        found = self._where(lambda row: all(getattr(row, k) == v for k, v in equals.items()))
        return found[0] if found else None

    async def _locked(self, key: Key) -> E | None:
        await self._txn.lock(self.table, key)
        return self._get(key)

    async def _first_locked(self, for_update: bool, **equals: object) -> E | None:
        found = self._first(**equals)
        if found is None or not for_update:
            return found
        return await self._locked(getattr(found, "id"))

    def _update_by_id(
        self, entity: Any, skip: tuple[str, ...] = _STAMPED, **values: object
    ) -> None:
        """UPDATE … WHERE id: every column but ``skip`` from ``entity`` (``values`` on top);
        Aborted when the row is gone."""
        current = self._txn.current(self.table, entity.id)
        if current is None:
            raise Aborted(f"{self.table} row {entity.id} is gone", metadata={"id": entity.id})
        kept = {name: getattr(current, name) for name in skip if name != "id"}
        self._txn.replace(self.table, dataclasses.replace(entity, **kept, **values))

    def _update_versioned(self, entity: Any) -> None:
        expected = entity.version
        entity.update_time = utcnow()
        current = self._txn.current(self.table, entity.id)
        if current is None or current.version != expected:
            raise Aborted(
                f"{self.table} row {entity.id} changed concurrently (version {expected})",
                metadata={"id": entity.id},
            )
        self._update_by_id(entity, version=expected + 1)
        entity.version = expected + 1

    def _page(
        self,
        where: Callable[[Any], bool],
        page: PageRequest,
        filters: Mapping[str, object],
        cursor_of: Callable[[E], Cursor] = by_create_time,
    ) -> Page[E]:
        """Newest first by ``(time, id)``; the token resumes strictly after the last row."""
        cursor = page.cursor(filters)
        rows = sorted(self._where(where), key=lambda r: _position(cursor_of(r)), reverse=True)
        if cursor is not None:
            rows = [r for r in rows if _position(cursor_of(r)) < _position(cursor)]
        return page.page_of(rows[: page.size + 1], cursor_of, filters)


def _position(cursor: Cursor) -> tuple[datetime, str]:
    return (cursor.create_time, cursor.id)


class FakeCustomerRepository(_Repository[Customer]):
    table = "customers"

    async def get(self, customer_id: str) -> Customer | None:
        return self._get(customer_id)

    async def get_by_account(self, account_id: str) -> Customer | None:
        return self._first(account_id=account_id)

    async def find_by_stripe_id(self, stripe_customer_id: str) -> Customer | None:
        return self._first(stripe_customer_id=stripe_customer_id)

    async def add(self, customer: Customer) -> None:
        self._txn.insert(self.table, customer)

    async def update(self, customer: Customer) -> None:
        customer.update_time = utcnow()
        self._update_by_id(customer)


class FakePaymentMethodRepository(_Repository[PaymentMethod]):
    table = "payment_methods"

    async def get(self, payment_method_id: str) -> PaymentMethod | None:
        return self._get(payment_method_id)

    async def find_by_stripe_id(self, stripe_payment_method_id: str) -> PaymentMethod | None:
        return self._first(stripe_payment_method_id=stripe_payment_method_id)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        customer_id: str | None = None,
        states: Collection[PaymentMethodState] = (),
    ) -> Page[PaymentMethod]:
        filters = {
            "list": "payment_methods",
            "account_id": account_id,
            "customer_id": customer_id,
            "states": states,
        }

        def where(row: PaymentMethod) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and (customer_id is None or row.customer_id == customer_id)
            )

        return self._page(where, page, filters)

    async def add(self, payment_method: PaymentMethod) -> None:
        self._txn.insert(self.table, payment_method)

    async def update(self, payment_method: PaymentMethod) -> None:
        payment_method.update_time = utcnow()
        self._update_by_id(payment_method)


class FakePaymentRepository(_Repository[Payment]):
    table = "transactions"

    async def get(self, payment_id: str) -> Payment | None:
        return self._get(payment_id)

    async def get_for_update(self, payment_id: str) -> Payment | None:
        return await self._locked(payment_id)

    async def find_by_request(self, caller: str, request_id: str) -> Payment | None:
        return self._first(caller=caller, request_id=request_id)

    async def find_by_stripe_id(
        self, stripe_payment_intent_id: str, *, for_update: bool = False
    ) -> Payment | None:
        return await self._first_locked(
            for_update, stripe_payment_intent_id=stripe_payment_intent_id
        )

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[PaymentState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Payment]:
        filters = {
            "list": "payments",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }

        def where(row: Payment) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and _created_between(row, created_after, created_before)
            )

        return self._page(where, page, filters)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        rows = self._where(lambda r: r.state is PaymentState.PENDING and r.create_time < older_than)
        return sorted(rows, key=lambda r: r.create_time)[:limit]

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        def last_sync(row: Payment) -> datetime:
            return row.synced_at or row.update_time

        rows = self._where(lambda r: r.state in _LIVE_PAYMENT_STATES and last_sync(r) < older_than)
        return sorted(rows, key=last_sync)[:limit]

    async def add(self, payment: Payment) -> None:
        self._txn.insert(self.table, payment)

    async def update(self, payment: Payment) -> None:
        self._update_versioned(payment)


class FakeRefundRepository(_Repository[Refund]):
    table = "refunds"

    async def get(self, refund_id: str) -> Refund | None:
        return self._get(refund_id)

    async def get_for_update(self, refund_id: str) -> Refund | None:
        return await self._locked(refund_id)

    async def find_by_request(self, caller: str, request_id: str) -> Refund | None:
        return self._first(caller=caller, request_id=request_id)

    async def find_by_stripe_id(
        self, stripe_refund_id: str, *, for_update: bool = False
    ) -> Refund | None:
        return await self._first_locked(for_update, stripe_refund_id=stripe_refund_id)

    async def list_for_payment(self, payment_id: str, *, page: PageRequest) -> Page[Refund]:
        filters = {"list": "refunds.payment", "payment_id": payment_id}
        return self._page(lambda r: r.payment_id == payment_id, page, filters)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[RefundState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Refund]:
        filters = {
            "list": "refunds.account",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }

        def where(row: Refund) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and _created_between(row, created_after, created_before)
            )

        return self._page(where, page, filters)

    async def sum_refundable_reserved(self, payment_id: str) -> int:
        rows = self._where(
            lambda r: r.payment_id == payment_id and r.state in RESERVING_REFUND_STATES
        )
        return sum(r.amount for r in rows)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        rows = self._where(lambda r: r.state is RefundState.PENDING and r.create_time < older_than)
        return sorted(rows, key=lambda r: r.create_time)[:limit]

    async def list_unsettled(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        unsettled = (RefundState.PENDING, RefundState.REQUIRES_ACTION)
        rows = self._where(lambda r: r.state in unsettled and r.create_time < older_than)
        return sorted(rows, key=lambda r: (r.synced_at or r.create_time, r.id))[:limit]

    async def add(self, refund: Refund) -> None:
        self._txn.insert(self.table, refund)

    async def update(self, refund: Refund) -> None:
        self._update_versioned(refund)


class FakePriceRepository(_Repository[Price]):
    table = "prices"

    async def get(self, price_id: str) -> Price | None:
        return self._get(price_id)

    async def find_by_stripe_id(self, stripe_price_id: str) -> Price | None:
        return self._first(stripe_price_id=stripe_price_id)

    async def list_active(self) -> list[Price]:
        return sorted(self._where(lambda r: r.active is True), key=lambda r: r.id)

    async def add(self, price: Price) -> None:
        self._txn.insert(self.table, price)

    async def update(self, price: Price) -> None:
        price.update_time = utcnow()
        self._update_by_id(price)


class FakeSubscriptionRepository(_Repository[Subscription]):
    table = "subscriptions"

    async def get(self, subscription_id: str) -> Subscription | None:
        return self._get(subscription_id)

    async def get_for_update(self, subscription_id: str) -> Subscription | None:
        return await self._locked(subscription_id)

    async def find_by_request(self, caller: str, request_id: str) -> Subscription | None:
        return self._first(caller=caller, request_id=request_id)

    async def find_by_stripe_id(
        self, stripe_subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None:
        return await self._first_locked(for_update, stripe_subscription_id=stripe_subscription_id)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[SubscriptionState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Subscription]:
        filters = {
            "list": "subscriptions",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }

        def where(row: Subscription) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and _created_between(row, created_after, created_before)
            )

        return self._page(where, page, filters)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Subscription]:
        rows = self._where(
            lambda r: (
                r.stripe_subscription_id is None
                and r.state is SubscriptionState.INCOMPLETE
                and r.create_time < older_than
            )
        )
        return sorted(rows, key=lambda r: r.create_time)[:limit]

    async def add(self, subscription: Subscription) -> None:
        self._txn.insert(self.table, subscription)

    async def update(self, subscription: Subscription) -> None:
        self._update_versioned(subscription)


class FakeInvoiceRepository(_Repository[Invoice]):
    table = "invoices"

    async def get(self, invoice_id: str) -> Invoice | None:
        return self._get(invoice_id)

    async def find_by_stripe_id(
        self, stripe_invoice_id: str, *, for_update: bool = False
    ) -> Invoice | None:
        return await self._first_locked(for_update, stripe_invoice_id=stripe_invoice_id)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[InvoiceState] = (),
        subscription_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Invoice]:
        filters = {
            "list": "invoices",
            "account_id": account_id,
            "states": states,
            "subscription_id": subscription_id,
            "created_after": created_after,
            "created_before": created_before,
        }

        def where(row: Invoice) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and (subscription_id is None or row.subscription_id == subscription_id)
                and _created_between(row, created_after, created_before)
            )

        return self._page(where, page, filters)

    async def add(self, invoice: Invoice) -> None:
        self._txn.insert(self.table, invoice)

    async def update(self, invoice: Invoice) -> None:
        invoice.update_time = utcnow()
        self._update_by_id(invoice)


class FakeWebhookEventRepository(_Repository[WebhookEvent]):
    table = "webhook_events"

    async def get(self, event_id: str) -> WebhookEvent | None:
        return self._get(event_id)

    async def get_for_update(self, event_id: str) -> WebhookEvent | None:
        return await self._locked(event_id)

    async def backlog(
        self, states: Collection[WebhookEventState]
    ) -> dict[WebhookEventState, tuple[int, datetime | None]]:
        found: dict[WebhookEventState, tuple[int, datetime | None]] = {}
        for row in self._where(lambda r: r.state in states):
            count, oldest = found.get(row.state, (0, None))
            oldest = row.receive_time if oldest is None else min(oldest, row.receive_time)
            found[row.state] = (count + 1, oldest)
        return found

    async def find_by_stripe_event_id(self, stripe_event_id: str) -> WebhookEvent | None:
        return self._first(stripe_event_id=stripe_event_id)

    async def insert_if_new(self, event: WebhookEvent) -> bool:
        if event.next_attempt_at is None and event.state is WebhookEventState.RECEIVED:
            event.next_attempt_at = event.receive_time
        if self._first(stripe_event_id=event.stripe_event_id) is not None:
            return False  # ON CONFLICT (stripe_event_id) DO NOTHING
        self._txn.insert(self.table, event)
        return True

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookEvent]:
        due = self._where(
            lambda r: (
                r.state in _DUE_EVENT_STATES
                and r.next_attempt_at is not None
                and r.next_attempt_at <= now
                and not self._txn.is_locked_by_other(self.table, r.id)
            )  # SKIP LOCKED
        )
        claimed = sorted(due, key=lambda r: r.next_attempt_at or now)[:limit]
        for event in claimed:
            await self._txn.lock(self.table, event.id)
        return claimed

    async def list_events(
        self, *, page: PageRequest, states: Collection[WebhookEventState] = ()
    ) -> Page[WebhookEvent]:
        filters = {"list": "webhook_events", "states": states}
        return self._page(lambda r: _in(states, r), page, filters, _by_receive_time)

    async def update(self, event: WebhookEvent) -> None:
        event.update_time = utcnow()
        self._update_by_id(event, skip=("id", "stripe_event_id", "receive_time", "payload"))


class FakeRequestRecordRepository(_Repository[RequestRecord]):
    table = "request_records"

    async def get(self, caller: str, request_id: str) -> RequestRecord | None:
        return self._get((caller, request_id))

    async def add(self, record: RequestRecord) -> None:
        self._txn.insert(self.table, record)


class FakeAuditLog(_Repository[AuditEntry]):
    table = "audit_log"

    async def add(self, entry: AuditEntry) -> None:
        self._txn.insert(self.table, entry)

    async def list_for_object(self, object_type: str, object_id: str) -> list[AuditEntry]:
        rows = self._where(lambda r: (r.object_type, r.object_id) == (object_type, object_id))
        return sorted(rows, key=lambda r: (r.time, r.id))


class FakeReconcilerStateStore(_Repository[StateRow]):
    table = "reconciler_state"

    async def get(self, key: str) -> str | None:
        row = self._get(key)
        return row.value if row is not None else None

    async def set(self, key: str, value: str) -> None:  # an upsert: never a Conflict
        row = StateRow(key, value)
        if self._txn.current(self.table, key) is None and self._get(key) is None:
            self._txn.insert(self.table, row)
        else:
            self._txn.replace(self.table, row)
