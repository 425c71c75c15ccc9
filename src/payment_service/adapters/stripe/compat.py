"""Every place where localstripe needs a call shaped differently from today's Stripe API.

``CurrentApi`` is the default and speaks today's API. ``Localstripe`` overrides
only what localstripe 1.15 (a 2017-era fake) cannot take; each override says
what Stripe does and what localstripe does instead. The gateway picks one from
``StripeGatewayConfig.compat`` (on when the API base is a loopback address).

Answers: the payments side's differences are read by mapping.py. Billing answers are
made current here (``current_billing_object``: subscription-level billing periods,
item ``plan``, ``invoice.subscription``, ``invoice.payment_intent``, a line's
``plan``/``price`` and ``proration``), so billing_mapping.py knows today's shapes
only. Each translation fills a current field only where it is absent, so an object
already in today's shape (or a patched localstripe's) passes unchanged.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from contextlib import aclosing
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

from payment_service.adapters.stripe.listing import PAGE_SIZE, each_listed
from payment_service.app.ports.processor import EventListing

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


async def _first_listed_match(
    client: stripe.StripeClient,
    params: PaymentIntentListParams,
    payment_id: str,
    customer: str | None,
    *,
    max_pages: int | None = None,
) -> Obj | None:
    """The first listed PaymentIntent carrying our ``payment_id`` (and ``customer``'s)."""
    intents = each_listed(client.v1.payment_intents.list_async, params, max_pages=max_pages)
    async with aclosing(intents):
        async for pi in intents:
            data = pi.to_dict()
            if _matches(data, payment_id, customer):
                return data
    return None


def _event_params(listing: EventListing, limit: int) -> EventListParams:
    """``limit`` events a page, created after ``listing.created_after``; no cursor."""
    params: EventListParams = {"limit": limit}
    if listing.created_after is not None:
        params["created"] = {"gt": listing.created_after}
    return params


async def raw_post(
    client: stripe.StripeClient, path: str, params: Mapping[str, Any], options: Options
) -> Obj:
    """POST ``path`` as the typed services do (same encoding, options, retries and errors),
    Stripe's JSON answer as it came: no StripeObject tree built to be turned back into
    dicts (on the write path that was most of the Stripe library's work)."""
    response = await client.raw_request_async("post", path, **params, **options)
    data: Obj = response.data
    return data


def quote(stripe_id: str) -> str:
    return urllib.parse.quote(stripe_id, safe="")


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
    ) -> Obj:
        path = f"/v1/payment_intents/{quote(stripe_id)}/confirm"
        return await raw_post(client, path, params, options)

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
        return await _first_listed_match(client, params, payment_id, customer, max_pages=MAX_PAGES)

    async def list_events(
        self, client: stripe.StripeClient, listing: EventListing
    ) -> tuple[list[Obj], bool]:
        params = _event_params(listing, listing.limit)
        if listing.starting_after:
            params["starting_after"] = listing.starting_after
        if listing.ending_before:
            params["ending_before"] = listing.ending_before
        page = await client.v1.events.list_async(params)
        return [e.to_dict() for e in page.data], bool(page.has_more)

    async def declined_payment_intent(
        self, client: stripe.StripeClient, error: stripe.CardError, expand: list[str]
    ) -> Obj | None:
        """Stripe attaches the PaymentIntent to a PaymentIntent call's card error."""
        pi = error.error.payment_intent if error.error is not None else None
        return pi.to_dict() if pi is not None else None

    # --- billing ---------------------------------------------------------------------------
    def billing_object(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        """A billing answer as billing_mapping.py reads it (today's API: as is)."""
        return obj

    def billing_expand(self, expand: list[str]) -> list[str]:
        return expand


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
    ) -> Obj:
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
        return await super().confirm_payment_intent(client, stripe_id, out, options)

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
        # No search API (404): list the customer's PaymentIntents (the filter comes from our
        # patch layer, tools/localstripe_saved_cards.py), or every one without a customer,
        # and match metadata and customer here.
        params: PaymentIntentListParams = {"limit": PAGE_SIZE}
        if customer is not None:
            params["customer"] = customer
        return await _first_listed_match(client, params, payment_id, customer)

    async def list_events(
        self, client: stripe.StripeClient, listing: EventListing
    ) -> tuple[list[Obj], bool]:
        # localstripe lists oldest first and has no `ending_before`: read all events (after
        # `created_after`), order them newest first, and page here the way Stripe does.
        events = each_listed(client.v1.events.list_async, _event_params(listing, PAGE_SIZE))
        every = [event.to_dict() async for event in events]
        return page_newest_first(
            every[::-1], listing.starting_after, listing.ending_before, listing.limit
        )

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

    def billing_object(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        return current_billing_object(obj)

    def billing_expand(self, expand: list[str]) -> list[str]:
        # An invoice has no `payments` (InvoicePayments) in localstripe: expanding it answers
        # 400 "Bad expand"; its `payment_intent` becomes `payments` in billing_object.
        return [path for path in expand if "payments" not in path.split(".")]


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


# --- billing answers: localstripe's older shapes -> today's ---------------------------------------
def _absent(obj: Mapping[str, Any], key: str) -> bool:
    return obj.get(key) is None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id_of(value: object) -> object:
    return value.get("id") if isinstance(value, Mapping) else value


def current_price(price: Mapping[str, Any]) -> Obj:
    """A Plan (``amount``, ``interval`` at the top) as a Price (``unit_amount``, ``recurring``)."""
    out = dict(price)
    if _absent(out, "recurring") and out.get("interval") is not None:
        out["recurring"] = {
            "interval": out["interval"],
            "interval_count": out.get("interval_count") or 1,
            "usage_type": out.get("usage_type") or "licensed",
        }
    if _absent(out, "unit_amount") and out.get("amount") is not None:
        out["unit_amount"] = out["amount"]
    if _absent(out, "type"):
        out["type"] = "one_time" if _absent(out, "recurring") else "recurring"
    return out


def current_subscription_item(
    item: Mapping[str, Any], start: object = None, end: object = None
) -> Obj:
    """Item ``plan`` -> ``price``; the subscription's billing period -> the item's."""
    out = dict(item)
    plan = out.get("plan")
    if _absent(out, "price") and plan is not None:
        out["price"] = current_price(plan) if isinstance(plan, Mapping) else plan
    if _absent(out, "current_period_start") and start is not None:
        out["current_period_start"] = start
    if _absent(out, "current_period_end") and end is not None:
        out["current_period_end"] = end
    return out


def current_subscription(sub: Mapping[str, Any]) -> Obj:
    out = dict(sub)
    items = _map(out.get("items"))
    start, end = out.get("current_period_start"), out.get("current_period_end")
    if isinstance(items.get("data"), list):
        data = [current_subscription_item(i, start, end) for i in items["data"]]
        out["items"] = {**items, "data": data}
    latest = out.get("latest_invoice")
    if isinstance(latest, Mapping):
        out["latest_invoice"] = current_invoice(latest)
    return out


def _line_proration(line: Obj) -> None:
    """Top-level ``proration`` (with ``subscription``, ``subscription_item`` or
    ``invoice_item``) -> ``parent.subscription_item_details`` / ``invoice_item_details``."""
    proration = line.get("proration")
    if not isinstance(proration, bool):
        return
    kind = (
        "invoice_item_details" if line.get("type") == "invoiceitem" else "subscription_item_details"
    )
    parent = _map(line.get("parent"))
    details = dict(_map(parent.get(kind)))
    if not _absent(details, "proration"):
        return
    details["proration"] = proration
    origin = "invoice_item" if kind == "invoice_item_details" else "subscription_item"
    for key in ("subscription", origin):
        if _absent(details, key) and line.get(key) is not None:
            details[key] = line[key]
    line["parent"] = {**parent, "type": parent.get("type") or kind, kind: details}


def current_invoice_line(line: Mapping[str, Any]) -> Obj:
    """A line's ``price`` or ``plan`` -> ``pricing.price_details.price``; ``proration``."""
    out = dict(line)
    pricing = _map(out.get("pricing"))
    details = _map(pricing.get("price_details"))
    legacy = out.get("price") if out.get("price") is not None else out.get("plan")
    if _absent(details, "price") and legacy is not None:
        found = {"price": _id_of(legacy)}
        if isinstance(legacy, Mapping) and legacy.get("product") is not None:
            found["product"] = _id_of(legacy["product"])
        out["pricing"] = {**pricing, "type": "price_details", "price_details": {**details, **found}}
    _line_proration(out)
    return out


def _invoice_payments(invoice: Obj) -> Obj:
    """``payment_intent`` as the one, default, InvoicePayment."""
    return {
        "object": "list",
        "has_more": False,
        "data": [
            {
                "object": "invoice_payment",
                "invoice": invoice.get("id"),
                "is_default": True,
                "created": invoice.get("created"),
                "status": "paid" if invoice.get("status") == "paid" else "open",
                "payment": {"type": "payment_intent", "payment_intent": invoice["payment_intent"]},
            }
        ],
    }


def current_invoice(invoice: Mapping[str, Any]) -> Obj:
    out = dict(invoice)
    parent = _map(out.get("parent"))
    details = _map(parent.get("subscription_details"))
    if _absent(details, "subscription") and out.get("subscription") is not None:
        out["parent"] = {
            **parent,
            "type": parent.get("type") or "subscription_details",
            "subscription_details": {**details, "subscription": out["subscription"]},
        }
    if _absent(out, "payments") and out.get("payment_intent") is not None:
        out["payments"] = _invoice_payments(out)
    if _absent(out, "amount_remaining") and out.get("amount_due") is not None:
        out["amount_remaining"] = max(0, int(out["amount_due"]) - int(out.get("amount_paid") or 0))
    lines = _map(out.get("lines"))
    if isinstance(lines.get("data"), list):
        out["lines"] = {**lines, "data": [current_invoice_line(line) for line in lines["data"]]}
    return out


_BILLING_SHAPES: dict[str, Callable[[Mapping[str, Any]], Obj]] = {
    "subscription": current_subscription,
    "subscription_item": current_subscription_item,
    "invoice": current_invoice,
    "line_item": current_invoice_line,
    "price": current_price,
    "plan": current_price,
}


def current_billing_object(obj: Mapping[str, Any]) -> Obj:
    """Any billing object (or a list of them) in today's shape; others unchanged."""
    kind = obj.get("object")
    if kind == "list" and isinstance(obj.get("data"), list):
        return {**obj, "data": [current_billing_object(item) for item in obj["data"]]}
    translate = _BILLING_SHAPES.get(kind) if isinstance(kind, str) else None
    return translate(obj) if translate is not None else dict(obj)
