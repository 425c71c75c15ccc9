"""In-memory repositories: the SQL repositories' behaviour over a ``Transaction``.

Each one answers like its adapters/db/repositories counterpart: the same filters and
orderings, the same keyset pages (same tokens, so a token of one list is refused by
another), ``update`` of a versioned row refused with ``Aborted`` when the stored version
moved and bumping ``version`` on success, unversioned updates stamping ``update_time``.
Entities handed out are copies: changing one changes nothing until it is written back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar, cast

from payment_service.app.ports.list_filters import (
    DisputeFilter,
    InvoiceFilter,
    OwnedRows,
    PaymentMethodFilter,
)
from payment_service.app.ports.storage import AuditQuery
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import (
    RESERVING_REFUND_STATES,
    AuditEntry,
    Customer,
    Dispute,
    Invoice,
    Payment,
    PaymentMethod,
    Price,
    Refund,
    RequestRecord,
    SetupIntent,
    Subscription,
    WebhookEvent,
)
from payment_service.domain.errors import Aborted
from payment_service.domain.pagination import Cursor, Page, PageRequest
from payment_service.domain.states import (
    DisputeState,
    PaymentState,
    RefundState,
    SetupIntentState,
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

    def _owned_page(self, where: OwnedRows[Any], page: PageRequest) -> Page[E]:
        """Newest first: the rows in ``where.states`` (any, when empty) of every owner given."""
        owners = where.owners()

        def owned(row: Any) -> bool:
            return _in(where.states, row) and all(
                getattr(row, column) == id_ for column, id_ in owners.items() if id_ is not None
            )

        filters = {"list": self.table, **owners, "states": where.states}
        return self._page(owned, page, filters)


def _position(cursor: Cursor) -> tuple[datetime, str]:
    return (cursor.create_time, cursor.id)


class _EntityRepository(_Repository[E]):
    """One entity's rows by id; ``stripe_id`` names the attribute holding its Stripe id."""

    stripe_id: ClassVar[str]

    async def get(self, entity_id: str) -> E | None:
        return self._get(entity_id)

    async def get_for_update(self, entity_id: str) -> E | None:
        return await self._locked(entity_id)

    async def find_by_stripe_id(self, stripe_id: str, *, for_update: bool = False) -> E | None:
        return await self._first_locked(for_update, **{self.stripe_id: stripe_id})

    async def add(self, entity: E) -> None:
        self._txn.insert(self.table, entity)

    async def update(self, entity: E) -> None:
        stamped: Any = entity
        stamped.update_time = utcnow()
        self._update_by_id(entity)

    def _oldest_first(
        self, where: Callable[[Any], bool], order: Callable[[Any], Any], limit: int
    ) -> list[E]:
        return sorted(self._where(where), key=order)[:limit]


class _Refreshed(_EntityRepository[E]):
    """Rows the reconciler re-reads from Stripe in turn."""

    async def list_to_refresh(
        self, states: Collection[Any], older_than: datetime, *, limit: int = 100
    ) -> list[E]:
        """Rows known to Stripe (their Stripe id set) in ``states`` not read from Stripe
        since ``older_than``: never read first, then the least recently read (then by id)."""

        def due(row: Any) -> bool:
            synced = row.synced_at
            return (
                _in(states, row)
                and (synced is None or synced < older_than)
                and getattr(row, self.stripe_id) is not None
            )

        def order(row: Any) -> tuple[bool, datetime, str]:
            return (row.synced_at is not None, row.synced_at or older_than, row.id)

        return self._oldest_first(due, order, limit)


class _Versioned(_EntityRepository[E]):
    async def update(self, entity: E) -> None:
        self._update_versioned(entity)

    async def update_from(self, known: E, entity: E) -> None:
        self._update_versioned(entity)


class _Requested(_Versioned[E]):
    """Created by an AIP-155 request; listed per account (``account_list`` in page tokens)."""

    account_list: ClassVar[str]

    async def find_by_request(self, caller: str, request_id: str) -> E | None:
        return self._first(caller=caller, request_id=request_id)

    async def add_with_commit(self, entity: E) -> None:
        await self.add(entity)  # the fake's inserts are checked at once either way

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[Any] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[E]:
        filters = {
            "list": self.account_list,
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }

        def where(row: Any) -> bool:
            return (
                row.account_id == account_id
                and _in(states, row)
                and _created_between(row, created_after, created_before)
            )

        return self._page(where, page, filters)


class FakeCustomerRepository(_EntityRepository[Customer]):
    table = "customers"
    stripe_id = "stripe_customer_id"

    async def get_by_account(self, account_id: str) -> Customer | None:
        return self._first(account_id=account_id)


class FakePaymentMethodRepository(_EntityRepository[PaymentMethod]):
    table = "payment_methods"
    stripe_id = "stripe_payment_method_id"

    async def list_for_account(
        self, where: PaymentMethodFilter, *, page: PageRequest
    ) -> Page[PaymentMethod]:
        return self._owned_page(where, page)


class FakePaymentRepository(_Requested[Payment]):
    table = "transactions"
    stripe_id = "stripe_payment_intent_id"
    account_list = "payments"

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        return self._oldest_first(
            lambda r: r.state is PaymentState.PENDING and r.create_time < older_than,
            lambda r: r.create_time,
            limit,
        )

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        def last_sync(row: Payment) -> datetime:
            return row.synced_at or row.update_time

        return self._oldest_first(
            lambda r: r.state in _LIVE_PAYMENT_STATES and last_sync(r) < older_than,
            last_sync,
            limit,
        )


class FakeRefundRepository(_Requested[Refund]):
    table = "refunds"
    stripe_id = "stripe_refund_id"
    account_list = "refunds.account"

    async def list_for_payment(self, payment_id: str, *, page: PageRequest) -> Page[Refund]:
        filters = {"list": "refunds.payment", "payment_id": payment_id}
        return self._page(lambda r: r.payment_id == payment_id, page, filters)

    async def sum_refundable_reserved(self, payment_id: str) -> int:
        rows = self._where(
            lambda r: r.payment_id == payment_id and r.state in RESERVING_REFUND_STATES
        )
        return sum(r.amount for r in rows)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        return self._oldest_first(
            lambda r: r.state is RefundState.PENDING and r.create_time < older_than,
            lambda r: r.create_time,
            limit,
        )

    async def list_unsettled(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        unsettled = (RefundState.PENDING, RefundState.REQUIRES_ACTION)
        return self._oldest_first(
            lambda r: r.state in unsettled and r.create_time < older_than,
            lambda r: (r.synced_at or r.create_time, r.id),
            limit,
        )


class FakePriceRepository(_EntityRepository[Price]):
    table = "prices"
    stripe_id = "stripe_price_id"

    async def list_prices(self, *, page: PageRequest, include_inactive: bool) -> Page[Price]:
        filters = {"list": "prices", "include_inactive": include_inactive}
        return self._page(lambda r: include_inactive or r.active, page, filters)

    async def list_for_product(self, stripe_product_id: str) -> list[Price]:
        rows = self._where(lambda r: r.stripe_product_id == stripe_product_id)
        return sorted(rows, key=lambda r: (r.create_time, r.id))


class FakeSubscriptionRepository(_Refreshed[Subscription], _Requested[Subscription]):
    table = "subscriptions"
    stripe_id = "stripe_subscription_id"
    account_list = "subscriptions"

    async def list_in_states(
        self, states: Collection[SubscriptionState], *, page: PageRequest
    ) -> Page[Subscription]:
        filters = {"list": "subscriptions.states", "states": states}
        return self._page(lambda r: _in(states, r), page, filters)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Subscription]:
        return self._oldest_first(
            lambda r: (
                r.stripe_subscription_id is None
                and r.state is SubscriptionState.INCOMPLETE
                and r.create_time < older_than
            ),
            lambda r: r.create_time,
            limit,
        )


class FakeInvoiceRepository(_Refreshed[Invoice], _Versioned[Invoice]):
    table = "invoices"
    stripe_id = "stripe_invoice_id"

    async def list_invoices(self, where: InvoiceFilter, *, page: PageRequest) -> Page[Invoice]:
        return self._owned_page(where, page)


class FakeDisputeRepository(_Refreshed[Dispute], _Versioned[Dispute]):
    table = "disputes"
    stripe_id = "stripe_dispute_id"

    async def list_disputes(self, where: DisputeFilter, *, page: PageRequest) -> Page[Dispute]:
        return self._owned_page(where, page)

    async def count_open(
        self, states: Collection[DisputeState], due_before: datetime
    ) -> tuple[int, int]:
        rows = self._where(lambda row: _in(states, row))
        due = [r for r in rows if r.evidence_due_by is not None and r.evidence_due_by < due_before]
        return len(rows), len(due)


class FakeSetupIntentRepository(_Refreshed[SetupIntent], _Requested[SetupIntent]):
    table = "setup_intents"
    stripe_id = "stripe_setup_intent_id"
    account_list = "setup_intents"

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[SetupIntent]:
        return self._oldest_first(
            lambda r: r.state is SetupIntentState.PENDING and r.create_time < older_than,
            lambda r: r.create_time,
            limit,
        )


class FakeWebhookEventRepository(_EntityRepository[WebhookEvent]):
    table = "webhook_events"
    stripe_id = "stripe_event_id"

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
        return await self.find_by_stripe_id(stripe_event_id)

    async def insert_if_new(self, event: WebhookEvent) -> bool:
        if event.next_attempt_at is None and event.state is WebhookEventState.RECEIVED:
            event.next_attempt_at = event.receive_time
        if self._first(stripe_event_id=event.stripe_event_id) is not None:
            return False  # ON CONFLICT (stripe_event_id) DO NOTHING
        self._txn.insert(self.table, event)
        return True

    async def insert_many_if_new(self, events: Sequence[WebhookEvent]) -> set[str]:
        return {e.stripe_event_id for e in events if await self.insert_if_new(e)}

    def _behind_earlier(self, event: WebhookEvent) -> bool:
        """An earlier RECEIVED event of the same object waits (per-object order)."""
        return event.object_id is not None and bool(
            self._where(
                lambda r: (
                    r.object_id == event.object_id
                    and r.state is WebhookEventState.RECEIVED
                    and (r.created, r.id) < (event.created, event.id)
                )
            )
        )

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookEvent]:
        due = self._where(
            lambda r: (
                r.state in _DUE_EVENT_STATES
                and r.next_attempt_at is not None
                and r.next_attempt_at <= now
                and not self._txn.is_locked_by_other(self.table, r.id)
                and not self._behind_earlier(r)
            )  # SKIP LOCKED
        )
        claimed = sorted(due, key=lambda r: r.next_attempt_at or now)[:limit]
        for event in claimed:
            await self._txn.lock(self.table, event.id)
        return claimed

    async def get_many_for_update(self, ids: Collection[str]) -> list[WebhookEvent]:
        found = [event for event in [await self.get_for_update(i) for i in sorted(ids)] if event]
        return found

    async def update_many(self, events: Sequence[WebhookEvent]) -> None:
        for event in events:
            await self.update(event)

    async def lease(self, ids: Collection[str], until: datetime) -> None:
        for event_id in ids:
            event = await self.get(event_id)
            if event is not None:
                event.next_attempt_at = until
                await self.update(event)

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

    async def add_with_commit(self, record: RequestRecord) -> None:
        await self.add(record)  # the fake's inserts are checked at once either way

    async def complete(self, record: RequestRecord) -> bool:
        current = self._get((record.caller, record.request_id))
        if current is None or not current.pending:
            return False
        answer = dataclasses.replace(
            current, response=record.response, resource_id=record.resource_id
        )
        self._txn.replace(self.table, answer)
        return True


class FakeAuditLog(_Repository[AuditEntry]):
    table = "audit_log"

    async def add(self, entry: AuditEntry) -> None:
        self._txn.insert(self.table, entry)

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            await self.add(entry)

    async def list_for_object(self, object_type: str, object_id: str) -> list[AuditEntry]:
        rows = self._where(lambda r: (r.object_type, r.object_id) == (object_type, object_id))
        return sorted(rows, key=lambda r: (r.time, r.id))

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        wanted = {
            "account_id": query.account_id,
            "object_type": query.object_type,
            "object_id": query.object_id,
            "actor": query.actor,
        }

        def matches(row: AuditEntry) -> bool:
            if any(v is not None and getattr(row, k) != v for k, v in wanted.items()):
                return False
            if query.since is not None and row.time < query.since:
                return False
            return query.until is None or row.time < query.until

        return sorted(self._where(matches), key=lambda r: (r.time, r.id))[: query.limit]


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
