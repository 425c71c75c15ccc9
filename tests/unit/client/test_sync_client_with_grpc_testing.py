"""The sync client over grpc_testing's channel: what a call sends, and the server's own
error statuses (made by api/grpc/errors.py) decoded into typed exceptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc_testing
import payments_client
import pytest
from google.rpc import status_pb2
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from payment_service.api.grpc.errors import rich_status_for, to_grpc_status
from payment_service.app.ports.rate_limit import Limit
from payment_service.domain import errors
from payment_service.security.rate_limits import RateLimited

SERVICE = pb.DESCRIPTOR.services_by_name["PaymentService"]
GET_PAYMENT = SERVICE.methods_by_name["GetPayment"]


class _KeywordDroppingChannel:
    """grpc_testing's multi-callables take no ``wait_for_ready``/``compression``, which
    grpc.intercept_channel always passes: this forwards the rest."""

    def __init__(self, inner: grpc_testing.Channel) -> None:
        self._inner = inner

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        inner = self._inner.unary_unary(method, *args, **kwargs)

        class _Call:
            def with_call(self, request: Any, **call: Any) -> Any:
                call.pop("wait_for_ready", None)
                call.pop("compression", None)
                return inner.with_call(request, **call)

        return _Call()  # type: ignore[return-value]


@pytest.fixture
def testing_channel() -> grpc_testing.Channel:
    return grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


def stub(testing_channel: grpc_testing.Channel, token: str = "tok-1") -> rpc.PaymentServiceStub:
    policy = payments_client.CallPolicy(token_provider=lambda: token)
    channel = payments_client.intercept(_KeywordDroppingChannel(testing_channel), policy)  # type: ignore[arg-type]
    return rpc.PaymentServiceStub(channel)


def answer(
    testing_channel: grpc_testing.Channel,
    pool: ThreadPoolExecutor,
    call: Callable[[], Any],
    status: status_pb2.Status | None,
    code: grpc.StatusCode = grpc.StatusCode.OK,
) -> tuple[Any, Any]:
    """Run ``call``, answer it with ``status`` (or a GetPayment response when None), and
    return (what the call sent as metadata, the call's future)."""
    future = pool.submit(call)
    metadata, _request, rpc_call = testing_channel.take_unary_unary(GET_PAYMENT)
    if status is None:
        rpc_call.terminate(pb.GetPaymentResponse(payment=pb.Payment(id="pay_1")), (), code, "")
    else:
        sent = to_grpc_status(status)
        rpc_call.terminate(None, sent.trailing_metadata, sent.code, sent.details)
    return metadata, future


def test_the_token_is_sent_as_a_bearer_and_a_callers_own_is_kept(
    testing_channel: grpc_testing.Channel, pool: ThreadPoolExecutor
) -> None:
    payments = stub(testing_channel)
    request = pb.GetPaymentRequest(id="pay_1")
    metadata, future = answer(testing_channel, pool, lambda: payments.GetPayment(request), None)
    assert future.result(timeout=5).payment.id == "pay_1"
    assert ("authorization", "Bearer tok-1") in metadata

    own = (("authorization", "Bearer mine"),)
    metadata, future = answer(
        testing_channel, pool, lambda: payments.GetPayment(request, metadata=own), None
    )
    future.result(timeout=5)
    assert [v for k, v in metadata if k == "authorization"] == ["Bearer mine"]


@pytest.mark.parametrize(
    ("error", "expected", "check"),
    [
        (
            errors.CardDeclined(
                "declined",
                code="card_declined",
                decline_code="insufficient_funds",
                payment_id="pay_9",
            ),
            payments_client.CardDeclined,
            lambda e: (
                (e.decline_code, e.card_error_code, e.payment_id)
                == ("insufficient_funds", "card_declined", "pay_9")
            ),
        ),
        (
            errors.RequestIdReused("req-1"),
            payments_client.RequestIdReused,
            lambda e: (
                e.request_id == "req-1"
                and e.field_violations[0].field == "request_id"
                and isinstance(e, payments_client.InvalidArgument)
            ),
        ),
        (
            errors.InvalidArgument.field("amount", "must be positive"),
            payments_client.InvalidArgument,
            lambda e: (
                e.field_violations
                == (payments_client.FieldViolation("amount", "must be positive"),)
            ),
        ),
        (
            errors.NotFound("payment", "pay_404"),
            payments_client.NotFound,
            lambda e: (e.resource, e.resource_id) == ("payment", "pay_404"),
        ),
        (
            errors.Unauthenticated("token has expired", reason="TOKEN_EXPIRED"),
            payments_client.AuthenticationRequired,
            lambda e: e.reason == payments_client.reasons.TOKEN_EXPIRED,
        ),
        (
            errors.PermissionDenied("lacks scope", metadata={"scope": "refunds:write"}),
            payments_client.PermissionDenied,
            lambda e: e.scope == "refunds:write",
        ),
        (
            errors.Unavailable("stripe down", retry_after_seconds=1.5, reason="PROCESSOR_TIMEOUT"),
            payments_client.Unavailable,
            lambda e: e.retry_after == 1.5 and e.retryable,
        ),
        (
            errors.FailedPrecondition("new rule", reason="SOME_FUTURE_REASON"),
            payments_client.FailedPrecondition,
            lambda e: type(e) is payments_client.FailedPrecondition and not e.retryable,
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_the_servers_error_statuses_decode_into_typed_exceptions(
    testing_channel: grpc_testing.Channel,
    pool: ThreadPoolExecutor,
    error: errors.DomainError,
    expected: type[payments_client.PaymentServiceError],
    check: Callable[[Any], bool],
) -> None:
    payments = stub(testing_channel)
    status = rich_status_for(error)
    _, future = answer(
        testing_channel, pool, lambda: payments.GetPayment(pb.GetPaymentRequest(id="x")), status
    )
    with pytest.raises(expected) as raised:
        future.result(timeout=5)
    decoded = raised.value
    assert decoded.code().value[0] == status.code
    assert (decoded.reason, decoded.domain) == (error.reason, "payments.v1")
    assert decoded.details() == error.message
    assert check(decoded)


def test_a_rate_limit_carries_retry_after_and_the_quota(
    testing_channel: grpc_testing.Channel, pool: ThreadPoolExecutor
) -> None:
    payments = stub(testing_channel)
    error = RateLimited(Limit("writes", 5.0, 10), "caller:svc-orders", 0.25)
    _, future = answer(
        testing_channel,
        pool,
        lambda: payments.GetPayment(pb.GetPaymentRequest(id="x")),
        rich_status_for(error),
    )
    with pytest.raises(payments_client.RateLimited) as raised:
        future.result(timeout=5)
    assert raised.value.retry_after == 0.25
    assert raised.value.metadata["limit"] == "writes"
    assert [q.subject for q in raised.value.quota_violations] == ["caller:svc-orders"]


def test_a_status_without_details_is_typed_by_its_code(
    testing_channel: grpc_testing.Channel, pool: ThreadPoolExecutor
) -> None:
    payments = stub(testing_channel)
    future = pool.submit(lambda: payments.GetPayment(pb.GetPaymentRequest(id="x")))
    _, _, rpc_call = testing_channel.take_unary_unary(GET_PAYMENT)
    rpc_call.terminate(None, (), grpc.StatusCode.UNAVAILABLE, "connection refused")
    with pytest.raises(payments_client.Unavailable) as raised:
        future.result(timeout=5)
    assert (raised.value.reason, raised.value.retry_after) == ("", None)
    assert raised.value.details() == "connection refused"
    assert isinstance(raised.value, grpc.RpcError)
