"""SQL repositories, one per aggregate; all share the unit of work's connection."""

from payment_service.adapters.db.repositories.audit_log import SqlAuditLog
from payment_service.adapters.db.repositories.customers import SqlCustomerRepository
from payment_service.adapters.db.repositories.disputes import SqlDisputeRepository
from payment_service.adapters.db.repositories.invoices import SqlInvoiceRepository
from payment_service.adapters.db.repositories.payment_methods import SqlPaymentMethodRepository
from payment_service.adapters.db.repositories.payments import SqlPaymentRepository
from payment_service.adapters.db.repositories.prices import SqlPriceRepository
from payment_service.adapters.db.repositories.reconciler_state import SqlReconcilerStateStore
from payment_service.adapters.db.repositories.refunds import SqlRefundRepository
from payment_service.adapters.db.repositories.request_records import SqlRequestRecordRepository
from payment_service.adapters.db.repositories.setup_intents import SqlSetupIntentRepository
from payment_service.adapters.db.repositories.subscriptions import SqlSubscriptionRepository
from payment_service.adapters.db.repositories.webhook_events import SqlWebhookEventRepository

__all__ = [
    "SqlAuditLog",
    "SqlCustomerRepository",
    "SqlDisputeRepository",
    "SqlInvoiceRepository",
    "SqlPaymentMethodRepository",
    "SqlPaymentRepository",
    "SqlPriceRepository",
    "SqlReconcilerStateStore",
    "SqlRefundRepository",
    "SqlRequestRecordRepository",
    "SqlSetupIntentRepository",
    "SqlSubscriptionRepository",
    "SqlWebhookEventRepository",
]
