"""Disputes and SetupIntents built from their parts (the composition root's corner for
cards saved for later and for chargebacks): one Stripe connection for both gateways."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from payment_service.adapters.stripe import dispute_mapping, setup_intent_mapping
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.connection import StripeConnection
from payment_service.adapters.stripe.dispute_gateway import StripeDisputeGateway
from payment_service.adapters.stripe.setup_intent_gateway import StripeSetupIntentGateway
from payment_service.app.customers.accounts import Customers
from payment_service.app.disputes.events import dispute_event_handlers
from payment_service.app.disputes.rules import DisputeRules
from payment_service.app.disputes.service import Disputes
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.events import EventHandler
from payment_service.app.ports.failpoints import Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import RepairTask
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.setup_intents.events import setup_intent_event_handlers
from payment_service.app.setup_intents.rules import SetupIntentRules
from payment_service.app.setup_intents.service import SetupIntents
from payment_service.config import Settings
from payment_service.observability.dispute_metrics import DisputeMetrics


@dataclass(frozen=True)
class CardsAndDisputes:
    disputes: Disputes
    setup_intents: SetupIntents
    connection: StripeConnection  # a resource: closed at stop
    handlers: Mapping[str, EventHandler]

    @property
    def repairs(self) -> tuple[RepairTask, ...]:
        return (*self.setup_intents.tasks(), *self.disputes.repair.tasks())


def build_cards_and_disputes(
    settings: Settings,
    stripe_config: StripeGatewayConfig,
    *,
    uow_factory: UnitOfWorkFactory,
    cache: Cache,
    processor: PaymentProcessor,
    customers: Customers,
    registry: CollectorRegistry,
    stripe_lease_s: float,
    failpoints: Failpoints,
) -> CardsAndDisputes:
    connection = StripeConnection(stripe_config)
    setup_rules = SetupIntentRules(
        refresh_after_s=settings.payment_refresh_after_s,
        stripe_lease_s=stripe_lease_s,
        pending_grace_s=stripe_lease_s,
        stuck_after_s=settings.reconcile_stuck_after_s,
    )
    setup_intents = SetupIntents(
        uow_factory,
        StripeSetupIntentGateway(connection),
        processor,
        customers,
        setup_rules,
        failpoints,
    )
    disputes = Disputes(
        uow_factory,
        StripeDisputeGateway(connection),
        cache,
        DisputeMetrics(registry),
        DisputeRules(stuck_after_s=settings.reconcile_stuck_after_s),
        failpoints,
    )
    handlers = {
        **setup_intent_event_handlers(setup_intent_mapping, processor),
        **dispute_event_handlers(dispute_mapping, processor),
    }
    return CardsAndDisputes(disputes, setup_intents, connection, handlers)
