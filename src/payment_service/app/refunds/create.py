"""CreateRefund: reserve the amount under the payment's row lock, then ask Stripe.

Under a lock on the payment row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
every write transaction takes the database write lock when it begins, so
reservations serialize just the same) the refundable amount is computed and the
refund row is inserted PENDING, which reserves its amount. That transaction
commits, so no lock is held while Stripe is called; Stripe's answer is stored
afterwards (``sender``).
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.replay import MutationRequest
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.imports import RefundImporter
from payment_service.app.refunds.ledger import refundable_amount
from payment_service.app.refunds.rules import (
    CreateRefund,
    answer,
    check_replay,
    exceeds,
    new_refund,
    require_refundable_state,
)
from payment_service.app.refunds.sender import RefundSender
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.errors import Conflict, NotFound


@dataclass
class CreateRefunds:
    uow_factory: UnitOfWorkFactory
    importer: RefundImporter
    sender: RefundSender

    def __post_init__(self) -> None:
        self._locks = KeyedLocks()

    async def create(self, caller: Caller, command: CreateRefund) -> Refund:
        command.validate()
        request = MutationRequest.of(caller, "CreateRefund", command.request_id, command.fields())
        async with self._locks.hold((caller.sub, command.request_id)):
            async with self.uow_factory(read_only=True) as uow:
                existing = await uow.refunds.find_by_request(caller.sub, command.request_id)
            if existing is None:
                await self.importer.import_unexplained(caller, command.payment_id)
                refund, first_attempt = await self._reserve(caller, command, request)
            else:
                check_replay(caller, existing, command, request.body_hash)
                refund, first_attempt = existing, False
            if refund.awaits_stripe:
                refund = await self.sender.send(refund, first_attempt=first_attempt)
            return answer(refund)

    async def _reserve(
        self, caller: Caller, command: CreateRefund, request: MutationRequest
    ) -> tuple[Refund, bool]:
        """Insert the PENDING row under the payment lock; True when this call inserted it."""
        try:
            async with self.uow_factory() as uow:
                payment = await uow.payments.get_for_update(command.payment_id)
                if payment is None or not caller.may_access(payment.account_id):
                    raise NotFound("payment", command.payment_id)
                require_refundable_state(payment)
                refundable = await refundable_amount(uow, payment)
                amount = refundable if command.amount is None else command.amount
                if amount <= 0 or amount > refundable:
                    raise exceeds(payment.id, amount, refundable)
                refund = new_refund(payment, request, amount, command.reason, command.metadata)
                await uow.refunds.add(refund)
                await uow.audit.add(
                    audit_entry(
                        caller.sub,
                        "refunds.create",
                        ("refund", refund.id),
                        detail={"payment_id": payment.id, "amount": str(amount)},
                    )
                )
                await uow.commit()
        except Conflict:
            # Another replica inserted the same (caller, request_id) first.
            async with self.uow_factory(read_only=True) as uow:
                winner = await uow.refunds.find_by_request(caller.sub, command.request_id)
            if winner is None:
                raise
            check_replay(caller, winner, command, request.body_hash)
            return winner, False
        return refund, True
