"""compat.py call shapes, config's compat switch, and the request deadline contextvar."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from stripe.params import PaymentIntentCancelParams, PaymentIntentCreateParams, RefundCreateParams

from payment_service.adapters.stripe import compat
from payment_service.adapters.stripe.config import StripeGatewayConfig, is_loopback_url
from payment_service.app.common import request_context as deadlines
from payment_service.app.ports.processor import idempotency_key
from payment_service.config import ConfigError


def test_current_api_keeps_every_parameter() -> None:
    shape = compat.api_shape(False)
    params: PaymentIntentCreateParams = {
        "amount": 100,
        "currency": "usd",
        "description": "d",
        "receipt_email": "a@example.com",
        "allowed_payment_method_types": ["card"],
    }
    assert shape.payment_intent_create(params) == params
    cancel: PaymentIntentCancelParams = {"cancellation_reason": "duplicate"}
    assert shape.payment_intent_cancel(cancel) == cancel
    refund: RefundCreateParams = {"payment_intent": "pi_1", "reason": "duplicate"}
    assert shape.refund_create(refund) == refund
    assert shape.default_decline_code == ""


def test_localstripe_drops_what_it_rejects_without_touching_the_input() -> None:
    shape = compat.api_shape(True)
    params: PaymentIntentCreateParams = {
        "amount": 100,
        "currency": "usd",
        "description": "d",
        "receipt_email": "a@example.com",
        "allowed_payment_method_types": ["card"],
        "metadata": {"payment_id": "pay_1"},
    }
    assert shape.payment_intent_create(params) == {
        "amount": 100,
        "currency": "usd",
        "metadata": {"payment_id": "pay_1"},
    }
    assert "description" in params
    assert shape.payment_intent_cancel({"cancellation_reason": "duplicate", "expand": ["x"]}) == {
        "expand": ["x"]
    }
    assert shape.refund_create({"payment_intent": "pi_1", "reason": "duplicate"}) == {
        "payment_intent": "pi_1"
    }
    assert shape.default_decline_code == "generic_decline"


def events(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i} for i in ids]


@pytest.mark.parametrize(
    ("starting_after", "ending_before", "limit", "expected", "has_more"),
    [
        (None, None, 2, ["e5", "e4"], True),
        (None, None, 9, ["e5", "e4", "e3", "e2", "e1"], False),
        ("e4", None, 2, ["e3", "e2"], True),
        ("e2", None, 2, ["e1"], False),
        (None, "e2", 2, ["e4", "e3"], True),
        (None, "e4", 2, ["e5"], False),
        (None, "e5", 2, [], False),
        ("gone", None, 2, [], False),
    ],
)
def test_page_newest_first_follows_stripe_cursors(
    starting_after: str | None,
    ending_before: str | None,
    limit: int,
    expected: list[str],
    has_more: bool,
) -> None:
    page, more = compat.page_newest_first(
        events("e5", "e4", "e3", "e2", "e1"), starting_after, ending_before, limit
    )
    assert [e["id"] for e in page] == expected
    assert more is has_more


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8420", True),
        ("http://localhost:1", True),
        ("http://[::1]:8420", True),
        ("https://api.stripe.com", False),
        ("http://10.0.0.1", False),
        (None, False),
    ],
)
def test_loopback_detection(url: str | None, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
    assert StripeGatewayConfig(api_key="sk_test_x", api_base=url).compat is loopback


def test_config_checks_and_explicit_compat() -> None:
    assert (
        StripeGatewayConfig(
            api_key="sk_test_x", api_base="http://127.0.0.1:1", localstripe_compat=False
        ).compat
        is False
    )
    assert "sk_test_secret" not in repr(StripeGatewayConfig(api_key="sk_test_secret"))
    with pytest.raises(ConfigError):
        StripeGatewayConfig(api_key="")
    with pytest.raises(ConfigError):
        StripeGatewayConfig(api_key="sk_test_x", timeout_s=0)


def test_idempotency_keys_are_stable_and_per_operation() -> None:
    assert idempotency_key("pay_1", "create") == "pay_1:create"
    assert idempotency_key("pay_1", "create") != idempotency_key("pay_1", "capture")
    with pytest.raises(ValueError, match="row id"):
        idempotency_key("", "create")


def test_deadline_scope_sets_remaining_and_never_extends_an_outer_one() -> None:
    assert deadlines.remaining() is None
    assert deadlines.bounded_timeout(5.0) == 5.0
    with deadlines.deadline_scope(1.0):
        left = deadlines.remaining()
        assert left is not None
        assert 0.9 < left <= 1.0
        assert deadlines.bounded_timeout(5.0) <= 1.0
        with deadlines.deadline_scope(10.0):
            inner = deadlines.remaining()
            assert inner is not None
            assert inner <= 1.0
        with deadlines.deadline_scope(None):
            assert deadlines.remaining() is not None
    assert deadlines.remaining() is None


def test_set_and_reset_deadline_and_it_never_goes_negative() -> None:
    token = deadlines.set_deadline(0.0)
    try:
        time.sleep(0.01)
        assert deadlines.remaining() == 0.0
    finally:
        deadlines.reset_deadline(token)
    assert deadlines.deadline() is None


async def test_each_task_sees_its_own_deadline() -> None:
    async def under(seconds: float) -> float | None:
        with deadlines.deadline_scope(seconds):
            await asyncio.sleep(0)
            return deadlines.remaining()

    short, long_ = await asyncio.gather(under(0.5), under(50.0))
    assert short is not None
    assert long_ is not None
    assert short <= 0.5 < 49 < long_
    assert deadlines.remaining() is None


@pytest.mark.parametrize(
    ("caller_s", "margin_s"), [(0.0, 0.0), (0.5, 0.05), (2.0, 0.2), (2.5, 0.25), (30.0, 0.25)]
)
def test_the_answer_margin_is_a_tenth_of_the_callers_time_and_at_most_a_quarter_second(
    caller_s: float, margin_s: float
) -> None:
    assert deadlines.answer_margin(caller_s) == pytest.approx(margin_s)
    # The work stops at the whole margin, the answer leaves at half of it.
    assert deadlines.work_time(caller_s) == pytest.approx(caller_s - margin_s)
    assert deadlines.answer_time(caller_s) == pytest.approx(caller_s - margin_s / 2)


def test_no_caller_deadline_means_no_work_or_answer_deadline() -> None:
    assert deadlines.work_time(None) is None
    assert deadlines.answer_time(None) is None
