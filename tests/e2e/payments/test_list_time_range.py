"""ListPayments' time filters outside what a datetime can hold (issue 11, defect 2): the caller
gets INVALID_ARGUMENT naming the field, not INTERNAL from an unmapped ValueError."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from payments.v1 import payment_service_pb2 as pb

from tests.support.stack import Stack, auth, error_details

YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00Z
BEFORE_YEAR_1 = -62_135_596_801  # one second before 0001-01-01T00:00:00Z


@pytest.mark.parametrize("field", ["created_after", "created_before"])
@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(YEAR_10000, 0), (BEFORE_YEAR_1, 0), (0, 1_000_000_000), (0, -1), (2**62, 0)],
)
async def test_an_impossible_time_is_refused_naming_the_field(
    stack: Stack, field: str, seconds: int, nanos: int
) -> None:
    request = pb.ListPaymentsRequest(account_id="acct_range")
    getattr(request, field).CopyFrom(Timestamp(seconds=seconds, nanos=nanos))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.ListPayments(request, metadata=auth(), timeout=10)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error_details(raised.value).field_violations


async def test_the_extreme_valid_times_are_accepted(stack: Stack) -> None:
    request = pb.ListPaymentsRequest(
        account_id="acct_range",
        created_after=Timestamp(seconds=BEFORE_YEAR_1 + 1),
        created_before=Timestamp(seconds=YEAR_10000 - 1, nanos=999_999_999),
    )

    response = await stack.payments.ListPayments(request, metadata=auth(), timeout=10)

    assert list(response.payments) == []
