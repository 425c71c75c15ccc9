"""A SetupIntent: a card being saved for later payments; mirrors a Stripe SetupIntent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payment_service.domain.clock import utcnow
from payment_service.domain.entities.mirror import IntentMirror, customer_mismatch, linked_id
from payment_service.domain.setup_intents import NewSetupIntent, RemoteSetupIntent
from payment_service.domain.states import PaymentMethodUsage, SetupIntentState

# States where the client still has something to do, and so needs the client secret.
CLIENT_STATES = frozenset(
    {
        SetupIntentState.REQUIRES_PAYMENT_METHOD,
        SetupIntentState.REQUIRES_CONFIRMATION,
        SetupIntentState.REQUIRES_ACTION,
    }
)


@dataclass(slots=True, kw_only=True)
class SetupIntent(IntentMirror[SetupIntentState]):
    account_id: str
    customer_id: str
    caller: str
    request_id: str
    request_hash: str
    usage: PaymentMethodUsage
    state: SetupIntentState = SetupIntentState.PENDING
    stripe_setup_intent_id: str | None = None
    stripe_customer_id: str | None = None
    stripe_payment_method_id: str | None = None
    payment_method_id: str | None = None  # our pmt_ row, once attached
    lease_until: datetime | None = None  # a request owns the Stripe call for this row until then

    @property
    def awaits_attachment(self) -> bool:
        """Succeeded at Stripe, its payment method not yet stored for the account."""
        return (
            self.state is SetupIntentState.SUCCEEDED
            and self.payment_method_id is None
            and self.stripe_payment_method_id is not None
        )

    def create_request(self) -> NewSetupIntent:
        """The SetupIntent this row is created as (the same on every retry)."""
        if self.stripe_customer_id is None:
            raise ValueError(f"setup intent {self.id} has no Stripe customer")
        return NewSetupIntent(self.id, self.stripe_customer_id, self.usage)

    def apply_remote(self, remote: RemoteSetupIntent, observed_at: datetime) -> bool:
        """Copy Stripe's view; False when the observation was stale or refused."""
        self.stripe_setup_intent_id, linked = linked_id(
            self.stripe_setup_intent_id, remote.stripe_id
        )
        if not self.apply_remote_state(remote.state, observed_at):
            return linked
        self.stripe_payment_method_id = remote.payment_method or self.stripe_payment_method_id
        self.copy_client_step(remote)
        self.synced_at = utcnow()
        return True

    def mismatch_with(self, remote: RemoteSetupIntent) -> str | None:
        if self.stripe_setup_intent_id not in (None, remote.stripe_id):
            return f"setup intent {remote.stripe_id} != stored {self.stripe_setup_intent_id}"
        return customer_mismatch(self.stripe_customer_id, remote.customer)
