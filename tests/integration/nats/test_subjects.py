"""The subject scheme (pure: runs without NATS)."""

from __future__ import annotations

import pytest

from payment_service.adapters.nats.subjects import (
    encode_token,
    encode_type,
    event_subject,
    filter_subject,
    validate_prefix,
)


def test_ordinary_ids_and_types_stay_readable() -> None:
    assert event_subject("payments.events", "acct_42", "payment.succeeded") == (
        "payments.events.acct_42.payment.succeeded"
    )
    assert encode_token("cust_01J9-x") == "cust_01J9-x"


@pytest.mark.parametrize("value", ["a.b", "a*", ">", "a b", "é", "%", "a%2E"])
def test_unsafe_characters_are_escaped_unambiguously(value: str) -> None:
    token = encode_token(value)
    assert not set(token) & set(". *>\t")
    assert token != value or value.isalnum()
    assert len({encode_token(v) for v in ["a.b", "a%2Eb", "a_b"]}) == 3


def test_empty_values_get_a_token() -> None:
    assert encode_token("") == "%"
    assert encode_type("payment..x") == "payment.%.x"


def test_filters_are_as_narrow_as_one_subject_allows() -> None:
    p = "payments.events"
    assert filter_subject(p, "acct", []) == "payments.events.acct.>"
    assert filter_subject(p, None, ["payment.succeeded"]) == "payments.events.*.payment.succeeded"
    assert (
        filter_subject(p, "acct", ["payment.succeeded", "payment.failed"])
        == "payments.events.acct.payment.>"
    )
    assert filter_subject(p, None, ["payment.succeeded", "refund.failed"]) == "payments.events.*.>"
    # ">" needs a token after the common part: "payment" and "payment.x" share no full prefix.
    assert filter_subject(p, "a", ["payment", "payment.x"]) == "payments.events.a.payment.>"
    assert filter_subject(p, None, ["refund.*"]) == "payments.events.*.refund.>"
    assert filter_subject(p, "a", ["refund.*", "payment.succeeded"]) == "payments.events.a.>"


def test_prefixes_are_checked() -> None:
    assert validate_prefix("payments.events") == "payments.events"
    for bad in ["", "a..b", "a.*", "a.>", "a b"]:
        with pytest.raises(ValueError, match="subject prefix"):
            validate_prefix(bad)
