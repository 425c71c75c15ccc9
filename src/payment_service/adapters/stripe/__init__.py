"""Stripe adapter: StripeGateway implements app.ports.processor.PaymentProcessor."""

from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.gateway import StripeGateway

__all__ = ["StripeGateway", "StripeGatewayConfig"]
