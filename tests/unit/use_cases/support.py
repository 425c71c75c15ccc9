"""The service as production builds it, over the fakes; callers and requests for the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.rules import CreatePayment, PaymentRules, cache_key
from payment_service.app.payments.service import Payments
from payment_service.app.refunds.rules import CreateRefund, RefundRules
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import AuditEntry, Payment
from payment_service.domain.states import CaptureMethod
from tests.unit.fakes.processor import FakeStripe
from tests.unit.fakes.storage import FakeUnitOfWorkFactory, InMemoryStorage

ACCOUNT = "acct_1"
SCOPES = frozenset({"payments:read", "payments:write", "refunds:read", "refunds:write"})
ORDERS = Caller("svc-orders", SCOPES)  # a service acting for any account
SHOPPER = Caller("user-7", SCOPES, account_id=ACCOUNT)  # acts for its own account only
STRANGER = Caller("user-9", SCOPES, account_id="acct_other")
REFRESH_AFTER_S = 60.0


@dataclass
class Service:
    """Everything a test drives or inspects."""

    storage: InMemoryStorage = field(default_factory=InMemoryStorage)
    stripe: FakeStripe = field(default_factory=FakeStripe)
    cache: MemoryCache = field(default_factory=MemoryCache)

    def __post_init__(self) -> None:
        self.uow_factory = FakeUnitOfWorkFactory(self.storage)
        rules = PaymentRules(
            currencies=frozenset({"usd", "jpy"}),
            refresh_after_s=REFRESH_AFTER_S,
            stripe_lease_s=5.0,
        )
        customers = Customers(self.uow_factory, self.stripe)
        self.payments = Payments(self.uow_factory, self.stripe, self.cache, customers, rules)
        self.refunds = Refunds(
            self.uow_factory, self.stripe, self.cache, RefundRules(pending_grace_s=0)
        )

    def stored(self, payment_id: str) -> Payment:
        return self.storage.payments[payment_id]

    def audit_of(self, object_id: str) -> list[AuditEntry]:
        return [e for e in self.storage.rows("audit_log") if e.object_id == object_id]

    async def age(self, payment_id: str, *, seconds: float = 3600) -> None:
        """Make the payment look last read from Stripe ``seconds`` ago (and drop it from the cache)."""
        row = self.storage.payments[payment_id]
        row.synced_at = utcnow() - timedelta(seconds=seconds)
        await self.cache.delete(cache_key(payment_id))


def payment_request(
    request_id: str = "req-1",
    *,
    amount: int = 1000,
    currency: str = "usd",
    payment_method: str = "pm_card_visa",
    confirm: bool = True,
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC,
    account_id: str = ACCOUNT,
) -> CreatePayment:
    return CreatePayment(
        request_id=request_id,
        account_id=account_id,
        amount=amount,
        currency=currency,
        payment_method=payment_method,
        capture_method=capture_method,
        confirm=confirm,
    )


def refund_request(payment_id: str, request_id: str, amount: int | None) -> CreateRefund:
    return CreateRefund(request_id=request_id, payment_id=payment_id, amount=amount)
