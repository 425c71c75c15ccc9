"""Stripe adapter: StripeGateway implements app.processor.PaymentProcessor."""

from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.gateway import StripeGateway

__all__ = ["StripeGateway", "StripeGatewayConfig"]
