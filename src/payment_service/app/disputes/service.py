"""The dispute capability as one object: queries, commands, events and the reconciler's task."""

from __future__ import annotations

from payment_service.app.disputes.commands import DisputeCommands
from payment_service.app.disputes.queries import dispute_queries
from payment_service.app.disputes.repair import DisputeRepair
from payment_service.app.disputes.rules import DisputeRules
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.disputes import DisputeMetricsSink, DisputeProcessor
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.storage import UnitOfWorkFactory


class Disputes:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: DisputeProcessor,
        cache: Cache,
        metrics: DisputeMetricsSink,
        rules: DisputeRules,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        queries = dispute_queries(uow_factory)
        commands = DisputeCommands(uow_factory, processor, cache, failpoints)
        self.repair = DisputeRepair(uow_factory, processor, cache, metrics, rules)
        self.get = queries.get
        self.list = queries.list
        self.update_evidence = commands.update_evidence
        self.close = commands.close
