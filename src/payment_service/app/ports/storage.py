"""What the use cases need from storage: repositories and a unit of work, as Protocols.

Repositories never commit. ``find_*`` returns None when nothing matches; ``add``
raises ``Conflict`` (carrying the constraint name) on a uniqueness violation;
``update`` of a versioned entity raises ``Aborted`` when another transaction
changed the row since it was read, and bumps ``entity.version`` on success.
After ``Conflict`` the unit of work is unusable: leave it (it rolls back) and
open a new one to read the row that won.
"""

from __future__ import annotations

from collections.abc import Collection, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, overload

from payment_service.app.ports.list_filters import DisputeFilter, InvoiceFilter, PaymentMethodFilter
from payment_service.domain.entities import (
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
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import (
    DisputeState,
    InvoiceState,
    PaymentState,
    RefundState,
    SetupIntentState,
    SubscriptionState,
    WebhookEventState,
)

E = TypeVar("E")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
S_contra = TypeVar("S_contra", contravariant=True)


class EntityStore(Protocol[E]):
    """Rows of one entity by our id; ``update`` writes every field but id and create time."""

    async def get(self, entity_id: str) -> E | None: ...
    async def add(self, entity: E) -> None: ...
    async def update(self, entity: E) -> None: ...


class StripeLinkedStore(EntityStore[E], Protocol[E]):
    """An entity that mirrors a Stripe object, found by that object's id too
    (``for_update``: and its row locked until the unit of work ends)."""

    async def find_by_stripe_id(self, stripe_id: str, *, for_update: bool = False) -> E | None: ...


class LockingStore(StripeLinkedStore[E], Protocol[E]):
    """A versioned entity: ``update`` raises Aborted (CONCURRENT_UPDATE) when the row's
    version moved since it was read; locking reads serialize read-modify-write."""

    async def get_for_update(self, entity_id: str) -> E | None:
        """Read and lock the row until the unit of work ends."""

    async def update_from(self, known: E, entity: E) -> None:
        """``update`` of ``entity`` over ``known``, the row as this unit of work's caller
        last wrote it, without reading it again (Aborted when the row moved past it)."""


class RequestedStore(LockingStore[E], Protocol[E]):
    """A versioned entity created by an AIP-155 request, found again by it."""

    async def find_by_request(self, caller: str, request_id: str) -> E | None: ...

    async def add_with_commit(self, entity: E) -> None:
        """``add``, the row sent with the unit of work's COMMIT where the database allows
        it (PostgreSQL: no round trip of its own): not read back before the commit, and its
        Conflict (the same request inserted by another replica) raised by the commit."""


class AccountListing(Protocol[E, S_contra]):
    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[S_contra] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[E]:
        """Newest first; ``created_after`` inclusive, ``created_before`` exclusive."""


class RefreshQueue(Protocol[E, S_contra]):
    async def list_to_refresh(
        self, states: Collection[S_contra], older_than: datetime, *, limit: int = 100
    ) -> list[E]:
        """Rows known to Stripe in ``states`` not read from Stripe since ``older_than``
        (never read first, then the least recently read): the reconciler's refresh pass."""


class CustomerRepository(StripeLinkedStore[Customer], Protocol):
    async def get_by_account(self, account_id: str) -> Customer | None: ...


class PaymentMethodRepository(StripeLinkedStore[PaymentMethod], Protocol):
    async def list_for_account(
        self, where: PaymentMethodFilter, *, page: PageRequest
    ) -> Page[PaymentMethod]: ...


class PaymentRepository(RequestedStore[Payment], AccountListing[Payment, PaymentState], Protocol):
    # list_for_account may leave client_secret and next_action_url None on payments not
    # in REQUIRES_ACTION (the only state whose answers show them).

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        """PENDING payments created before ``older_than``, oldest first (the reconciler's work)."""

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        """Known-to-Stripe, non-terminal payments not synced since ``older_than``, oldest first."""


class RefundRepository(RequestedStore[Refund], AccountListing[Refund, RefundState], Protocol):
    async def list_for_payment(self, payment_id: str, *, page: PageRequest) -> Page[Refund]: ...
    async def sum_refundable_reserved(self, payment_id: str) -> int:
        """Sum of the payment's refunds in RESERVING_REFUND_STATES (pending, action, succeeded)."""

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        """PENDING refunds created before ``older_than``, oldest first."""

    async def list_unsettled(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        """PENDING and REQUIRES_ACTION refunds created before ``older_than``, least
        recently read from Stripe first."""


class PriceRepository(StripeLinkedStore[Price], Protocol):
    async def list_prices(self, *, page: PageRequest, include_inactive: bool) -> Page[Price]:
        """Newest first."""

    async def list_for_product(self, stripe_product_id: str) -> list[Price]: ...


class SubscriptionRepository(
    RequestedStore[Subscription],
    AccountListing[Subscription, SubscriptionState],
    RefreshQueue[Subscription, SubscriptionState],
    Protocol,
):
    async def list_in_states(
        self, states: Collection[SubscriptionState], *, page: PageRequest
    ) -> Page[Subscription]:
        """Across accounts, newest first (the dunning view)."""

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Subscription]:
        """Subscriptions never created at Stripe (no stripe id) created before ``older_than``,
        oldest first."""


class InvoiceRepository(LockingStore[Invoice], RefreshQueue[Invoice, InvoiceState], Protocol):
    async def list_invoices(self, where: InvoiceFilter, *, page: PageRequest) -> Page[Invoice]:
        """Newest first."""


class DisputeRepository(LockingStore[Dispute], RefreshQueue[Dispute, DisputeState], Protocol):
    async def list_disputes(self, where: DisputeFilter, *, page: PageRequest) -> Page[Dispute]:
        """Newest first."""

    async def count_open(
        self, states: Collection[DisputeState], due_before: datetime
    ) -> tuple[int, int]:
        """How many disputes are in ``states``, and how many of them have evidence due
        before ``due_before``."""


class SetupIntentRepository(
    RequestedStore[SetupIntent], RefreshQueue[SetupIntent, SetupIntentState], Protocol
):
    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[SetupIntent]:
        """PENDING SetupIntents created before ``older_than``, oldest first."""


class WebhookEventRepository(Protocol):
    async def get(self, entity_id: str) -> WebhookEvent | None: ...
    async def get_for_update(self, entity_id: str) -> WebhookEvent | None:
        """The event with its row locked until the transaction ends."""

    async def backlog(
        self, states: Collection[WebhookEventState]
    ) -> dict[WebhookEventState, tuple[int, datetime | None]]:
        """Per state: how many events, and the oldest receive time."""

    async def find_by_stripe_event_id(self, stripe_event_id: str) -> WebhookEvent | None: ...
    async def insert_if_new(self, event: WebhookEvent) -> bool:
        """Store the event; False (and no error) when its Stripe event id is already stored."""

    async def insert_many_if_new(self, events: Sequence[WebhookEvent]) -> set[str]:
        """Store the events not stored yet in one statement; the Stripe ids inserted."""

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookEvent]:
        """Lock up to ``limit`` RECEIVED/FAILED events due by ``now``, skipping rows others
        hold and events behind an earlier RECEIVED event of the same object."""

    async def get_many_for_update(self, ids: Collection[str]) -> list[WebhookEvent]:
        """The events with their rows locked until the transaction ends."""

    async def update_many(self, events: Sequence[WebhookEvent]) -> None:
        """``update`` of each event, in one statement (rows this unit of work locked)."""

    async def lease(self, ids: Collection[str], until: datetime) -> None:
        """Claimed events invisible to other claims until ``until`` (next_attempt_at)."""

    async def list_events(
        self, *, page: PageRequest, states: Collection[WebhookEventState] = ()
    ) -> Page[WebhookEvent]:
        """Newest received first."""

    async def update(self, event: WebhookEvent) -> None: ...


class RequestRecordRepository(Protocol):
    async def get(self, caller: str, request_id: str) -> RequestRecord | None: ...
    async def add(self, record: RequestRecord) -> None: ...
    async def add_with_commit(self, record: RequestRecord) -> None:
        """``add``, sent with the unit of work's COMMIT where the database allows it; its
        Conflict (the request recorded by another replica first) raised by the commit."""

    async def complete(self, record: RequestRecord) -> bool:
        """Answer a pending record; False when there is none (absent, or answered already)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Rows matching every filter given (``since`` inclusive, ``until`` exclusive)."""

    account_id: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


class AuditLog(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...
    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """The entries in one statement (a batch of applied events)."""

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        """Oldest first, at most ``query.limit`` rows."""

    async def list_for_object(self, object_type: str, object_id: str) -> list[AuditEntry]:
        """Oldest first."""


class ReconcilerStateStore(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction. Rolls back on leaving unless ``commit()`` was called."""

    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def payment_methods(self) -> PaymentMethodRepository: ...
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def refunds(self) -> RefundRepository: ...
    @property
    def prices(self) -> PriceRepository: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def invoices(self) -> InvoiceRepository: ...
    @property
    def webhook_events(self) -> WebhookEventRepository: ...
    @property
    def request_records(self) -> RequestRecordRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def reconciler_state(self) -> ReconcilerStateStore: ...
    @property
    def disputes(self) -> DisputeRepository: ...
    @property
    def setup_intents(self) -> SetupIntentRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...

    @overload
    async def together(
        self, a: Coroutine[Any, Any, A], b: Coroutine[Any, Any, B], /
    ) -> tuple[A, B]: ...
    @overload
    async def together(
        self, a: Coroutine[Any, Any, A], b: Coroutine[Any, Any, B], c: Coroutine[Any, Any, C], /
    ) -> tuple[A, B, C]: ...
    async def together(self, *reads: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
        """``reads`` of this unit of work's repositories, run at once where the database
        allows it (PostgreSQL: their statements in one round trip); their results in
        order, or the first error in that order once every read ended. Only for reads
        independent of each other, since they may run in any order."""
        ...


class UnitOfWorkFactory(Protocol):
    """``async with uow_factory() as uow: ...``; ``read_only=True`` when it never writes."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...
