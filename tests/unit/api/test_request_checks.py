"""The edge checks every request by its descriptor: card numbers in any string (keys
too), unknown enum numbers, impossible timestamps and absurdly long strings."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import subscription_service_pb2 as subs

from payment_service.api.grpc.request_checks import MAX_STRING_LENGTH, check_request
from payment_service.domain.errors import InvalidArgument

PAN = "4242424242424242"


def _number(value: int) -> Any:
    """An enum field's value as the wire has it: any int (the stubs type the enum class)."""
    return value


def _violations(request: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        check_request(request)
    assert PAN not in str(raised.value)
    return {v.field: v.description for v in raised.value.violations}


def test_a_well_formed_request_passes() -> None:
    check_request(
        pb.CreatePaymentRequest(
            request_id="r-1",
            account_id="acct_1",
            amount=100,
            currency_code="usd",
            capture_method=_number(2),
            metadata={"order": "42"},
        )
    )
    check_request(b"not a message")  # stream handlers get iterators; nothing to check


def test_every_string_is_checked_for_card_numbers() -> None:
    request = pb.CreatePaymentRequest(
        request_id=PAN,
        account_id=f"acct {PAN}",
        description=f"card {PAN[:4]}-{PAN[4:8]}-{PAN[8:12]}-{PAN[12:]}",
        receipt_email=f"{PAN}@example.com",
        metadata={PAN: "x", "note": PAN},
    )
    assert _violations(request) == {
        "request_id": "must not contain a card number",
        "account_id": "must not contain a card number",
        "description": "must not contain a card number",
        "receipt_email": "must not contain a card number",
        "metadata": "keys must not contain a card number",
        "metadata[note]": "must not contain a card number",
    }


def test_unknown_enum_numbers_are_refused_singly_and_in_lists() -> None:
    assert _violations(pb.CancelPaymentRequest(reason=_number(99))) == {
        "reason": "unknown value 99"
    }
    assert _violations(pb.ListPaymentsRequest(states=[_number(n) for n in (1, -3, 77)])) == {
        "states": "unknown value -3"
    }


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(0, -1), (0, 1_000_000_000), (-62_135_596_801, 0), (253_402_300_800, 0)],
)
def test_timestamps_a_timestamp_cannot_hold_are_refused(seconds: int, nanos: int) -> None:
    request = subs.PauseSubscriptionRequest(resume_time=Timestamp(seconds=seconds, nanos=nanos))
    assert set(_violations(request)) == {"resume_time"}


def test_the_edges_of_the_timestamp_range_pass() -> None:
    for seconds, nanos in ((-62_135_596_800, 0), (253_402_300_799, 999_999_999)):
        check_request(
            subs.PauseSubscriptionRequest(resume_time=Timestamp(seconds=seconds, nanos=nanos))
        )


def test_absurdly_long_strings_are_refused_before_any_scan() -> None:
    long = "1" * (MAX_STRING_LENGTH + 1)
    assert _violations(pb.GetPaymentRequest(id=long)) == {
        "id": f"must not be over {MAX_STRING_LENGTH} characters"
    }
    assert _violations(pb.CreatePaymentRequest(metadata={long: "v"})) == {
        "metadata": f"keys must not be over {MAX_STRING_LENGTH} characters"
    }
