"""Stripe adapter: StripeGateway implements app.ports.processor.PaymentProcessor and
StripeBillingGateway app.ports.billing.BillingProcessor, over one StripeConnection."""

from payment_service.adapters.stripe.billing_gateway import StripeBillingGateway
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.connection import StripeConnection
from payment_service.adapters.stripe.gateway import StripeGateway

__all__ = ["StripeBillingGateway", "StripeConnection", "StripeGateway", "StripeGatewayConfig"]
