"""The webhook capability as one object: ingest, intake, appliers and the operator's commands."""

from __future__ import annotations

from payment_service.app.ports.cache import Cache
from payment_service.app.ports.events import StripeMapping
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.ports.webhooks import WebhookMetricsSink
from payment_service.app.webhooks.applier import EventApplier
from payment_service.app.webhooks.ingest import GroupCommit, IngestPolicy, WebhookIngest
from payment_service.app.webhooks.intake import WebhookIntake
from payment_service.app.webhooks.operator import WebhookOperator
from payment_service.app.webhooks.policy import Delivery, RetryPolicy
from payment_service.app.webhooks.registry import EventRegistry
from payment_service.app.webhooks.retrier import Retrier


class Webhooks:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        registry: EventRegistry,
        mapping: StripeMapping,
        cache: Cache,
        metrics: WebhookMetricsSink,
        policy: RetryPolicy | None = None,
        ingest_policy: IngestPolicy | None = None,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.registry = registry
        applier = EventApplier(uow_factory, registry, cache, metrics, self.policy)
        intake = WebhookIntake(applier, mapping)
        # The retrier refreshes the operator's backlog gauges; the operator replays through it.
        retrier = Retrier(applier, intake, lambda: operator.backlog())
        operator = WebhookOperator(applier, retrier)
        batcher = GroupCommit(
            uow_factory, ingest_policy or IngestPolicy(), retrier.wakeup.stored, failpoints
        )
        self._ingest = WebhookIngest(batcher, metrics)
        self.decode = intake.decode
        self.receive = intake.receive
        self.ingest = intake.ingest
        self.retrier = retrier
        self.retry_due = retrier.retry_due
        self.run_retrier = retrier.run_retrier
        self.run_appliers = retrier.run_appliers
        self.replay = operator.replay
        self.replay_all_failed = operator.replay_all_failed
        self.requeue_transient_dead = operator.requeue_transient_dead
        self.requeue_ignored = operator.requeue_ignored
        self.backlog = operator.backlog
        self.list_events = operator.list_events

    async def accept(self, payload: str) -> Delivery:
        """A verified delivery stored (group commit) for the appliers: ACCEPTED or
        DUPLICATE; MalformedEvent when it is no event, NotStored when it was not stored."""
        return await self._ingest.accept(payload, self.decode(payload))
