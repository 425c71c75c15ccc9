"""The one place where Stripe objects become domain snapshots.

Input is a plain mapping (``StripeObject.to_dict()`` or a webhook's JSON). Both
shapes are parsed:

- today's API (Stripe's own examples in tests/fixtures/stripe/fixtures3.json):
  ``latest_charge`` is an id unless expanded, ``amount_received`` and
  ``amount_capturable`` are on the PaymentIntent, ``amount_captured`` on the Charge;
- localstripe's 2017-era answers: ``latest_charge`` always expanded, a ``charges``
  list, no ``amount_received``/``amount_capturable``/``amount_captured``. Missing
  amounts are derived from the charge (see ``_localstripe_amount_captured``).

Prices, subscriptions and invoices are billing_mapping.py's (today's shapes only; compat.py
turns localstripe's into those). The small readers below serve both modules.

Stripe's status strings become our enums here, not in the domain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict, TypeVar

from payment_service.domain.processor import (
    RemoteCharge,
    RemoteCustomer,
    RemoteEvent,
    RemotePaymentError,
    RemotePaymentIntent,
    RemotePaymentMethod,
    RemoteRefund,
)
from payment_service.domain.states import (
    CaptureMethod,
    PaymentState,
    RefundReason,
    RefundState,
)

Obj = Mapping[str, Any]
T = TypeVar("T")


class StripeShapeError(ValueError):
    """A Stripe answer this module cannot read (unknown status, missing id)."""


_PAYMENT_STATES: dict[str, PaymentState] = {
    "requires_payment_method": PaymentState.REQUIRES_PAYMENT_METHOD,
    "requires_source": PaymentState.REQUIRES_PAYMENT_METHOD,  # pre-2019 name
    "requires_confirmation": PaymentState.REQUIRES_CONFIRMATION,
    "requires_action": PaymentState.REQUIRES_ACTION,
    "requires_source_action": PaymentState.REQUIRES_ACTION,  # pre-2019 name
    "processing": PaymentState.PROCESSING,
    "requires_capture": PaymentState.REQUIRES_CAPTURE,
    "succeeded": PaymentState.SUCCEEDED,
    "canceled": PaymentState.CANCELED,
}
_CAPTURE_METHODS: dict[str, CaptureMethod] = {
    "automatic": CaptureMethod.AUTOMATIC,
    "automatic_async": CaptureMethod.AUTOMATIC,  # localstripe's default, and today's API's
    "manual": CaptureMethod.MANUAL,
}
_REFUND_STATES: dict[str, RefundState] = {
    "pending": RefundState.PENDING,
    "requires_action": RefundState.REQUIRES_ACTION,
    "succeeded": RefundState.SUCCEEDED,
    "failed": RefundState.FAILED,
    "canceled": RefundState.CANCELED,
}
_REFUND_REASONS: dict[str, RefundReason] = {r.value: r for r in RefundReason}


# --- small readers -----------------------------------------------------------------------
def _lookup(table: Mapping[str, T], value: object, what: str) -> T:
    if isinstance(value, str) and value in table:
        return table[value]
    raise StripeShapeError(f"unknown {what}: {value!r}")


def _id(obj: Obj) -> str:
    value = obj.get("id")
    if not isinstance(value, str) or not value:
        raise StripeShapeError(f"{obj.get('object', 'object')} without an id")
    return value


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _dict(value: object) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _ref(value: object) -> str | None:
    """An id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, Mapping):
        return _str(value.get("id"))
    return _str(value)


def _metadata(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items() if v is not None}


def _list_data(value: object) -> list[Obj]:
    data = _dict(value).get("data")
    return [item for item in data if isinstance(item, Mapping)] if isinstance(data, list) else []


# --- charges -------------------------------------------------------------------------------
def _latest_charge(pi: Obj) -> Obj | None:
    """The latest charge when it came as an object: expanded, or localstripe's ``charges``."""
    latest = pi.get("latest_charge")
    if isinstance(latest, Mapping):
        return latest
    charges = _list_data(pi.get("charges"))
    if charges:
        wanted = _str(latest)
        for charge in charges:
            if wanted is None or charge.get("id") == wanted:
                return charge
    return None


def _localstripe_amount_captured(charge: Obj) -> int:
    """localstripe has no ``amount_captured``: a partial capture keeps ``amount`` and files
    the uncaptured rest as a Refund made on the charge itself (``payment_intent`` null),
    while refunds made through the API for a PaymentIntent name it."""
    if charge.get("status") != "succeeded" or not charge.get("captured"):
        return 0
    uncaptured = sum(
        _int(r.get("amount")) or 0
        for r in _list_data(charge.get("refunds"))
        if r.get("payment_intent") is None
    )
    return max(0, (_int(charge.get("amount")) or 0) - uncaptured)


def _amount_captured(charge: Obj) -> int:
    captured = _int(charge.get("amount_captured"))
    return captured if captured is not None else _localstripe_amount_captured(charge)


def _amount_refunded(charge: Obj) -> int:
    """Refunded through the API; localstripe's partial-capture remainder does not count."""
    total = _int(charge.get("amount_refunded")) or 0
    if "amount_captured" in charge:
        return total
    uncaptured = (_int(charge.get("amount")) or 0) - _localstripe_amount_captured(charge)
    if charge.get("status") == "succeeded" and charge.get("captured"):
        return max(0, total - uncaptured)
    return total


def to_charge(obj: Obj) -> RemoteCharge:
    return RemoteCharge(
        stripe_id=_id(obj),
        payment_intent=_ref(obj.get("payment_intent")),
        amount=_int(obj.get("amount")) or 0,
        amount_captured=_amount_captured(obj),
        amount_refunded=_amount_refunded(obj),
        currency=str(obj.get("currency") or "").lower(),
        status=str(obj.get("status") or ""),
        captured=bool(obj.get("captured")),
        failure_code=_str(obj.get("failure_code")),
        failure_message=_str(obj.get("failure_message")),
        receipt_url=_str(obj.get("receipt_url")),
        created=_int(obj.get("created")) or 0,
        refunds=_embedded_refunds(obj),
    )


def _embedded_refunds(charge: Obj) -> tuple[RemoteRefund, ...] | None:
    """The charge's refunds when the payload holds all of them, else None."""
    listed = charge.get("refunds")
    if not isinstance(listed, Mapping) or listed.get("has_more") is not False:
        return None
    data = listed.get("data")
    if not isinstance(data, list):
        return None
    return tuple(to_refund(item) for item in data if isinstance(item, Mapping))


# --- payment intents ------------------------------------------------------------------------
def to_payment_error(value: object) -> RemotePaymentError | None:
    error = _dict(value)
    code, decline, message = (
        _str(error.get("code")),
        _str(error.get("decline_code")),
        _str(error.get("message")),
    )
    if code is None and decline is None and message is None:
        return None
    return RemotePaymentError(code=code, decline_code=decline, message=message)


def _next_action(obj: Obj) -> tuple[str | None, str | None]:
    """A PaymentIntent's or SetupIntent's next action: its type and redirect URL."""
    action = _dict(obj.get("next_action"))
    kind = _str(action.get("type"))
    if kind is None:
        return None, None
    url = _str(_dict(action.get("redirect_to_url")).get("url"))
    return kind, url


class IntentFields(TypedDict):
    """The ``RemoteIntent`` fields PaymentIntents and SetupIntents name alike (the last
    error is under a key of each's own: ``last_payment_error``, ``last_setup_error``)."""

    customer: str | None
    payment_method: str | None
    client_secret: str | None
    next_action_type: str | None
    next_action_url: str | None


def _intent_fields(obj: Obj) -> IntentFields:
    """A PaymentIntent's or SetupIntent's customer, payment method, client secret and next
    action."""
    action_type, action_url = _next_action(obj)
    return {
        "customer": _ref(obj.get("customer")),
        "payment_method": _ref(obj.get("payment_method")),
        "client_secret": _str(obj.get("client_secret")),
        "next_action_type": action_type,
        "next_action_url": action_url,
    }


def to_payment_intent(obj: Obj) -> RemotePaymentIntent:
    state = _lookup(_PAYMENT_STATES, obj.get("status"), "PaymentIntent status")
    amount = _int(obj.get("amount")) or 0
    charge = _latest_charge(obj)

    received = _int(obj.get("amount_received"))
    if received is None:  # localstripe
        received = _amount_captured(charge) if charge else 0
    capturable = _int(obj.get("amount_capturable"))
    if capturable is None:  # localstripe
        capturable = (
            (_int(charge.get("amount")) or amount)
            if charge and state is PaymentState.REQUIRES_CAPTURE
            else 0
        )

    return RemotePaymentIntent(
        stripe_id=_id(obj),
        state=state,
        amount=amount,
        currency=str(obj.get("currency") or "").lower(),
        amount_capturable=capturable,
        amount_received=received,
        capture_method=_lookup(
            _CAPTURE_METHODS, obj.get("capture_method") or "automatic", "capture_method"
        ),
        **_intent_fields(obj),
        last_error=to_payment_error(obj.get("last_payment_error")),
        receipt_url=_str(charge.get("receipt_url")) if charge else None,
        latest_charge_id=_ref(obj.get("latest_charge"))
        or (_str(charge.get("id")) if charge else None),
        amount_refunded=_amount_refunded(charge) if charge else None,
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
        canceled_at=_int(obj.get("canceled_at")),
        cancellation_reason=_str(obj.get("cancellation_reason")),
        description=_str(obj.get("description")),
    )


# --- customers and payment methods -----------------------------------------------------------
def to_customer(obj: Obj) -> RemoteCustomer:
    settings = _dict(obj.get("invoice_settings"))
    return RemoteCustomer(
        stripe_id=_id(obj),
        email=_str(obj.get("email")),
        name=_str(obj.get("name")),
        default_payment_method=_ref(settings.get("default_payment_method")),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
        deleted=bool(obj.get("deleted")),
    )


def to_payment_method(obj: Obj) -> RemotePaymentMethod:
    kind = str(obj.get("type") or "")
    details = _dict(obj.get(kind)) if kind else {}
    return RemotePaymentMethod(
        stripe_id=_id(obj),
        type=kind,
        customer=_ref(obj.get("customer")),
        brand=_str(details.get("brand")),
        last4=_str(details.get("last4")),
        exp_month=_int(details.get("exp_month")),
        exp_year=_int(details.get("exp_year")),
        fingerprint=_str(details.get("fingerprint")),
        billing_name=_str(_dict(obj.get("billing_details")).get("name")),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
    )


# --- refunds and events ------------------------------------------------------------------------
def to_refund(obj: Obj) -> RemoteRefund:
    reason = obj.get("reason")
    return RemoteRefund(
        stripe_id=_id(obj),
        payment_intent=_ref(obj.get("payment_intent")),
        charge=_ref(obj.get("charge")),
        amount=_int(obj.get("amount")) or 0,
        currency=str(obj.get("currency") or "").lower(),
        state=_lookup(_REFUND_STATES, obj.get("status"), "Refund status"),
        # Stripe-initiated reasons (expired_uncaptured_charge) are not ours to mirror.
        reason=_REFUND_REASONS.get(reason) if isinstance(reason, str) else None,
        failure_reason=_str(obj.get("failure_reason")),
        metadata=_metadata(obj.get("metadata")),
        created=_int(obj.get("created")) or 0,
    )


def to_event(obj: Obj) -> RemoteEvent:
    data = _dict(obj.get("data"))
    previous = data.get("previous_attributes")
    event_type = _str(obj.get("type"))
    if event_type is None:
        raise StripeShapeError("event without a type")
    return RemoteEvent(
        stripe_id=_id(obj),
        type=event_type,
        created=_int(obj.get("created")) or 0,
        data_object=dict(_dict(data.get("object"))),
        api_version=_str(obj.get("api_version")),
        previous_attributes=dict(previous) if isinstance(previous, Mapping) else None,
    )


def decode_event(payload: str) -> RemoteEvent:
    """A webhook body; ValueError (StripeShapeError) when it is not a Stripe event."""
    body = json.loads(payload)
    if not isinstance(body, Mapping):
        raise StripeShapeError("the body is not a JSON object")
    return to_event(body)


def encode_event(event: RemoteEvent) -> str:
    """A Stripe-shaped JSON body for an event read from the API (not delivered to us)."""
    data: dict[str, Any] = {"object": dict(event.data_object)}
    if event.previous_attributes is not None:
        data["previous_attributes"] = dict(event.previous_attributes)
    body = {
        "id": event.stripe_id,
        "object": "event",
        "type": event.type,
        "created": event.created,
        "api_version": event.api_version,
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str)


def previous_customer(event: RemoteEvent) -> str | None:
    """The customer the event's object belonged to before it (``previous_attributes``)."""
    return _ref((event.previous_attributes or {}).get("customer"))
