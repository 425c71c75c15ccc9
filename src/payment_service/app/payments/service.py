"""The payment capability as one object: creation, commands, queries and the refresh."""

from __future__ import annotations

from payment_service.app.common.refreshing import GetRefreshes
from payment_service.app.customers.accounts import Customers
from payment_service.app.payments.commands import PaymentCommands
from payment_service.app.payments.create import CreatePayments
from payment_service.app.payments.queries import PaymentQueries
from payment_service.app.payments.refresh import PaymentRefresher
from payment_service.app.payments.rules import PaymentRules
from payment_service.app.payments.store import PaymentStore
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWorkFactory


class Payments:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: PaymentProcessor,
        cache: Cache,
        customers: Customers,
        rules: PaymentRules,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        store = PaymentStore(uow_factory, cache, rules)
        self.refresher = PaymentRefresher(store, processor)
        creating = CreatePayments(store, processor, customers, rules, failpoints)
        commands = PaymentCommands(store, processor, failpoints)
        queries = PaymentQueries(store, self.refresher, GetRefreshes(rules.refresh_after_s))
        self.create = creating.create
        self.finish_pending = creating.finish_pending
        self.confirm = commands.confirm
        self.capture = commands.capture
        self.cancel = commands.cancel
        self.get = queries.get
        self.list = queries.list
