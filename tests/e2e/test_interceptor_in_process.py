"""The interceptor in an in-process server (port 0): domain errors to statuses with details,
bugs to a generic INTERNAL, the caller and deadline handed to servicers, streaming handlers,
and methods missing from the scope table denied."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from payments.v1 import payment_service_pb2, payment_service_pb2_grpc

from payment_service.api.grpc.context import current_caller
from payment_service.api.grpc.interceptor import ServiceInterceptor
from payment_service.api.grpc.services import Servicers
from payment_service.app.common import request_context as deadlines
from payment_service.bootstrap.app import App, build_app
from payment_service.config import Settings
from payment_service.domain import errors
from payment_service.observability.metrics import Metrics
from payment_service.security.jwt_verifier import JwtVerifier
from tests.e2e.conftest import error_info, rich_status
from tests.support.server import TEST_AUDIENCE, TEST_HS256_SECRET, TEST_ISSUER, bearer, make_token

Payment = payment_service_pb2.Payment

RAISED: dict[str, Exception] = {
    "invalid": errors.InvalidArgument.field("amount", "must be positive"),
    "not-found": errors.NotFound("payment", "pay_x"),
    "declined": errors.CardDeclined(
        "card declined", code="card_declined", decline_code="insufficient_funds"
    ),
    "transition": errors.InvalidTransition("payment", "pay_x", "SUCCEEDED", "CANCELED"),
    "conflict": errors.Conflict("already attached", constraint="uq_payment_methods_stripe_id"),
    "aborted": errors.Aborted("lost a race"),
    "exhausted": errors.ResourceExhausted("slow down", retry_after_seconds=2.5),
    "unavailable": errors.Unavailable("stripe timed out", retry_after_seconds=1.0),
    "bug": RuntimeError("password=hunter2 at db.internal:5432"),
}


class ScriptedPayments(payment_service_pb2_grpc.PaymentServiceServicer):
    async def GetPayment(
        self, request: payment_service_pb2.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> payment_service_pb2.GetPaymentResponse:
        if request.id in RAISED:
            raise RAISED[request.id]
        if request.id == "own-abort":
            await context.abort(grpc.StatusCode.OUT_OF_RANGE, "servicer's own status")
        caller = current_caller()
        remaining = deadlines.remaining()
        return payment_service_pb2.GetPaymentResponse(
            payment=Payment(
                id=caller.sub,
                account_id=caller.account_id or "",
                description="" if remaining is None else f"{remaining:.3f}",
            )
        )


def _settings() -> Settings:
    return Settings(
        grpc_port=0,
        http_port=0,
        auth_hs256_secret=TEST_HS256_SECRET,
        auth_issuer=TEST_ISSUER,
        auth_audience=TEST_AUDIENCE,
        shutdown_drain_s=0,
        shutdown_grace_s=0,
    )


@pytest.fixture(scope="module")
async def app() -> AsyncIterator[App]:
    application = build_app(_settings(), servicers=Servicers(payment=ScriptedPayments()))
    await application.start()
    yield application
    await application.stop()


@pytest.fixture(scope="module")
async def stub(app: App) -> AsyncIterator[payment_service_pb2_grpc.PaymentServiceAsyncStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}") as channel:
        yield payment_service_pb2_grpc.PaymentServiceStub(channel)


TOKEN = bearer(make_token("payments:read", sub="svc-a", account_id="acct_7"))


async def _fail(stub: Any, payment_id: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetPayment(
            payment_service_pb2.GetPaymentRequest(id=payment_id), metadata=TOKEN, timeout=10
        )
    return raised.value


def _detail(error: grpc.aio.AioRpcError, message_type: type[Any]) -> Any:
    for detail in rich_status(error).details:
        message = message_type()
        if detail.Unpack(message):
            return message
    return None


@pytest.mark.parametrize(
    ("payment_id", "code", "reason"),
    [
        ("invalid", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("not-found", grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
        ("declined", grpc.StatusCode.FAILED_PRECONDITION, "CARD_DECLINED"),
        ("transition", grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE_TRANSITION"),
        ("conflict", grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS"),
        ("aborted", grpc.StatusCode.ABORTED, "CONCURRENT_UPDATE"),
        ("exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED"),
        ("unavailable", grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE"),
    ],
)
async def test_domain_error_maps_to_code_and_error_info(
    stub: Any, payment_id: str, code: grpc.StatusCode, reason: str
) -> None:
    error = await _fail(stub, payment_id)
    assert error.code() == code
    info = error_info(error)
    assert (info.reason, info.domain) == (reason, "payments.v1")
    assert dict(info.metadata) == RAISED[payment_id].metadata  # type: ignore[attr-defined]
    assert error.details() == RAISED[payment_id].message  # type: ignore[attr-defined]


async def test_invalid_argument_carries_field_violations(stub: Any) -> None:
    bad_request = _detail(await _fail(stub, "invalid"), error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("amount", "must be positive")
    ]


@pytest.mark.parametrize(
    ("payment_id", "seconds", "nanos"), [("exhausted", 2, 500_000_000), ("unavailable", 1, 0)]
)
async def test_retryable_errors_carry_retry_info(
    stub: Any, payment_id: str, seconds: int, nanos: int
) -> None:
    retry = _detail(await _fail(stub, payment_id), error_details_pb2.RetryInfo)
    assert (retry.retry_delay.seconds, retry.retry_delay.nanos) == (seconds, nanos)


async def test_non_retryable_errors_have_no_retry_info(stub: Any) -> None:
    assert _detail(await _fail(stub, "not-found"), error_details_pb2.RetryInfo) is None


async def test_unexpected_exception_is_a_generic_internal(
    stub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    error = await _fail(stub, "bug")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error"
    assert "hunter2" not in str(rich_status(error))
    assert any(
        r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records
    )  # traceback: log only


async def test_servicer_abort_keeps_its_status(stub: Any) -> None:
    error = await _fail(stub, "own-abort")
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE
    assert error.details() == "servicer's own status"


async def test_servicer_sees_the_caller_and_the_deadline(stub: Any) -> None:
    response = await stub.GetPayment(
        payment_service_pb2.GetPaymentRequest(id="x"), metadata=TOKEN, timeout=10
    )
    assert (response.payment.id, response.payment.account_id) == ("svc-a", "acct_7")
    assert 0 < float(response.payment.description) < 11  # the wire format rounds timeouts up


async def test_no_deadline_means_none_for_the_servicer(stub: Any) -> None:
    response = await stub.GetPayment(payment_service_pb2.GetPaymentRequest(id="x"), metadata=TOKEN)
    assert response.payment.description == ""


async def test_metrics_are_recorded_per_method_and_code(app: App, stub: Any) -> None:
    await _fail(stub, "not-found")
    text = app.metrics.render().decode()
    assert (
        'grpc_server_handled_total{code="NOT_FOUND",method="/payments.v1.PaymentService/GetPayment"}'
        in text
    )


# --- streaming handlers and the fail-closed scope table ----------------------------------------

STREAM_SERVICE = "payments.v1.TestStreams"
Msg = health_pb2.HealthCheckResponse


async def _async_gen(request: Any, context: Any) -> AsyncIterator[Msg]:
    for status in (Msg.SERVING, Msg.NOT_SERVING):
        yield Msg(status=status)


def _sync_gen(request: Any, context: Any) -> Iterator[Msg]:
    yield Msg(status=Msg.SERVING)


async def _writer(request: Any, context: grpc.aio.ServicerContext) -> None:
    await context.write(Msg(status=Msg.SERVICE_UNKNOWN))
    raise errors.NotFound("thing", "t1")


async def _count(requests: AsyncIterator[Msg], context: Any) -> Msg:
    total = 0
    async for _ in requests:
        total += 1
    return Msg(status=total)


async def _echo(requests: AsyncIterator[Msg], context: Any) -> AsyncIterator[Msg]:
    async for request in requests:
        yield Msg(status=request.status)


def _handlers() -> grpc.GenericRpcHandler:
    ser, de = Msg.SerializeToString, Msg.FromString
    return grpc.method_handlers_generic_handler(
        STREAM_SERVICE,
        {
            "AsyncGen": grpc.unary_stream_rpc_method_handler(_async_gen, de, ser),
            "SyncGen": grpc.unary_stream_rpc_method_handler(_sync_gen, de, ser),
            "Writer": grpc.unary_stream_rpc_method_handler(_writer, de, ser),
            "Count": grpc.stream_unary_rpc_method_handler(_count, de, ser),
            "Echo": grpc.stream_stream_rpc_method_handler(_echo, de, ser),
            "Unlisted": grpc.unary_stream_rpc_method_handler(_async_gen, de, ser),
        },
    )


@pytest.fixture(scope="module")
async def stream_channel() -> AsyncIterator[grpc.aio.Channel]:
    settings = _settings()
    interceptor = ServiceInterceptor(
        verifier=JwtVerifier.from_settings(settings), metrics=Metrics().rpc
    )
    scopes = {
        f"/{STREAM_SERVICE}/{name}": "payments:read"
        for name in ("AsyncGen", "SyncGen", "Writer", "Count", "Echo")
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("payment_service.api.grpc.interceptor.required_scope", scopes.get)
        server = grpc.aio.server(interceptors=[interceptor])
        server.add_generic_rpc_handlers((_handlers(),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
        await server.stop(0)


def _call(channel: grpc.aio.Channel, kind: str, name: str) -> Any:
    factory = getattr(channel, kind)
    return factory(
        f"/{STREAM_SERVICE}/{name}",
        request_serializer=Msg.SerializeToString,
        response_deserializer=Msg.FromString,
    )


async def test_async_generator_stream(stream_channel: grpc.aio.Channel) -> None:
    call = _call(stream_channel, "unary_stream", "AsyncGen")(Msg(), metadata=TOKEN)
    assert [m.status async for m in call] == [Msg.SERVING, Msg.NOT_SERVING]


async def test_sync_generator_stream(stream_channel: grpc.aio.Channel) -> None:
    call = _call(stream_channel, "unary_stream", "SyncGen")(Msg(), metadata=TOKEN)
    assert [m.status async for m in call] == [Msg.SERVING]


async def test_writer_stream_error_is_mapped(stream_channel: grpc.aio.Channel) -> None:
    call = _call(stream_channel, "unary_stream", "Writer")(Msg(), metadata=TOKEN)
    assert (await call.read()).status == Msg.SERVICE_UNKNOWN
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(raised.value).reason == "NOT_FOUND"


async def test_client_streaming(stream_channel: grpc.aio.Channel) -> None:
    response = await _call(stream_channel, "stream_unary", "Count")(
        iter([Msg()] * 3), metadata=TOKEN
    )
    assert response.status == 3


async def test_bidi_streaming(stream_channel: grpc.aio.Channel) -> None:
    call = _call(stream_channel, "stream_stream", "Echo")(
        iter([Msg(status=Msg.SERVING)]), metadata=TOKEN
    )
    assert [m.status async for m in call] == [Msg.SERVING]


async def test_streaming_needs_a_token(stream_channel: grpc.aio.Channel) -> None:
    call = _call(stream_channel, "unary_stream", "AsyncGen")(Msg())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_method_missing_from_scope_table_is_denied(stream_channel: grpc.aio.Channel) -> None:
    everything = bearer(make_token("payments:read payments:write"))
    call = _call(stream_channel, "unary_stream", "Unlisted")(Msg(), metadata=everything)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).reason == "METHOD_NOT_ALLOWED"
