"""Saved-cards patch layer on localstripe 1.15.10: off-session charges and SetupIntents as Stripe
does them.

``install()`` must run before ``localstripe_billing.install()`` (tools/localstripe_server.py does
it): it patches localstripe's classes and puts its routes into ``extra_apis``, which
localstripe.server registers when the billing layer imports it. Each patch's docstring says what
real Stripe does that localstripe does not; docs/localstripe.md ("Saved-cards patch layer") lists
them and the differences that remain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localstripe.errors import UserError
from localstripe.resources import (
    Event,
    PaymentIntent,
    PaymentMethod,
    SetupIntent,
    extra_apis,
    try_convert_to_bool,
)
from localstripe.webhooks import schedule_webhook

AUTHENTICATION_REQUIRED = "authentication_required"
USAGES = ("on_session", "off_session")
# Stripe's test PaymentMethod for 4000002760003184: every charge needs 3-D Secure, so an
# off-session one fails with authentication_required.
AUTHENTICATION_REQUIRED_PM = "pm_card_authenticationRequired"
_ORIGINAL: dict[str, Any] = {}


def _emit(kind: str, obj: Any) -> None:
    schedule_webhook(Event(kind, obj))


def _card_error(message: str, code: str, **details: Any) -> UserError:
    error = UserError(402, message, {"code": code, "decline_code": code, **details})
    error.body["error"]["type"] = "card_error"
    return error


# --- off-session PaymentIntents ------------------------------------------------------------
def _pi_create(cls: Any, /, confirm: Any = None, off_session: Any = None, **data: Any) -> Any:
    """Stripe takes ``setup_future_usage`` (localstripe refuses it), and an off-session
    confirmation of a card that needs authentication fails with a 402 ``authentication_required``
    card error carrying the PaymentIntent, left ``requires_payment_method`` (localstripe asked
    for 3-D Secure as if the customer were there)."""
    usage = data.pop("setup_future_usage", None)
    if usage is not None and usage not in USAGES:
        raise UserError(400, f"Invalid setup_future_usage: must be one of {', '.join(USAGES)}")
    away = try_convert_to_bool(off_session) is True
    if not away:
        obj = _ORIGINAL["pi_create"](confirm=confirm, off_session=off_session, **data)
        obj.setup_future_usage = usage
        return obj
    obj = _ORIGINAL["pi_create"](confirm=None, off_session=None, **data)
    obj.setup_future_usage = usage
    if try_convert_to_bool(confirm) is not True:
        raise UserError(400, "off_session can only be used with confirm=true")
    method = PaymentMethod._api_retrieve(obj.payment_method) if obj.payment_method else None
    if method is not None and method._requires_authentication():
        obj._authentication_required = obj.payment_method
        obj.payment_method = None
        _emit("payment_intent.payment_failed", obj)
        raise _card_error(
            "This payment requires the customer to authenticate.",
            AUTHENTICATION_REQUIRED,
            payment_intent=obj._export(expand=["latest_charge"]),
        )
    obj._confirm(on_failure_now=obj._report_failure)
    return obj


def _pi_confirm(self: Any, on_failure_now: Callable[[], None]) -> None:
    """A new confirmation starts clean: the authentication_required error is Stripe's last
    error only until the PaymentIntent is confirmed again."""
    self._authentication_required = None
    _ORIGINAL["pi_confirm"](self, on_failure_now)


def _pi_last_payment_error(self: Any) -> dict[str, Any] | None:
    """Stripe's last_payment_error of an off-session decline names the card it was tried with."""
    declined = getattr(self, "_authentication_required", None)
    if declined:
        return {
            "code": AUTHENTICATION_REQUIRED,
            "decline_code": AUTHENTICATION_REQUIRED,
            "type": "card_error",
            "message": "This payment requires the customer to authenticate.",
            "payment_method": {"id": declined, "object": "payment_method"},
        }
    error: dict[str, Any] | None = _ORIGINAL["pi_last_payment_error"].fget(self)
    return error


def _pi_on_success(self: Any) -> None:
    """Stripe attaches the card of a PaymentIntent with ``setup_future_usage`` to its customer
    once it succeeds (payment_method.attached)."""
    _ORIGINAL["pi_on_success"](self)
    if getattr(self, "setup_future_usage", None) and self.customer and self.payment_method:
        _attach(self.payment_method, self.customer)


def _attach(payment_method: str, customer: str) -> None:
    method = PaymentMethod._api_retrieve(payment_method)
    if method.customer != customer:
        method.customer = customer
        _emit("payment_method.attached", method)


def _canonical_test_article(cls: Any, /, id: str) -> Any:
    """Stripe's ``pm_card_authenticationRequired`` (4000002760003184) exists too."""
    if id == AUTHENTICATION_REQUIRED_PM:
        card = {"number": "4000002760003184", "exp_month": "12", "exp_year": "2030", "cvc": "123"}
        return PaymentMethod(type="card", card=card)
    return _ORIGINAL["pm_canonical"](id)


# --- SetupIntents ------------------------------------------------------------------------------
def _si_attach_pm(self: Any, pm: Any) -> None:
    """Stripe attaches the card to the SetupIntent's customer when it succeeds and sends
    setup_intent.succeeded; one that needs 3-D Secure sends setup_intent.requires_action."""
    _ORIGINAL["si_attach_pm"](self, pm)
    self.last_setup_error = None
    _after_change(self)


def _after_change(intent: Any) -> None:
    if intent.status == "succeeded":
        if intent.customer:
            _attach(intent.payment_method, intent.customer)
        _emit("setup_intent.succeeded", intent)
    elif intent.status == "requires_action":
        _emit("setup_intent.requires_action", intent)


def _si_authenticate(
    id: str, client_secret: Any = None, success: Any = False, **unexpected: Any
) -> Any:
    """The 3-D Secure step of a SetupIntent, as ``payment_intents/{id}/_authenticate`` is for
    PaymentIntents (localstripe has none): success saves the card; failure sends it back to
    ``requires_payment_method`` with ``setup_intent_authentication_failure``."""
    if unexpected:
        raise UserError(400, "Unexpected " + ", ".join(unexpected))
    intent = SetupIntent._api_retrieve(id)
    if client_secret != intent.client_secret:
        raise UserError(401, "Unauthorized")
    if intent.status != "requires_action":
        raise UserError(400, "Bad request")
    intent.next_action = None
    if try_convert_to_bool(success) is True:
        intent.status = "succeeded"
        _after_change(intent)
        return intent
    intent.status = "requires_payment_method"
    intent.payment_method = None
    intent.last_setup_error = {
        "code": "setup_intent_authentication_failure",
        "type": "invalid_request_error",
        "message": "The latest attempt to set up the payment method has failed authentication.",
    }
    _emit("setup_intent.setup_failed", intent)
    return intent


# --- installation ---------------------------------------------------------------------------
def _pi_list_all(
    cls: Any, url: str, customer: str | None = None, limit: Any = None, **kwargs: Any
) -> Any:
    """Stripe lists a customer's PaymentIntents (``customer``); localstripe refused the
    filter (400), so finding one PaymentIntent meant reading every one it holds."""
    listed = _ORIGINAL["pi_list_all"].__func__(cls, url, limit=limit, **kwargs)
    if customer is not None:
        listed._list = [pi for pi in listed._list if pi.customer == customer]
    return listed


ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("POST", "/v1/setup_intents/{id}/_authenticate", _si_authenticate),
]


def _swap(cls: Any, name: str, key: str, new: Any) -> None:
    own = cls.__dict__.get(name)  # None when inherited (PaymentIntent._api_list_all)
    _ORIGINAL[key] = own if isinstance(own, property) else getattr(cls, name)
    setattr(cls, name, new)


def install() -> None:
    """Patch localstripe; call before localstripe_billing.install()."""
    _swap(PaymentIntent, "_api_create", "pi_create", classmethod(_pi_create))
    _swap(PaymentIntent, "_confirm", "pi_confirm", _pi_confirm)
    _swap(
        PaymentIntent,
        "last_payment_error",
        "pi_last_payment_error",
        property(_pi_last_payment_error),
    )
    _swap(PaymentIntent, "_on_success", "pi_on_success", _pi_on_success)
    _swap(PaymentIntent, "_api_list_all", "pi_list_all", classmethod(_pi_list_all))
    _swap(
        PaymentMethod,
        "_try_get_canonical_test_article",
        "pm_canonical",
        classmethod(_canonical_test_article),
    )
    _swap(SetupIntent, "_attach_pm", "si_attach_pm", _si_attach_pm)
    extra_apis.extend(ROUTES)
