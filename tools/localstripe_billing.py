"""Billing patch layer on localstripe 1.15.10: the Stripe Billing behaviour localstripe lacks.

``install()`` must run before anything imports ``localstripe.server`` (tools/localstripe_server.py
calls it): it patches localstripe's classes, puts routes into ``extra_apis`` (which server.py
registers when imported, before its generic CRUD routes), then adds the invoice pages and two
middlewares to ``app``. Each patch's docstring says what real Stripe does that localstripe does
not; docs/localstripe.md ("Billing patch layer") lists them, the routes and the differences.
"""

from __future__ import annotations

import contextvars
import html
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from dateutil.relativedelta import relativedelta
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    Event,
    Invoice,
    InvoiceItem,
    InvoiceLineItem,
    PaymentIntent,
    PaymentMethod,
    Plan,
    Product,
    StripeObject,
    Subscription,
    SubscriptionItem,
    extra_apis,
    random_id,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.webhooks import schedule_webhook

_BASE_URL: contextvars.ContextVar[str] = contextvars.ContextVar(
    "base_url", default="http://127.0.0.1"
)
_ORIGINAL: dict[str, Any] = {}
_KEEP: Any = object()  # "parameter not sent"
_STEP = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")
PRORATION_BEHAVIORS = ("create_prorations", "always_invoice", "none")
PAYMENT_BEHAVIORS = (
    "allow_incomplete",
    "error_if_incomplete",
    "default_incomplete",
    "pending_if_incomplete",
)


# --- small helpers ----------------------------------------------------------------------
def _emit(kind: str, obj: Any, previous: dict[str, Any] | None = None) -> None:
    """An event through localstripe's own store and webhook sending."""
    event = Event(kind, obj)
    if previous is not None:
        event.data["previous_attributes"] = previous
    schedule_webhook(event)


def _bad(message: str, code: str | None = None) -> UserError:
    return UserError(400, message, {"code": code} if code else None)


def _no_extra(unexpected: dict[str, Any]) -> None:
    if unexpected:
        raise _bad("Unexpected " + ", ".join(unexpected))


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: before.get(key) for key in after if before.get(key) != after[key]}


def _now() -> int:
    return int(time.time())


def _timestamp(value: Any, name: str) -> int:
    stamp = try_convert_to_int(value)
    if type(stamp) is not int or stamp <= 1500000000:
        raise _bad(f"Invalid {name}: must be a Unix timestamp.")
    return stamp


def _add_interval(start: int, plan: Any) -> int:
    moved = datetime.fromtimestamp(start, UTC) + _STEP[plan.interval] * plan.interval_count
    return int(moved.timestamp())


def _same_interval(a: Any, b: Any) -> bool:
    return bool((a.interval, a.interval_count) == (b.interval, b.interval_count))


def _merge_metadata(target: dict[str, Any], update: Any) -> None:
    if update == "":
        target.clear()
        return
    if type(update) is not dict:
        raise _bad("Invalid metadata: must be an object.")
    for key, value in update.items():
        if value == "":
            target.pop(key, None)
        else:
            target[key] = value


def _subscription_of(invoice: Any) -> Any:
    return store.get("subscription:" + invoice.subscription) if invoice.subscription else None


def _default_payment_method(customer: str, sub: Any) -> str | None:
    if sub is not None and sub.default_payment_method:
        return str(sub.default_payment_method)
    source = Customer._api_retrieve(customer)._get_default_payment_method_or_source()
    return str(source.id) if source is not None else None


def _payment_method_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return str(PaymentMethod._api_retrieve(value).id)  # 404 if unknown


# --- prices -----------------------------------------------------------------------------
class Price(StripeObject):  # type: ignore[misc]  # localstripe is untyped
    """Stripe's Price; here a view of the localstripe Plan with the same id (never stored)."""

    object = "price"
    _id_prefix = "price_"

    def __init__(self, plan: Any) -> None:  # no super().__init__(): a view is not stored
        self.id = plan.id
        self.created = plan.created
        self.livemode = False
        self.active = plan.active
        self.billing_scheme = plan.billing_scheme
        self.currency = plan.currency
        self.lookup_key = getattr(plan, "_lookup_key", None)
        self.metadata = plan.metadata
        self.nickname = plan.nickname
        self.product = plan.product
        self.recurring = {
            "interval": plan.interval,
            "interval_count": plan.interval_count,
            "usage_type": plan.usage_type,
            "trial_period_days": plan.trial_period_days,
            "meter": None,
        }
        self.tax_behavior = "unspecified"
        self.type = "recurring"
        self.unit_amount = plan.amount
        self.unit_amount_decimal = None if plan.amount is None else str(plan.amount)

    @classmethod
    def _api_retrieve(cls, id: str) -> Price:
        return cls(Plan._api_retrieve(id))


def _price_create(
    currency: Any = None,
    unit_amount: Any = None,
    recurring: Any = None,
    product: Any = None,
    product_data: Any = None,
    active: Any = True,
    nickname: Any = None,
    metadata: Any = None,
    lookup_key: Any = None,
    **unexpected: Any,
) -> Price:
    """Stripe has Prices; each one here is a localstripe Plan with the same id."""
    _no_extra(unexpected)
    amount = try_convert_to_int(unit_amount)
    if type(amount) is not int or amount < 0:
        raise _bad("Missing required param: unit_amount.", "parameter_missing")
    if type(recurring) is not dict:
        raise _bad("Only recurring prices are faked: recurring[interval] is required.")
    if (product is None) == (product_data is None):
        raise _bad("Pass exactly one of product and product_data.")
    if lookup_key is not None and any(
        getattr(p, "_lookup_key", None) == lookup_key for p in _plans()
    ):
        raise _bad(f"A price already uses the lookup key {lookup_key!r}.")
    if metadata is not None and type(metadata) is not dict:
        raise _bad("Invalid metadata: must be an object.")
    plan = Plan(
        id="price_" + random_id(24),
        amount=amount,
        currency=currency,
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count", 1),
        product=product if product is not None else dict(product_data),
        nickname=nickname,
        metadata=metadata,
        active=active,
    )
    plan._lookup_key = lookup_key
    price = Price(plan)
    _emit("price.created", price)
    return price


def _plans() -> list[Any]:
    return [obj for key, obj in store.items() if key.startswith("plan:")]


def _price_list(
    active: Any = None,
    product: Any = None,
    limit: Any = None,
    starting_after: Any = None,
    lookup_keys: Any = None,
    type: Any = None,
    **unexpected: Any,
) -> Any:
    """Stripe lists Prices (active, product, lookup_keys filters; cursor paging)."""
    _no_extra(unexpected)
    if type not in (None, "recurring"):
        raise _bad("Only recurring prices are faked.")
    page = Plan._api_list_all(
        "/v1/prices", active=active, product=product, limit=limit, starting_after=starting_after
    )
    keys = lookup_keys if lookup_keys is None or isinstance(lookup_keys, list) else [lookup_keys]
    page._list = [
        Price(p) for p in page._list if keys is None or getattr(p, "_lookup_key", None) in keys
    ]
    return page


def _price_retrieve(id: str, **unexpected: Any) -> Price:
    """Stripe retrieves a Price (expand[]=product works)."""
    _no_extra(unexpected)
    return Price._api_retrieve(id)


def _price_update(
    id: str,
    active: Any = None,
    metadata: Any = None,
    nickname: Any = None,
    lookup_key: Any = None,
    **unexpected: Any,
) -> Price:
    """Stripe updates a Price's active, metadata, nickname, lookup_key (price.updated)."""
    _no_extra(unexpected)
    plan = Plan._api_retrieve(id)
    before = Price(plan)._export()
    if active is not None:
        plan.active = try_convert_to_bool(active) is True
    if nickname is not None:
        plan.nickname = nickname or None
    if metadata is not None:
        _merge_metadata(plan.metadata, metadata)
    if lookup_key is not None:
        plan._lookup_key = lookup_key or None
    price = Price(plan)
    _emit("price.updated", price, _changed(before, price._export()))
    return price


def _product_update(cls: Any, /, id: str, **data: Any) -> Any:
    """Stripe sends product.updated (with previous_attributes) when a product changes."""
    before = Product._api_retrieve(id)._export()
    product = super(Product, cls)._api_update(id, **data)
    _emit("product.updated", product, _changed(before, product._export()))
    return product


def _item_price(self: Any) -> Price:
    """Stripe's subscription items name their price."""
    return Price(self.plan)


def _line_price(self: Any) -> Price | None:
    """Stripe's invoice lines name their price."""
    return Price(self.plan) if self.plan is not None else None


# --- invoices ---------------------------------------------------------------------------
def _invoice_init(
    self: Any,
    *,
    billing_reason: str = "manual",
    upcoming: bool = False,
    simulation: bool = False,
    **data: Any,
) -> None:
    """Stripe's invoices carry billing_reason and status_transitions.marked_uncollectible_at."""
    _ORIGINAL["invoice_init"](self, upcoming=True, simulation=simulation, **data)
    self.billing_reason = billing_reason
    self.status_transitions["marked_uncollectible_at"] = None
    self._uncollectible = False
    if not (upcoming or simulation):
        _announce(self)


def _announce(invoice: Any) -> None:
    """What localstripe's Invoice() does unless upcoming: latest_invoice, invoice.created."""
    sub = _subscription_of(invoice)
    if sub is not None:
        sub.latest_invoice = invoice.id
    _emit("invoice.created", invoice)


def _invoice_status(self: Any) -> str:
    """Stripe has the status uncollectible (mark_uncollectible) for open invoices."""
    status = str(_ORIGINAL["invoice_status"].fget(self))
    return (
        "uncollectible" if status == "open" and getattr(self, "_uncollectible", False) else status
    )


def _invoice_page_url(self: Any, page: str) -> str | None:
    if self._draft or not str(self.id).startswith("in_"):
        return None  # Stripe: null until finalized, and on previews
    return f"{_BASE_URL.get()}/_test/invoices/{self.id}/{page}"


def _invoice_payments(self: Any) -> dict[str, Any]:
    """Stripe's invoice.payments (API 2025-03-31 on): the invoice's PaymentIntent."""
    data = []
    if self.payment_intent:
        pi = PaymentIntent._api_retrieve(self.payment_intent)
        paid = pi.status == "succeeded"
        status = "paid" if paid else "canceled" if pi.status == "canceled" else "open"
        data.append(
            {
                "object": "invoice_payment",
                "id": "inpay_" + pi.id[3:],
                "invoice": self.id,
                "is_default": True,
                "amount_paid": pi.amount if paid else None,
                "amount_requested": pi.amount,
                "currency": pi.currency,
                "created": pi.created,
                "livemode": False,
                "payment": {"type": "payment_intent", "payment_intent": pi.id},
                "status": status,
                "status_transitions": {
                    "paid_at": self.status_transitions.get("paid_at") if paid else None,
                    "canceled_at": None,
                },
            }
        )
    url = f"/v1/invoice_payments?invoice={self.id}"
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _invoice_confirmation_secret(self: Any) -> dict[str, Any] | None:
    """Stripe's invoice.confirmation_secret (API 2025-03-31 on): its PaymentIntent's secret."""
    if not self.payment_intent:
        return None
    pi = PaymentIntent._api_retrieve(self.payment_intent)
    return {"type": "payment_intent", "client_secret": pi.client_secret}


def _invoice_finalize(self: Any) -> None:
    """Stripe sends invoice.finalized; a zero invoice is paid as it is finalized."""
    _ORIGINAL["invoice_finalize"](self)
    _emit("invoice.finalized", self)
    if self.status == "paid":
        self._on_payment_success()


def _invoice_paid(self: Any) -> None:
    """Stripe sends invoice.paid besides invoice.payment_succeeded."""
    _ORIGINAL["invoice_paid"](self)
    _emit("invoice.paid", self)


def _collect(
    invoice: Any, *, confirm: bool = True, payment_method: str | None = None, raise_: bool = False
) -> None:
    """Charge an open invoice as Stripe does, through one PaymentIntent reused on retries."""
    sub = _subscription_of(invoice)
    pm = payment_method or _default_payment_method(invoice.customer, sub)
    pi = _invoice_intent(invoice, pm)
    if not confirm:
        return
    if pm is None:  # Stripe: nothing to charge, the attempt fails
        _emit("invoice.payment_failed", invoice)
        if sub is not None and sub.status not in ("incomplete", "canceled"):
            sub.status = "past_due"
        return
    pi._confirm(on_failure_now=pi._report_failure if raise_ else lambda: _declined(pi))
    if pi.status == "requires_action" and sub is not None and sub.status == "active":
        sub.status = "past_due"


def _declined(pi: Any) -> None:
    """localstripe's PaymentIntent._report_failure without raising the 402."""
    _emit("payment_intent.payment_failed", pi)
    Invoice._api_retrieve(pi.invoice)._on_payment_failure_now()


def _invoice_intent(invoice: Any, pm: str | None) -> Any:
    """The invoice's PaymentIntent: created once; a failed one takes the new payment method."""
    if invoice.payment_intent:
        pi = PaymentIntent._api_retrieve(invoice.payment_intent)
        if pi.status == "requires_action":
            raise UserError(
                402,
                "This invoice's payment is waiting for the customer to authenticate it.",
                {"code": "invoice_payment_intent_requires_action", "payment_intent": pi.id},
            )
        if pm is not None and pi.status in ("requires_payment_method", "requires_confirmation"):
            pi.payment_method, pi.latest_charge, pi._authentication_failed = pm, None, False
        return pi
    pi = PaymentIntent(
        amount=invoice.total,
        currency=invoice.currency,
        customer=invoice.customer,
        payment_method=pm,
    )
    pi.invoice = invoice.id
    invoice.payment_intent = pi.id
    return pi


def _api_pay(
    id: str, payment_method: Any = None, off_session: Any = None, **unexpected: Any
) -> Any:
    """Stripe pays an invoice with `payment_method` (or the default one); a decline is a 402."""
    _no_extra(unexpected)
    invoice = Invoice._api_retrieve(id)
    if invoice.status == "paid":
        raise _bad("Invoice is already paid", "invoice_already_paid")
    if invoice.status not in ("draft", "open", "uncollectible"):
        raise _bad(f"You cannot pay an invoice whose status is {invoice.status}.")
    pm = _payment_method_id(payment_method)
    if pm is None and _default_payment_method(invoice.customer, _subscription_of(invoice)) is None:
        raise _bad(
            "This customer has no attached payment source or default payment method.",
            "invoice_no_customer_payment_method",
        )
    if invoice.status == "draft":
        invoice._finalize()
    if invoice.status != "paid":
        _collect(invoice, payment_method=pm, raise_=True)
    return invoice


def _api_finalize(id: str, auto_advance: Any = None, **unexpected: Any) -> Any:
    """Stripe finalizes a draft invoice: open (or paid when zero), invoice.finalized."""
    _no_extra(unexpected)
    invoice = Invoice._api_retrieve(id)
    if invoice.status != "draft":
        raise _bad(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            "invoice_not_editable",
        )
    invoice._finalize()
    return invoice


def _api_void(id: str, **unexpected: Any) -> Any:
    """Stripe voids only open or uncollectible invoices (invoice.voided)."""
    _no_extra(unexpected)
    invoice = Invoice._api_retrieve(id)
    if invoice.status not in ("open", "uncollectible"):
        raise _bad(
            f"You can only void an open or uncollectible invoice; this one is {invoice.status}."
        )
    _void(invoice)
    return invoice


def _void(invoice: Any) -> None:
    if invoice.payment_intent:
        pi = PaymentIntent._api_retrieve(invoice.payment_intent)
        if pi.status != "canceled":
            PaymentIntent._api_cancel(pi.id)
    invoice._voided = True
    invoice.status_transitions["voided_at"] = _now()
    sub = _subscription_of(invoice)
    if sub is not None and sub.status == "incomplete" and sub.latest_invoice == invoice.id:
        sub.status = "incomplete_expired"
    _emit("invoice.voided", invoice)


def _api_mark_uncollectible(id: str, **unexpected: Any) -> Any:
    """Stripe marks an open invoice uncollectible (invoice.marked_uncollectible)."""
    _no_extra(unexpected)
    invoice = Invoice._api_retrieve(id)
    if invoice.status != "open":
        raise _bad(
            f"You can only mark an open invoice uncollectible; this one is {invoice.status}."
        )
    _mark_uncollectible(invoice)
    return invoice


def _mark_uncollectible(invoice: Any) -> None:
    invoice._uncollectible = True
    invoice.status_transitions["marked_uncollectible_at"] = _now()
    _emit("invoice.marked_uncollectible", invoice)


# --- payments -----------------------------------------------------------------------------
def _pi_confirm(self: Any, on_failure_now: Callable[[], None]) -> None:
    """Stripe sends invoice.payment_action_required when an invoice's payment needs 3-D Secure."""
    _ORIGINAL["pi_confirm"](self, on_failure_now)
    if self.invoice and self.status == "requires_action":
        _emit("invoice.payment_action_required", Invoice._api_retrieve(self.invoice))


def _pi_last_payment_error(self: Any) -> dict[str, Any] | None:
    """Stripe's card declines carry type card_error and a decline_code."""
    error: dict[str, Any] | None = _ORIGINAL["pi_last_payment_error"].fget(self)
    if error and error.get("code") == "card_declined":
        return {**error, "type": "card_error", "decline_code": "generic_decline"}
    return error


def _charging_is_declined(self: Any) -> bool:
    """Stripe also declines charges on the test cards it will not attach (4000000000000002 …)."""
    return bool(_ORIGINAL["pm_declined"](self) or self._attaching_is_declined())


# --- subscriptions: creation -------------------------------------------------------------
def _subscription_init(
    self: Any,
    *,
    items: Any = None,
    payment_behavior: str = "allow_incomplete",
    default_payment_method: Any = None,
    trial_end: Any = None,
    trial_period_days: Any = None,
    trial_settings: Any = None,
    pause_collection: Any = None,
    cancel_at_period_end: Any = None,
    proration_behavior: Any = None,
    off_session: Any = None,
    payment_settings: Any = None,  # accepted as Stripe does; the fake saves no payment method
    **data: Any,
) -> None:
    """Stripe subscribes to prices, with trials, default_incomplete, default_payment_method."""
    if payment_behavior not in PAYMENT_BEHAVIORS:
        raise _bad(f"Invalid payment_behavior: {payment_behavior!r}.")
    if proration_behavior not in (None, *PRORATION_BEHAVIORS):
        raise _bad(f"Invalid proration_behavior: {proration_behavior!r}.")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = item.pop("price")
    self._start = {
        "payment_behavior": payment_behavior,
        "default_payment_method": _payment_method_id(default_payment_method),
        "trial_end": _trial_end(trial_end, trial_period_days),
        "trial_settings": _trial_settings(trial_settings),
        "pause_collection": _pause_collection(pause_collection),
        "cancel_at_period_end": try_convert_to_bool(cancel_at_period_end) is True,
    }
    if payment_behavior in ("default_incomplete", "pending_if_incomplete"):
        payment_behavior = "allow_incomplete"
    # No trial for localstripe: it then calls _create_invoice, i.e. _start_subscription below.
    _ORIGINAL["sub_init"](self, items=items, payment_behavior=payment_behavior, **data)


def _trial_end(trial_end: Any, trial_period_days: Any) -> int | None:
    if trial_end == "now":
        return None
    if trial_end is not None:
        end = _timestamp(trial_end, "trial_end")
        if end <= _now():
            raise _bad("Invalid trial_end: must be in the future.")
        return end
    days = try_convert_to_int(trial_period_days)
    if days is None:
        return None
    if type(days) is not int or days < 0:
        raise _bad("Invalid trial_period_days: must be a non-negative integer.")
    return _now() + days * 86400 if days else None


def _trial_settings(value: Any) -> dict[str, Any]:
    missing = "create_invoice"
    if value is not None:
        try:
            missing = value["end_behavior"]["missing_payment_method"]
        except (KeyError, TypeError):
            raise _bad("Invalid trial_settings[end_behavior][missing_payment_method].") from None
    if missing not in ("create_invoice", "pause", "cancel"):
        raise _bad(f"Invalid missing_payment_method: {missing!r}.")
    return {"end_behavior": {"missing_payment_method": missing}}


def _pause_collection(value: Any) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    behavior = value.get("behavior") if type(value) is dict else None
    if behavior not in PAUSE_BEHAVIORS:
        raise _bad("Invalid pause_collection[behavior]: " + ", ".join(PAUSE_BEHAVIORS) + ".")
    resumes_at = value.get("resumes_at")
    if resumes_at not in (None, ""):
        resumes_at = _timestamp(resumes_at, "pause_collection[resumes_at]")
    return {"behavior": behavior, "resumes_at": resumes_at or None}


def _start_subscription(self: Any) -> None:
    """Stripe starts a subscription in its trial (a zero invoice) or with its first invoice
    finalized and charged (allow_incomplete) or left to the client (default_incomplete)."""
    start = self.__dict__.pop("_start")
    self.default_payment_method = start["default_payment_method"]
    self.pause_collection = start["pause_collection"]
    self.trial_settings = start["trial_settings"]
    trial_end = start["trial_end"]
    if trial_end is not None:
        self.status, self.trial_start, self.trial_end = "trialing", _now(), trial_end
        self._period = (self.trial_start, trial_end)
    else:
        self._period = (self.start_date, _add_interval(self.start_date, self.plan))
    if start["cancel_at_period_end"]:
        _set_cancel_at_period_end(self, True)
    invoice = _new_invoice(self, "subscription_create", trial=trial_end is not None)
    invoice._finalize()
    if invoice.status != "paid":
        confirm = start["payment_behavior"] != "default_incomplete"
        _collect(
            invoice, confirm=confirm, raise_=start["payment_behavior"] == "error_if_incomplete"
        )


def _new_invoice(sub: Any, reason: str, *, trial: bool = False, items: Any = None) -> Any:
    """An invoice of sub's items for its current period (lines at zero during a trial)."""
    invoice = Invoice(
        customer=sub.customer,
        subscription=sub.id,
        items=list(sub.items._list) if items is None else items,
        tax_percent=sub.tax_percent,
        default_tax_rates=[tr.id for tr in sub.default_tax_rates or []],
        date=sub.current_period_start,
        billing_reason=reason,
        upcoming=True,  # built quietly, announced below once the lines are right
    )
    if trial:
        for line in invoice.lines._list:
            if line.type == "subscription":
                line.amount, line.description = 0, f"Trial period for {line.description}"
    _announce(invoice)
    return invoice


def _item_period(self: Any) -> dict[str, int]:
    """Stripe keeps each subscription's billing period (trial, renewals, resets)."""
    sub = store.get("subscription:" + (self._subscription or ""))
    period = getattr(sub, "_period", None)
    if period is None:
        return dict(_ORIGINAL["item_period"](self))
    return {"start": period[0], "end": period[1]}


def _payment_succeeded(self: Any, invoice: Any) -> None:
    """Stripe activates an incomplete or past_due subscription once an invoice is paid."""
    if self.status in ("incomplete", "past_due", "unpaid"):
        self.status = "active"


def _first_payment_failed_later(self: Any, invoice: Any) -> None:
    """Stripe leaves the subscription incomplete when its first payment fails authentication."""


def _subscription_delete(cls: Any, /, id: str) -> Any:
    """Stripe records canceled_at when it cancels a subscription."""
    sub = Subscription._api_retrieve(id)
    if not sub.cancel_at_period_end or sub.canceled_at is None:
        sub.canceled_at = _now()
    return _ORIGINAL["sub_delete"](id)


def _set_cancel_at_period_end(sub: Any, flag: bool) -> None:
    sub.cancel_at_period_end = flag
    sub.cancel_at = sub.current_period_end if flag else None
    sub.canceled_at = _now() if flag else None


# --- subscriptions: changes and prorations -----------------------------------------------
def _subscription_update(
    self: Any,
    *,
    items: Any = None,
    proration_behavior: Any = "create_prorations",
    proration_date: Any = None,
    pause_collection: Any = _KEEP,
    default_payment_method: Any = None,
    payment_behavior: Any = "allow_incomplete",
    trial_end: Any = None,
    cancel_at_period_end: Any = None,
    off_session: Any = None,
    metadata: Any = None,
    **data: Any,
) -> None:
    """Stripe changes prices with prorations (create_prorations, always_invoice, none) and
    takes metadata, pause_collection, default_payment_method, cancel_at_period_end, trial_end."""
    if proration_behavior not in PRORATION_BEHAVIORS:
        raise _bad(f"Invalid proration_behavior: {proration_behavior!r}.")
    if payment_behavior not in PAYMENT_BEHAVIORS:
        raise _bad(f"Invalid payment_behavior: {payment_behavior!r}.")
    if metadata not in (None, "") and type(metadata) is not dict:
        raise _bad("Invalid metadata: must be an object.")
    change = _item_change(self, items) if items is not None else None
    when = _proration_date(proration_date)
    pause = _pause_collection(pause_collection) if pause_collection is not _KEEP else _KEEP
    pm = _payment_method_id(default_payment_method) if default_payment_method is not None else _KEEP
    cancel = try_convert_to_bool(cancel_at_period_end)
    if cancel is not None and type(cancel) is not bool:
        raise _bad("Invalid cancel_at_period_end: must be a boolean.")
    _ORIGINAL["sub_update"](self, **data)  # cancel_at, tax rates: localstripe's
    if metadata is not None:
        _merge_metadata(self.metadata, metadata)
    if pm is not _KEEP:
        self.default_payment_method = pm
    if pause is not _KEEP:
        self.pause_collection = pause
    if cancel is not None:
        _set_cancel_at_period_end(self, cancel)
    if trial_end is not None:
        _change_trial(self, trial_end)
    if change is not None:
        confirm = payment_behavior != "default_incomplete"
        raise_ = payment_behavior == "error_if_incomplete"
        _apply_change(self, *change, proration_behavior, when, confirm, raise_)


def _proration_date(value: Any) -> int:
    return _now() if value in (None, "") else _timestamp(value, "proration_date")


def _item_change(sub: Any, items: Any) -> tuple[Any, int]:
    """The single item's new plan and quantity (localstripe subscriptions have one item)."""
    if type(items) is not list or len(items) != 1 or type(items[0]) is not dict:
        raise UserError(500, "Not implemented: one subscription item only")
    spec, item = items[0], sub.items._list[0]
    if spec.get("id") not in (None, item.id):
        raise UserError(404, f"No such subscription item: '{spec['id']}'")
    plan = Plan._api_retrieve(spec.get("price") or spec.get("plan") or item.plan.id)
    quantity = try_convert_to_int(spec.get("quantity", item.quantity))
    if type(quantity) is not int or quantity < 1:
        raise _bad("Invalid quantity: must be a positive integer.")
    return plan, quantity


def _prorations(sub: Any, plan: Any, quantity: int, when: int) -> list[dict[str, Any]]:
    """Stripe's proration lines for moving sub's item to plan x quantity at `when`: a credit
    for the unused time, a charge for the remaining time (same interval only)."""
    item = sub.items._list[0]
    start, end = sub._period
    if sub.status == "trialing" or (item.plan.id, item.quantity) == (plan.id, quantity):
        return []
    if not start <= when < end:
        raise _bad("proration_date must be within the subscription's current period.")
    lines = [_proration_line(-1, item.plan, item.quantity, "Unused time", when, (start, end))]
    if _same_interval(plan, item.plan):
        lines.append(_proration_line(1, plan, quantity, "Remaining time", when, (start, end)))
    return lines


def _proration_line(
    sign: int, plan: Any, quantity: int, label: str, when: int, period: tuple[int, int]
) -> dict[str, Any]:
    left, whole = period[1] - when, period[1] - period[0]
    amount = (2 * plan.amount * quantity * left + whole) // (2 * whole)  # rounded half up
    times = f"{quantity} × " if quantity > 1 else ""  # noqa: RUF001 (Stripe's sign)
    day = datetime.fromtimestamp(when, UTC).strftime("%d %b %Y")
    return {
        "amount": sign * amount,
        "currency": plan.currency,
        "plan": plan.id,
        "description": f"{label} on {times}{plan.name} after {day}",
        "period_start": when,
        "period_end": period[1],
    }


def _plan_change(
    sub: Any, plan: Any, quantity: int, behavior: str, when: int
) -> tuple[list[dict[str, Any]], bool, tuple[int, int] | None]:
    """What a change bills: proration lines, invoiced at once?, the new period if it resets."""
    lines = _prorations(sub, plan, quantity, when) if behavior != "none" else []
    trialing = sub.status == "trialing"
    new_cycle = not trialing and not _same_interval(plan, sub.items._list[0].plan)
    new_period = (when, _add_interval(when, plan)) if new_cycle else None
    invoice_now = not trialing and (new_cycle or (behavior == "always_invoice" and bool(lines)))
    return lines, invoice_now, new_period


def _apply_change(
    sub: Any,
    plan: Any,
    quantity: int,
    behavior: str,
    when: int,
    confirm: bool,
    raise_: bool,
) -> None:
    """The item keeps its id and takes the new plan; prorations are pending invoice items,
    invoiced at once for always_invoice or an interval change (new billing cycle from `when`)."""
    item = sub.items._list[0]
    if (item.plan.id, item.quantity) == (plan.id, quantity):
        return
    lines, invoice_now, new_period = _plan_change(sub, plan, quantity, behavior, when)
    for line in lines:
        InvoiceItem(customer=sub.customer, subscription=sub.id, proration=True, **line)
    item.plan, item.quantity, sub.quantity = plan, quantity, quantity
    if new_period is not None:
        sub._period = new_period
    if invoice_now:
        own = list(sub.items._list) if new_period is not None else []
        invoice = _new_invoice(sub, "subscription_update", items=own)
        invoice._finalize()
        if invoice.status != "paid":
            _collect(invoice, confirm=confirm, raise_=raise_)


def _change_trial(sub: Any, trial_end: Any) -> None:
    if sub.status != "trialing":
        sub.trial_end = None if trial_end == "now" else _timestamp(trial_end, "trial_end")
        return
    if trial_end == "now":
        sub.trial_end = _now()
        _end_trial(sub)
        return
    sub.trial_end = _timestamp(trial_end, "trial_end")
    sub._period = (sub._period[0], sub.trial_end)


def _api_create_preview(
    customer: Any = None, subscription: Any = None, subscription_details: Any = None, **extra: Any
) -> Any:
    """Stripe previews the invoice a subscription change makes, with the same prorations as
    the change itself given the same proration_date."""
    _no_extra(extra)
    if subscription is None:
        return _ORIGINAL["create_preview"](
            customer=customer, subscription_details=subscription_details
        )
    sub = Subscription._api_retrieve(subscription)
    if customer not in (None, sub.customer):
        raise UserError(404, "No such subscription for customer")
    details = subscription_details if type(subscription_details) is dict else {}
    behavior = details.get("proration_behavior", "create_prorations")
    if behavior not in PRORATION_BEHAVIORS:
        raise _bad(f"Invalid proration_behavior: {behavior!r}.")
    when = _proration_date(details.get("proration_date"))
    item = sub.items._list[0]
    plan, quantity = (item.plan, item.quantity)
    if "items" in details:
        plan, quantity = _item_change(sub, details["items"])
    lines, invoice_now, new_period = _plan_change(sub, plan, quantity, behavior, when)
    if not invoice_now:  # the next renewal, on the new plan
        end = sub.current_period_end
        new_period = (end, _add_interval(end, plan))
    return _preview_invoice(sub, lines, plan, quantity, new_period, when if invoice_now else None)


def _preview_invoice(
    sub: Any,
    lines: list[dict[str, Any]],
    plan: Any,
    quantity: int,
    period: tuple[int, int] | None,
    date: int | None,
) -> Any:
    """An unstored invoice (id upcoming_in_…): pending items, `lines`, the item for `period`."""
    temporary: list[Any] = [
        InvoiceItem(customer=sub.customer, subscription=sub.id, proration=True, **line)
        for line in lines
    ]
    if period is not None:
        temporary.append(SubscriptionItem(subscription=sub.id, plan=plan.id, quantity=quantity))
    invoice = Invoice(
        customer=sub.customer,
        subscription=sub.id,
        items=list(temporary),
        date=date or sub.current_period_end,
        simulation=True,
        billing_reason="subscription_update" if date else "upcoming",
    )
    for line in invoice.lines._list:
        if line.type == "subscription" and period is not None:
            line.period = {"start": period[0], "end": period[1]}
            line.subscription_item = sub.items._list[0].id  # the real item, not the stand-in
    for obj in [*temporary, *invoice.lines._list, invoice]:
        store.pop(f"{obj.object}:{obj.id}", None)
    invoice.id = "upcoming_" + invoice.id
    return invoice


# --- subscriptions: clock, pause, resume ---------------------------------------------------
def _api_advance(id: str, **unexpected: Any) -> Any:
    """Test clock for one subscription (Stripe's test clocks move a whole simulated account):
    end its trial, renew it, or cancel it at the end of the period."""
    _no_extra(unexpected)
    sub = Subscription._api_retrieve(id)
    if sub.status in ("canceled", "incomplete", "incomplete_expired"):
        raise _bad(f"A subscription whose status is {sub.status} has no next period.")
    if sub.cancel_at_period_end:
        Subscription._api_delete(sub.id)
    elif sub.status == "trialing":
        _end_trial(sub)
    elif sub.status == "paused":  # nothing is billed while paused
        sub._period = (sub._period[1], _add_interval(sub._period[1], sub.plan))
    else:
        _renew(sub)
    return sub


def _end_trial(sub: Any) -> None:
    """Stripe ends a trial (trial_will_end first): the first paid period, charged to the
    default payment method; without one, past_due (create_invoice), paused or canceled."""
    if not getattr(sub, "_trial_will_end_sent", False):
        _trial_will_end(sub)
    sub._period = (sub.trial_end, _add_interval(sub.trial_end, sub.plan))
    missing = sub.trial_settings["end_behavior"]["missing_payment_method"]
    if missing != "create_invoice" and _default_payment_method(sub.customer, sub) is None:
        if missing == "cancel":
            Subscription._api_delete(sub.id)
        else:
            sub.status = "paused"
        return
    sub.status = "active"
    _bill(sub, "subscription_cycle")


def _bill(sub: Any, reason: str) -> Any:
    invoice = _new_invoice(sub, reason)
    invoice._finalize()
    if invoice.status != "paid":
        _collect(invoice)
    return invoice


def _renew(sub: Any) -> None:
    """Stripe renews: the next period, its invoice (with pending prorations) charged to the
    default payment method, unless pause_collection keeps it as draft, voids or writes it off."""
    end = sub._period[1]
    sub._period = (end, _add_interval(end, sub.plan))
    pause = sub.pause_collection
    if pause is not None and pause["resumes_at"] is not None and pause["resumes_at"] <= end:
        sub.pause_collection = pause = None
    if pause is None:
        _bill(sub, "subscription_cycle")
        return
    invoice = _new_invoice(sub, "subscription_cycle")
    if pause["behavior"] == "keep_as_draft":
        return
    invoice._finalize()
    if invoice.status == "paid":
        return
    if pause["behavior"] == "void":
        _void(invoice)
    else:
        _mark_uncollectible(invoice)


def _trial_will_end(sub: Any) -> None:
    sub._trial_will_end_sent = True
    _emit("customer.subscription.trial_will_end", sub)


def _api_trial_will_end(id: str, **unexpected: Any) -> Any:
    """Stripe sends customer.subscription.trial_will_end three days before a trial ends."""
    _no_extra(unexpected)
    sub = Subscription._api_retrieve(id)
    if sub.status != "trialing":
        raise _bad(f"The subscription is {sub.status}, not trialing.")
    _trial_will_end(sub)
    return sub


def _api_resume(
    id: str, billing_cycle_anchor: Any = None, proration_behavior: Any = None, **unexpected: Any
) -> Any:
    """Stripe resumes a paused subscription: a new period from now, invoiced and charged."""
    _no_extra(unexpected)
    sub = Subscription._api_retrieve(id)
    if sub.status != "paused":
        raise _bad(f"Only a paused subscription can be resumed; this one is {sub.status}.")
    now = _now()
    sub._period = (now, _add_interval(now, sub.plan))
    sub.status = "active"
    _bill(sub, "subscription_update")
    return sub


# --- pages and middlewares --------------------------------------------------------------
def _page_invoice(request: web.Request) -> Any:
    invoice = store.get("invoice:" + request.match_info["id"])
    if invoice is None:
        raise UserError(404, "Not Found")
    return invoice


def _invoice_text(invoice: Any) -> list[str]:
    money = f"{invoice.amount_due / 100:.2f} {invoice.currency.upper()}"
    lines = [f"{line.description}: {line.amount / 100:.2f}" for line in invoice.lines._list]
    return [f"Invoice {invoice.id}", f"Status: {invoice.status}", *lines, f"Amount due: {money}"]


async def _hosted_page(request: web.Request) -> web.Response:
    """Stripe's hosted invoice page: here a small HTML summary."""
    text = _invoice_text(_page_invoice(request))
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text[1:])
    page = f"<!doctype html><title>{html.escape(text[0])}</title><h1>{html.escape(text[0])}</h1>"
    return web.Response(text=page + body, content_type="text/html")


async def _pdf_page(request: web.Request) -> web.Response:
    """Stripe's invoice PDF: here a one-page PDF of the same summary."""
    return web.Response(
        body=_pdf(_invoice_text(_page_invoice(request))), content_type="application/pdf"
    )


def _pdf(lines: list[str]) -> bytes:
    escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
    text = " ".join(f"({line}) '" for line in escaped).encode("latin-1", "replace")
    stream = b"BT /F1 12 Tf 72 740 Td 16 TL " + text + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _public_pages(auth: Any) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> Any:
        """Stripe's hosted invoice pages and PDFs open without an API key."""
        if request.method == "GET" and request.path.startswith("/_test/invoices/"):
            return await handler(request)
        return await auth(request, handler)

    return middleware


@web.middleware
async def _base_url(request: web.Request, handler: Any) -> Any:
    """Invoice URLs point at this server as the caller reached it."""
    _BASE_URL.set(f"{request.scheme}://{request.host}")
    return await handler(request)


@web.middleware
async def _subscription_events(request: web.Request, handler: Any) -> Any:
    """Stripe sends customer.subscription.updated (with previous_attributes) on every change,
    and customer.subscription.paused / .resumed when it pauses or resumes."""
    if request.method not in ("POST", "DELETE"):
        return await handler(request)
    before = {
        key: _export(obj) for key, obj in list(store.items()) if key.startswith("subscription:")
    }
    try:
        return await handler(request)
    finally:
        _announce_changes(before)


def _export(obj: Any) -> dict[str, Any] | None:
    try:
        return dict(obj._export())
    except UserError:  # e.g. its product was deleted
        return None


def _announce_changes(before: dict[str, dict[str, Any] | None]) -> None:
    for key, old in before.items():
        sub = store.get(key)
        new = _export(sub) if sub is not None else None
        if old is None or new is None or old == new:
            continue
        if new["status"] == "canceled" and old["status"] != "canceled":
            continue  # customer.subscription.deleted says it
        _emit("customer.subscription.updated", sub, _changed(old, new))
        if old["status"] != new["status"] == "paused":
            _emit("customer.subscription.paused", sub)
        elif new["status"] != old["status"] == "paused":
            _emit("customer.subscription.resumed", sub)


# --- installation ---------------------------------------------------------------------------
ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("POST", "/v1/prices", _price_create),
    ("GET", "/v1/prices", _price_list),
    ("GET", "/v1/prices/{id}", _price_retrieve),
    ("POST", "/v1/prices/{id}", _price_update),
    ("POST", "/v1/invoices/create_preview", _api_create_preview),
    ("POST", "/v1/invoices/{id}/pay", _api_pay),
    ("POST", "/v1/invoices/{id}/void", _api_void),
    ("POST", "/v1/invoices/{id}/finalize", _api_finalize),
    ("POST", "/v1/invoices/{id}/mark_uncollectible", _api_mark_uncollectible),
    ("POST", "/v1/subscriptions/{id}/resume", _api_resume),
    ("POST", "/_test/subscriptions/{id}/advance", _api_advance),
    ("POST", "/_test/subscriptions/{id}/trial_will_end", _api_trial_will_end),
]


def _swap(cls: Any, name: str, key: str, new: Any) -> None:
    _ORIGINAL[key] = (
        cls.__dict__[name] if isinstance(cls.__dict__[name], property) else getattr(cls, name)
    )
    setattr(cls, name, new)


def _patch_classes() -> None:
    _swap(Invoice, "__init__", "invoice_init", _invoice_init)
    _swap(Invoice, "status", "invoice_status", property(_invoice_status))
    _swap(Invoice, "_finalize", "invoice_finalize", _invoice_finalize)
    _swap(Invoice, "_on_payment_success", "invoice_paid", _invoice_paid)
    _ORIGINAL["create_preview"] = Invoice._api_create_preview_invoice
    Invoice.hosted_invoice_url = property(lambda self: _invoice_page_url(self, "hosted"))
    Invoice.invoice_pdf = property(lambda self: _invoice_page_url(self, "pdf"))
    Invoice.payments = property(_invoice_payments)
    Invoice.confirmation_secret = property(_invoice_confirmation_secret)
    _swap(PaymentIntent, "_confirm", "pi_confirm", _pi_confirm)
    _swap(
        PaymentIntent,
        "last_payment_error",
        "pi_last_payment_error",
        property(_pi_last_payment_error),
    )
    _swap(PaymentMethod, "_charging_is_declined", "pm_declined", _charging_is_declined)
    _swap(Subscription, "__init__", "sub_init", _subscription_init)
    _swap(Subscription, "_update", "sub_update", _subscription_update)
    _swap(Subscription, "_api_delete", "sub_delete", classmethod(_subscription_delete))
    Subscription._create_invoice = _start_subscription
    Subscription._on_initial_payment_success = _payment_succeeded
    Subscription._on_initial_payment_failure_later = _first_payment_failed_later
    _swap(SubscriptionItem, "_current_period", "item_period", _item_period)
    SubscriptionItem.price = property(_item_price)
    SubscriptionItem.current_period_start = property(lambda self: self._current_period()["start"])
    SubscriptionItem.current_period_end = property(lambda self: self._current_period()["end"])
    InvoiceLineItem.price = property(_line_price)
    Product._api_update = classmethod(_product_update)


def install() -> Any:
    """Patch localstripe and return its aiohttp app. Call before localstripe.server is imported."""
    if "localstripe.server" in sys.modules:
        raise RuntimeError(
            "localstripe_billing.install() must run before localstripe.server is imported"
        )
    _patch_classes()
    for method, url, func in ROUTES:  # replace localstripe's own route, or add one
        kept = [entry for entry in extra_apis if (entry[0], entry[1]) != (method, url)]
        extra_apis[:] = [*kept, (method, url, func)]
    from localstripe import server

    app = server.app
    app.middlewares[app.middlewares.index(server.auth_middleware)] = _public_pages(
        server.auth_middleware
    )
    app.middlewares.extend([_base_url, _subscription_events])
    app.router.add_get("/_test/invoices/{id}/hosted", _hosted_page)
    app.router.add_get("/_test/invoices/{id}/pdf", _pdf_page)
    return app
