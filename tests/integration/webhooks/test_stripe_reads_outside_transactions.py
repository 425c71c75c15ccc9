"""Handlers that need a Stripe read get it with no database transaction open (on SQLite a
write transaction holds the database lock, so every writer would wait out Stripe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from payment_service.adapters.stripe import mapping
from payment_service.app.webhooks.policy import Delivery
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import event_registry
from payment_service.domain.errors import NotFound
from payment_service.domain.processor import RemoteCharge, RemoteRefund
from payment_service.domain.states import PaymentState
from payment_service.observability.webhook_metrics import WebhookMetrics
from tests.integration.db import builders
from tests.integration.webhooks.support import event, resource, store_payment


class _Tracked:
    def __init__(self, factory: TrackingFactory, uow: SqlUnitOfWork) -> None:
        self._factory, self._uow = factory, uow

    async def __aenter__(self) -> SqlUnitOfWork:
        entered = await self._uow.__aenter__()
        self._factory.open += 1
        return entered

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._factory.open -= 1
        await self._uow.__aexit__(kind, exc, tb)


class TrackingFactory:
    """A unit-of-work factory that knows how many units of work are open right now."""

    def __init__(self, inner: SqlUnitOfWorkFactory) -> None:
        self.inner, self.engine, self.open = inner, inner.engine, 0

    def __call__(self, *, read_only: bool = False) -> _Tracked:
        return _Tracked(self, self.inner(read_only=read_only))


@dataclass
class RecordingProcessor:
    factory: TrackingFactory
    payment_intent: str
    calls: list[tuple[str, int]] = field(default_factory=list)

    def _seen(self, name: str) -> None:
        self.calls.append((name, self.factory.open))

    async def retrieve_payment_method(self, payment_method_id: str) -> Any:
        self._seen("retrieve_payment_method")
        raise NotFound("payment_method", payment_method_id)

    async def retrieve_customer(self, customer_id: str) -> Any:
        self._seen("retrieve_customer")
        raise NotFound("customer", customer_id)

    async def retrieve_charge(self, charge_id: str) -> RemoteCharge:
        self._seen("retrieve_charge")
        charge = {**resource("charge"), "id": charge_id, "payment_intent": self.payment_intent}
        return mapping.to_charge(charge)

    async def list_refunds(self, payment_intent: str) -> list[RemoteRefund]:
        self._seen("list_refunds")
        listed = {**resource("refund"), "id": "re_listed_1", "payment_intent": payment_intent}
        return [mapping.to_refund({**listed, "amount": 100})]


async def test_every_stripe_read_happens_with_no_transaction_open(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    factory = TrackingFactory(uow_factory)
    customer = builders.customer()
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.commit()
    payment = await store_payment(
        uow_factory,
        stripe_payment_intent_id="pi_reads_1",
        state=PaymentState.SUCCEEDED,
        amount=1000,
        amount_received=1000,
    )
    processor = RecordingProcessor(factory, "pi_reads_1")
    registry = event_registry(processor)  # type: ignore[arg-type]
    webhooks = Webhooks(
        factory,  # type: ignore[arg-type]
        registry,
        mapping,
        MemoryCache(),
        WebhookMetrics(CollectorRegistry()),
    )
    charge = {
        **resource("charge"),
        "id": "ch_reads_1",
        "payment_intent": "pi_reads_1",
        "amount": 1000,
        "amount_captured": 1000,
        "amount_refunded": 100,
        "captured": True,
        "currency": "usd",
    }
    charge.pop("refunds", None)
    refund_naming_a_charge = {
        **resource("refund"),
        "id": "re_by_charge_1",
        "charge": "ch_reads_1",
        "payment_intent": None,
        "amount": 50,
    }
    deliveries = {
        "payment_method.updated": await webhooks.ingest(
            mapping.to_event(event("payment_method.updated"))
        ),
        "customer.updated": await webhooks.ingest(
            mapping.to_event(
                event(
                    "customer.updated",
                    {**resource("customer"), "id": customer.stripe_customer_id},
                )
            )
        ),
        "charge.refunded": await webhooks.ingest(
            mapping.to_event(event("charge.refunded", charge))
        ),
        "refund.created": await webhooks.ingest(
            mapping.to_event(event("refund.created", refund_naming_a_charge))
        ),
    }
    assert deliveries == {
        "payment_method.updated": Delivery.IGNORED,  # gone at Stripe
        "customer.updated": Delivery.IGNORED,
        "charge.refunded": Delivery.APPLIED,
        "refund.created": Delivery.APPLIED,
    }
    assert sorted(name for name, _ in processor.calls) == [
        "list_refunds",
        "retrieve_charge",
        "retrieve_customer",
        "retrieve_payment_method",
    ]
    assert [open_ for _, open_ in processor.calls] == [0, 0, 0, 0]
    async with uow_factory(read_only=True) as uow:
        stored = await uow.payments.get(payment.id)
    assert stored is not None
    assert stored.amount_refunded == 150
