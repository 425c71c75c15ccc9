"""The one way a stored payment is re-read from Stripe (GetPayment and the reconciler).

Stripe's PaymentIntent is applied through the payment's state machine unless it
contradicts the stored payment (amount, currency, customer, id): then nothing of
it is applied, the mismatch is logged and written to the audit trail as
QUARANTINED, and the stored payment stands until an operator looks. A refresh that
moves the payment to another state is audited too (``payments.refresh``, the new state).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from payment_service.app.common.audit import audit_refresh, audit_refresh_move
from payment_service.app.payments.rules import stripe_id
from payment_service.app.payments.store import PaymentStore
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.domain.clock import api_read_time, utcnow
from payment_service.domain.entities import Payment

log = logging.getLogger(__name__)

QUARANTINED = "QUARANTINED"


@dataclass
class PaymentRefresher:
    store: PaymentStore
    processor: PaymentProcessor

    async def refresh(self, payment: Payment) -> Payment:
        """Read the PaymentIntent now and store what it says; Stripe's errors are raised."""
        intent = await self.processor.retrieve_payment_intent(stripe_id(payment))
        async with self.store.uow_factory() as uow:
            stored = await self.store.locked(uow, payment.id)
            mismatch = stored.mismatch_with(intent)
            before = stored.state
            if mismatch is None:
                stored.apply_intent(intent, api_read_time())
                await audit_refresh_move(
                    uow, "payments.refresh", ("payment", stored.id), before, stored.state
                )
            else:
                log.warning(
                    "stored payment contradicts its PaymentIntent; not refreshed",
                    extra={"payment_id": stored.id, "detail": mismatch},
                )
                await audit_refresh(
                    uow,
                    "payments.refresh",
                    ("payment", stored.id),
                    QUARANTINED,
                    {"mismatch": mismatch, "stripe_payment_intent_id": intent.stripe_id},
                )
            stored.synced_at = utcnow()  # read now: backoffs count from here
            await uow.payments.update(stored)
            await uow.commit()
        await self.store.publish(stored)
        return stored
