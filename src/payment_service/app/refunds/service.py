"""The refund capability as one object: create, get, list and the reconciler's repair."""

from __future__ import annotations

from payment_service.app.ports.cache import Cache
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.refunds.create import CreateRefunds
from payment_service.app.refunds.imports import RefundImporter
from payment_service.app.refunds.queries import refund_queries
from payment_service.app.refunds.repair import RefundRepair
from payment_service.app.refunds.rules import RefundRules
from payment_service.app.refunds.sender import RefundSender


class Refunds:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        cache: Cache,
        rules: RefundRules | None = None,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        rules = rules or RefundRules()
        sender = RefundSender(uow_factory, processor, cache, rules.pending_grace_s, failpoints)
        importer = RefundImporter(uow_factory, processor, cache)
        repair = RefundRepair(uow_factory, processor, sender, rules)
        queries = refund_queries(uow_factory)
        self.create = CreateRefunds(uow_factory, importer, sender).create
        self.get = queries.get
        self.list = queries.list
        self.finish_pending = repair.finish_pending
        self.repair_pending = repair.repair_pending
