"""Every place where localstripe needs a call shaped differently from today's Stripe API.

``CurrentApi`` is the default and speaks today's API. ``Localstripe`` overrides
only what localstripe 1.15 (a 2017-era fake) cannot take; each override says
what Stripe does and what localstripe does instead. The gateway picks one from
``StripeGatewayConfig.compat`` (on when the API base is a loopback address).
Differences in the *answers* (shapes) are read by mapping.py, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe
from stripe.params import (
    EventListParams,
    PaymentIntentCancelParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    PaymentIntentListParams,
    RefundCreateParams,
)

PAGE_SIZE = 100
# Upper bound on pages read while looking for a PaymentIntent by our payment id.
MAX_PAGES = 10
# Stripe answers a decline of its generic test cards (4000000000000002,
# 4000000000000341) with decline_code "generic_decline".
GENERIC_DECLINE = "generic_decline"

Options = stripe.RequestOptions
Obj = dict[str, Any]


def _matches(pi: Mapping[str, Any], payment_id: str, customer: str | None) -> bool:
    metadata = pi.get("metadata") or {}
    if metadata.get("payment_id") != payment_id:
        return False
    owner = pi.get("customer")
    owner_id = owner.get("id") if isinstance(owner, Mapping) else owner
    return customer is None or owner_id == customer


def _search_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class CurrentApi:
    """Today's Stripe API (the default)."""

    name = "stripe"
    # Stripe's errors carry decline_code itself; nothing to fill in.
    default_decline_code = ""

    def payment_intent_create(self, params: PaymentIntentCreateParams) -> PaymentIntentCreateParams:
        return params

    async def confirm_payment_intent(
        self,
        client: stripe.StripeClient,
        stripe_id: str,
        params: PaymentIntentConfirmParams,
        options: Options,
    ) -> stripe.PaymentIntent:
        return await client.v1.payment_intents.confirm_async(stripe_id, params, options)

    def payment_intent_cancel(self, params: PaymentIntentCancelParams) -> PaymentIntentCancelParams:
        return params

    def refund_create(self, params: RefundCreateParams) -> RefundCreateParams:
        return params

    async def find_payment_intent(
        self, client: stripe.StripeClient, payment_id: str, customer: str | None, expand: list[str]
    ) -> Obj | None:
        """Search by metadata; search lags writes (about a minute), so also list the
        customer's PaymentIntents, which is strongly consistent."""
        query = f"metadata['payment_id']:{_search_literal(payment_id)}"
        found = await client.v1.payment_intents.search_async(
            {"query": query, "limit": 10, "expand": _list_expand(expand)}
        )
        for pi in found.data:
            data = pi.to_dict()
            if _matches(data, payment_id, customer):
                return data
        if customer is None:
            return None
        params: PaymentIntentListParams = {
            "customer": customer,
            "limit": PAGE_SIZE,
            "expand": _list_expand(expand),
        }
        for _ in range(MAX_PAGES):
            page = await client.v1.payment_intents.list_async(params)
            for pi in page.data:
                data = pi.to_dict()
                if _matches(data, payment_id, customer):
                    return data
            if not page.has_more or not page.data:
                return None
            params = {**params, "starting_after": page.data[-1].id}
        return None

    async def list_events(
        self,
        client: stripe.StripeClient,
        *,
        created_after: int | None,
        starting_after: str | None,
        ending_before: str | None,
        limit: int,
    ) -> tuple[list[Obj], bool]:
        params: EventListParams = {"limit": limit}
        if created_after is not None:
            params["created"] = {"gt": created_after}
        if starting_after:
            params["starting_after"] = starting_after
        if ending_before:
            params["ending_before"] = ending_before
        page = await client.v1.events.list_async(params)
        return [e.to_dict() for e in page.data], bool(page.has_more)

    async def declined_payment_intent(
        self, client: stripe.StripeClient, error: stripe.CardError, expand: list[str]
    ) -> Obj | None:
        """Stripe attaches the PaymentIntent to a PaymentIntent call's card error."""
        pi = error.error.payment_intent if error.error is not None else None
        return pi.to_dict() if pi is not None else None


def _list_expand(expand: list[str]) -> list[str]:
    return [f"data.{path}" for path in expand]


class Localstripe(CurrentApi):
    """localstripe 1.15: rejects unknown parameters with 400 "Unexpected <name>"."""

    name = "localstripe"
    # localstripe's card errors have code "card_declined" and no decline_code; Stripe's
    # test cards that decline this way answer "generic_decline".
    default_decline_code = GENERIC_DECLINE

    def payment_intent_create(self, params: PaymentIntentCreateParams) -> PaymentIntentCreateParams:
        # PaymentIntent has no `description` or `receipt_email` in localstripe, and no
        # `allowed_payment_method_types` (2026-07 API; it takes cards anyway).
        out = params.copy()
        out.pop("allowed_payment_method_types", None)
        out.pop("description", None)
        out.pop("receipt_email", None)
        return out

    async def confirm_payment_intent(
        self,
        client: stripe.StripeClient,
        stripe_id: str,
        params: PaymentIntentConfirmParams,
        options: Options,
    ) -> stripe.PaymentIntent:
        # Stripe takes `payment_method` on confirm; localstripe answers 500 "Not implemented",
        # so set it with an update first (its own idempotency key), then confirm without it.
        out = params.copy()
        payment_method = out.pop("payment_method", None)
        if payment_method:
            key = options.get("idempotency_key")
            update_options: Options = {"idempotency_key": f"{key}:payment_method"} if key else {}
            await client.v1.payment_intents.update_async(
                stripe_id, {"payment_method": payment_method}, update_options
            )
        return await client.v1.payment_intents.confirm_async(stripe_id, out, options)

    def payment_intent_cancel(self, params: PaymentIntentCancelParams) -> PaymentIntentCancelParams:
        # No `cancellation_reason` on cancel in localstripe.
        out = params.copy()
        out.pop("cancellation_reason", None)
        return out

    def refund_create(self, params: RefundCreateParams) -> RefundCreateParams:
        # No `reason` on refunds in localstripe.
        out = params.copy()
        out.pop("reason", None)
        return out

    async def find_payment_intent(
        self, client: stripe.StripeClient, payment_id: str, customer: str | None, expand: list[str]
    ) -> Obj | None:
        # No search API (404) and no `customer` filter on the list (400): read every
        # PaymentIntent, oldest first, and match metadata and customer here.
        params: PaymentIntentListParams = {"limit": PAGE_SIZE}
        while True:
            page = await client.v1.payment_intents.list_async(params)
            for pi in page.data:
                data = pi.to_dict()
                if _matches(data, payment_id, customer):
                    return data
            if not page.has_more or not page.data:
                return None
            params = {**params, "starting_after": page.data[-1].id}

    async def list_events(
        self,
        client: stripe.StripeClient,
        *,
        created_after: int | None,
        starting_after: str | None,
        ending_before: str | None,
        limit: int,
    ) -> tuple[list[Obj], bool]:
        # localstripe lists oldest first and has no `ending_before`: read all events (after
        # `created_after`), order them newest first, and page here the way Stripe does.
        params: EventListParams = {"limit": PAGE_SIZE}
        if created_after is not None:
            params["created"] = {"gt": created_after}
        every: list[Obj] = []
        while True:
            page = await client.v1.events.list_async(params)
            every.extend(e.to_dict() for e in page.data)
            if not page.has_more or not page.data:
                break
            params = {**params, "starting_after": page.data[-1].id}
        return page_newest_first(every[::-1], starting_after, ending_before, limit)

    async def declined_payment_intent(
        self, client: stripe.StripeClient, error: stripe.CardError, expand: list[str]
    ) -> Obj | None:
        # localstripe's card error names only the failed charge; find its PaymentIntent.
        charge_id = error.error.charge if error.error is not None else None
        if not charge_id:
            return None
        charge = await client.v1.charges.retrieve_async(charge_id)
        pi_id = charge.to_dict().get("payment_intent")
        if not isinstance(pi_id, str) or not pi_id:
            return None
        pi = await client.v1.payment_intents.retrieve_async(pi_id, {"expand": expand})
        return pi.to_dict()


def page_newest_first(
    items: list[Obj], starting_after: str | None, ending_before: str | None, limit: int
) -> tuple[list[Obj], bool]:
    """Stripe's cursor paging over a newest-first list: ``starting_after`` moves to older
    items, ``ending_before`` to the newer items right before the cursor."""
    ids = [item.get("id") for item in items]
    if ending_before is not None:
        end = ids.index(ending_before) if ending_before in ids else 0
        start = max(0, end - limit)
        return items[start:end], start > 0
    begin = ids.index(starting_after) + 1 if starting_after in ids else 0
    if starting_after is not None and starting_after not in ids:
        begin = len(items)
    return items[begin : begin + limit], begin + limit < len(items)


def api_shape(compat: bool) -> CurrentApi:
    return Localstripe() if compat else CurrentApi()
