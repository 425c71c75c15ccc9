"""A crash in-process, a restart over the same database, and what the checks read.

``CrashAt`` is the stack's failpoints: armed, it raises ``SimulatedCrash`` at its
point, so nothing after that point runs (no commit, no answer), as after a SIGKILL.
``World`` owns one account's stack: ``restart()`` stops it and builds a fresh one
over the same database, with no failpoint and nothing kept in memory (locks,
caches, leases held by the dead request stay in the database, as they would).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from payments.v1 import (
    invoice_service_pb2_grpc,
    payment_service_pb2_grpc,
    refund_service_pb2_grpc,
    subscription_service_pb2_grpc,
)
from payments.v1 import payment_service_pb2 as pay_pb
from payments.v1 import subscription_service_pb2 as sub_pb

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.common.leases import Leasable
from payment_service.app.payments.rules import PaymentRules
from payment_service.bootstrap.services import Overrides, Services, build_services
from payment_service.config import Settings
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Payment
from tests.e2e.billing.support import VISA, wait_for
from tests.integration.webhooks.support import SECRET, event, signed
from tests.support.localstripe import HELPER_KEY_PREFIX, LocalStripe, LocalStripeError
from tests.support.stack import Stack, auth, stack_settings, start_stack
from tests.support.webhooks import wait_settled

# The caller every write of the matrix is made by (the stack's default token).
CALLER = "svc-checkout"
# How long a create holds its row while it talks to Stripe: a retry after the crash
# waits the dead request's lease out, so it is kept short here.
LEASE_S = 1.0
WEBHOOK_PATH = "/stripe/webhooks"
# Fields that name one object or one moment, not what the answer says.
_VOLATILE = re.compile(r"(^|_)(id|ids|at|time|url|secret|number|fingerprint|start|end)$")
T = TypeVar("T")


class SimulatedCrash(Exception):
    """Raised at the failpoint in place of the SIGKILL."""


class CrashAt:
    """Failpoints that crash at one point, once armed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.armed = False
        self.crashes = 0

    def hit(self, name: str) -> None:
        if self.armed and name == self.name:
            self.crashes += 1
            raise SimulatedCrash(name)


def _settings(database_url: str, localstripe: LocalStripe) -> Settings:
    # Non-final payments and invoices are re-read from Stripe on every Get.
    return stack_settings(
        database_url,
        localstripe.base_url,
        payment_refresh_after_s=0,
        stripe_webhook_secrets=[SECRET],
        log_level="ERROR",
    )


def _overrides(settings: Settings, crash: CrashAt | None) -> Overrides:
    rules = PaymentRules(
        currencies=frozenset(settings.currencies),
        refresh_after_s=settings.payment_refresh_after_s,
        cache_ttl_s=settings.cache_ttl_s,
        stripe_lease_s=LEASE_S,
    )
    return Overrides(failpoints=crash, payment_rules=rules)


@dataclass
class World:
    """One account on one stack at a time, over the test's database and localstripe."""

    database_url: str
    uow_factory: SqlUnitOfWorkFactory
    localstripe: LocalStripe
    crash: CrashAt
    account_id: str = field(default_factory=lambda: f"acct_{uuid.uuid4().hex[:12]}")
    _stack: Stack | None = None

    @property
    def settings(self) -> Settings:
        return _settings(self.database_url, self.localstripe)

    async def start(self) -> None:
        self._stack = await start_stack(self.settings, _overrides(self.settings, self.crash))

    async def restart(self) -> None:
        """Stop the stack that crashed; a fresh one, without failpoints, over the same data."""
        await self.stop()
        self._stack = await start_stack(self.settings, _overrides(self.settings, None))

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.stop()
            self._stack = None

    @property
    def stack(self) -> Stack:
        assert self._stack is not None, "the stack is not running"
        return self._stack

    @property
    def payments(self) -> payment_service_pb2_grpc.PaymentServiceAsyncStub:
        return payment_service_pb2_grpc.PaymentServiceStub(self.stack.channel)

    @property
    def refunds(self) -> refund_service_pb2_grpc.RefundServiceAsyncStub:
        return refund_service_pb2_grpc.RefundServiceStub(self.stack.channel)

    @property
    def subscriptions(self) -> subscription_service_pb2_grpc.SubscriptionServiceAsyncStub:
        return subscription_service_pb2_grpc.SubscriptionServiceStub(self.stack.channel)

    @property
    def invoices(self) -> invoice_service_pb2_grpc.InvoiceServiceAsyncStub:
        return invoice_service_pb2_grpc.InvoiceServiceStub(self.stack.channel)

    def auth(self) -> tuple[tuple[str, str], ...]:
        return auth(CALLER)

    @asynccontextmanager
    async def reconciler(self) -> AsyncIterator[Services]:
        """The use cases a reconciler pass (or ``payment-service sync``) runs, as a process
        of their own over the same database."""
        services = build_services(self.settings, _overrides(self.settings, None))
        await services.start()
        try:
            yield services
        finally:
            await services.stop()

    # --- setup, through the API as a client would --------------------------------------

    async def card(self, number: str = VISA, *, default: bool = True) -> pay_pb.PaymentMethod:
        pm = await self.localstripe.create_card_payment_method(number)
        response = await self.payments.AttachPaymentMethod(
            pay_pb.AttachPaymentMethodRequest(
                request_id=request_id(),
                account_id=self.account_id,
                stripe_payment_method_id=pm,
                set_default=default,
            ),
            metadata=self.auth(),
            timeout=20,
        )
        method: pay_pb.PaymentMethod = response.payment_method
        return method

    async def price(self, amount: int = 1500) -> sub_pb.Price:
        """A monthly price made at Stripe, once ListPrices shows it."""
        made = await self.localstripe.request(
            "POST",
            "/v1/prices",
            {
                "currency": "usd",
                "unit_amount": str(amount),
                "recurring[interval]": "month",
                "product_data[name]": "Crash plan",  # invoice lines show it
            },
        )

        async def listed() -> sub_pb.Price | None:
            page = await self.subscriptions.ListPrices(
                sub_pb.ListPricesRequest(page_size=200), metadata=self.auth(), timeout=20
            )
            return next((p for p in page.prices if p.stripe_price_id == made["id"]), None)

        return await wait_for(listed, what=f"price {made['id']} in ListPrices")

    # --- what the checks read -----------------------------------------------------------

    async def deliver(self, event_type: str, obj: dict[str, Any]) -> None:
        """Stripe's webhook for ``obj`` (as Stripe holds it now), signed, to the sidecar."""
        evt = event(event_type, obj)
        body, headers = signed(evt)
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.stack.http_url + WEBHOOK_PATH, data=body, headers=headers) as reply,
        ):
            assert reply.status == 200, await reply.text()
        await wait_settled(self.uow_factory, evt["id"])  # applied after the answer

    async def stripe_mark(self) -> int:
        """Where localstripe's access log is now (for ``stripe_posts_since``)."""
        return len(await self._answered_requests())

    async def stripe_posts_since(self, mark: int) -> list[dict[str, str]]:
        """The POSTs the service made to Stripe since ``mark`` (not the tests' own)."""
        answered = (await self._answered_requests())[mark:]
        return [
            r
            for r in answered
            if r["method"] == "POST" and not r["key"].startswith(HELPER_KEY_PREFIX)
        ]

    async def _answered_requests(self) -> list[dict[str, str]]:
        """Every request localstripe answered so far: the log reaches us through a reader
        thread, so a probe is sent and waited for first."""
        probe = f"/v1/payment_intents/pi_probe_{uuid.uuid4().hex}"
        with contextlib.suppress(LocalStripeError):
            await self.localstripe.request("GET", probe)  # 404, logged like any request
        assert await self.localstripe.wait_for_request("GET", probe), "the probe never showed"
        return self.localstripe.requests()

    async def stored(self, read: Callable[[Any], Awaitable[T | None]]) -> T:
        async with self.uow_factory(read_only=True) as uow:
            found = await read(uow)
        assert found is not None
        return found

    async def lease_over(self, row: Callable[[Any], Awaitable[Leasable | None]]) -> None:
        """Wait for the crashed request's lease on a row to run out."""

        async def over() -> bool:
            leased = await self.stored(row)
            return leased.lease_until is None or leased.lease_until <= utcnow()

        await wait_for(over, within_s=LEASE_S + 10, what="the crashed request's lease to run out")


def request_id() -> str:
    return f"req-{uuid.uuid4()}"


def comparable(message: Message) -> dict[str, Any]:
    """The answer without what names one object or one moment: two runs of the same write
    on two objects answer the same."""
    shown: dict[str, Any] = _without_volatile(
        MessageToDict(message, preserving_proto_field_name=True)
    )
    return shown


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if not _VOLATILE.search(k)}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


async def audit_actions(
    uow_factory: SqlUnitOfWorkFactory, object_type: str, object_id: str
) -> list[str]:
    async with uow_factory(read_only=True) as uow:
        entries = await uow.audit.list_for_object(object_type, object_id)
    return [entry.action for entry in entries]


async def stored_payment(uow_factory: SqlUnitOfWorkFactory, payment_id: str) -> Payment:
    async with uow_factory(read_only=True) as uow:
        payment = await uow.payments.get(payment_id)
    assert payment is not None
    return payment
