"""RefundService over gRPC with the generated stubs: an in-process server (port 0) on the
session's database backends (SQLite, PostgreSQL) and localstripe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from payments.v1 import payment_service_pb2 as payment_pb
from payments.v1 import payment_service_pb2_grpc, refund_service_pb2_grpc
from payments.v1 import refund_service_pb2 as pb
from pydantic import SecretStr

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.api.grpc.refund_servicer import RefundServicer
from payment_service.api.grpc.services import Servicers
from payment_service.app.refunds.rules import RefundRules
from payment_service.app.refunds.service import Refunds
from payment_service.bootstrap.app import build_app
from payment_service.config import Settings
from payment_service.domain.states import PaymentState
from tests.e2e.conftest import error_info, rich_status
from tests.integration.refunds.helpers import StoredPayment, refunds_at_stripe, succeeded_payment
from tests.integration.webhooks.support import SECRET, event, signed
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.server import TEST_AUDIENCE, TEST_HS256_SECRET, TEST_ISSUER, bearer, make_token
from tests.support.webhooks import settled_as

Metadata = tuple[tuple[str, str], ...]
TOKEN = bearer(make_token("refunds:read refunds:write", sub="svc-support"))
NewPayment = Callable[..., Any]


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


@pytest_asyncio.fixture
async def stub(
    uow_factory: SqlUnitOfWorkFactory, proxied_gateway: StripeGateway
) -> AsyncIterator[refund_service_pb2_grpc.RefundServiceAsyncStub]:
    """The server's Stripe calls go through the outage proxy (up unless a test says otherwise)."""
    refunds = Refunds(uow_factory, proxied_gateway, MemoryCache(), RefundRules(pending_grace_s=0))
    app = build_app(_settings(), servicers=Servicers(refund=RefundServicer(refunds)))
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}") as channel:
            yield refund_service_pb2_grpc.RefundServiceStub(channel)  # type: ignore[misc]
    finally:
        await app.stop()


@pytest.fixture
def new_payment(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> NewPayment:
    async def make(**kwargs: Any) -> StoredPayment:
        return await succeeded_payment(uow_factory, gateway, localstripe, **kwargs)

    return make


async def _create(stub: Any, auth: Metadata = TOKEN, **fields: Any) -> pb.Refund:
    response = await stub.CreateRefund(pb.CreateRefundRequest(**fields), metadata=auth, timeout=20)
    refund: pb.Refund = response.refund
    return refund


async def _fails(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def _violations(error: grpc.aio.AioRpcError) -> set[str]:
    for detail in rich_status(error).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return {v.field for v in bad.field_violations}
    return set()


async def test_create_get_list(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)
    first = await _create(
        stub,
        request_id="g-1",
        payment_id=paid.id,
        amount=400,
        reason=pb.REFUND_REASON_FRAUDULENT,
        metadata={"ticket": "T-9"},
    )
    assert (first.state, first.amount, first.currency_code, first.reason) == (
        pb.REFUND_STATE_SUCCEEDED,
        400,
        "usd",
        pb.REFUND_REASON_FRAUDULENT,
    )
    assert first.id.startswith("rfd_")
    assert first.stripe_refund_id.startswith("re_")
    assert (first.payment_id, first.account_id, dict(first.metadata)) == (
        paid.id,
        paid.account_id,
        {"ticket": "T-9"},
    )
    assert first.HasField("create_time")
    assert first.HasField("update_time")
    rest = await _create(stub, request_id="g-2", payment_id=paid.id)  # no amount: all that is left
    assert (rest.amount, rest.reason) == (600, pb.REFUND_REASON_UNSPECIFIED)

    got = await stub.GetRefund(pb.GetRefundRequest(id=first.id), metadata=TOKEN)
    assert got.refund == first
    listed = await stub.ListRefunds(pb.ListRefundsRequest(payment_id=paid.id), metadata=TOKEN)
    assert [r.id for r in listed.refunds] == [rest.id, first.id]
    assert listed.next_page_token == ""
    page = await stub.ListRefunds(
        pb.ListRefundsRequest(account_id=paid.account_id, page_size=1), metadata=TOKEN
    )
    assert [r.id for r in page.refunds] == [rest.id]
    assert page.next_page_token
    tail = await stub.ListRefunds(
        pb.ListRefundsRequest(
            account_id=paid.account_id, page_size=1, page_token=page.next_page_token
        ),
        metadata=TOKEN,
    )
    assert [r.id for r in tail.refunds] == [first.id]
    assert sorted(r["amount"] for r in await refunds_at_stripe(localstripe, paid.stripe_id)) == [
        400,
        600,
    ]


async def test_over_refund_is_refused_before_stripe(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)
    await _create(stub, request_id="o-1", payment_id=paid.id, amount=900)
    error = await _fails(_create(stub, request_id="o-2", payment_id=paid.id, amount=101))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(error)
    assert (info.reason, info.domain, info.metadata["refundable"]) == (
        "REFUND_EXCEEDS_REFUNDABLE",
        "payments.v1",
        "100",
    )
    assert [r["amount"] for r in await refunds_at_stripe(localstripe, paid.stripe_id)] == [900]


async def test_payment_not_succeeded(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(state=PaymentState.PROCESSING)
    error = await _fails(_create(stub, request_id="n", payment_id=paid.id, amount=1))
    assert (error.code(), error_info(error).reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PAYMENT_NOT_REFUNDABLE",
    )
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []


async def test_accounts_and_scopes(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(account_id="acct_owner")
    stranger = bearer(
        make_token("refunds:read refunds:write", sub="svc-x", account_id="acct_other")
    )
    owner = bearer(make_token("refunds:read refunds:write", sub="svc-x", account_id="acct_owner"))
    reader = bearer(make_token("refunds:read payments:write", sub="svc-x"))

    error = await _fails(_create(stub, stranger, request_id="s", payment_id=paid.id, amount=1))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    error = await _fails(_create(stub, reader, request_id="s", payment_id=paid.id, amount=1))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []

    mine = await _create(stub, owner, request_id="s", payment_id=paid.id, amount=1)
    for call in (
        stub.GetRefund(pb.GetRefundRequest(id=mine.id), metadata=stranger),
        stub.ListRefunds(pb.ListRefundsRequest(payment_id=paid.id), metadata=stranger),
        stub.ListRefunds(pb.ListRefundsRequest(account_id="acct_owner"), metadata=stranger),
    ):
        assert (await _fails(call)).code() is grpc.StatusCode.NOT_FOUND
    assert (await stub.GetRefund(pb.GetRefundRequest(id=mine.id), metadata=owner)).refund == mine


async def test_invalid_arguments_and_request_id_reuse(stub: Any, new_payment: NewPayment) -> None:
    paid = await new_payment(amount=1000)
    error = await _fails(_create(stub, request_id="i", payment_id=paid.id, amount=0))
    assert (error.code(), _violations(error)) == (grpc.StatusCode.INVALID_ARGUMENT, {"amount"})
    error = await _fails(_create(stub, request_id="i", payment_id=paid.id, reason=42))
    assert (error.code(), _violations(error)) == (grpc.StatusCode.INVALID_ARGUMENT, {"reason"})
    error = await _fails(
        stub.ListRefunds(pb.ListRefundsRequest(payment_id=paid.id, account_id="a"), metadata=TOKEN)
    )
    assert _violations(error) == {"payment_id", "account_id"}
    error = await _fails(
        stub.ListRefunds(pb.ListRefundsRequest(account_id="a", page_size=-1), metadata=TOKEN)
    )
    assert _violations(error) == {"page_size"}

    first = await _create(stub, request_id="same", payment_id=paid.id, amount=10)
    assert (await _create(stub, request_id="same", payment_id=paid.id, amount=10)) == first
    error = await _fails(_create(stub, request_id="same", payment_id=paid.id, amount=11))
    assert (error.code(), error_info(error).reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_REUSED",
    )


async def test_zero_decimal_currency(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=500, currency="jpy")
    refund = await _create(stub, request_id="jpy", payment_id=paid.id)
    assert (refund.amount, refund.currency_code) == (500, "jpy")
    [at_stripe] = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert (at_stripe["amount"], at_stripe["currency"]) == (500, "jpy")


async def test_twenty_concurrent_partial_refunds(
    stub: Any, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)

    async def one(index: int) -> pb.Refund | grpc.aio.AioRpcError:
        try:
            return await _create(stub, request_id=f"c-{index}", payment_id=paid.id, amount=130)
        except grpc.aio.AioRpcError as error:
            return error

    results = await asyncio.gather(*(one(i) for i in range(20)))
    made = [r for r in results if isinstance(r, pb.Refund)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(made) == 7  # 7 x 130 = 910 fits in 1000, an 8th does not
    assert {(e.code(), error_info(e).reason) for e in refused} == {
        (grpc.StatusCode.FAILED_PRECONDITION, "REFUND_EXCEEDS_REFUNDABLE")
    }
    at_stripe = await refunds_at_stripe(localstripe, paid.stripe_id)
    assert sum(int(r["amount"]) for r in at_stripe) == 910
    assert len(at_stripe) == 7


async def test_stripe_unreachable_then_retry(
    stub: Any, new_payment: NewPayment, outage_proxy: OutageProxy, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)
    outage_proxy.down()
    error = await _fails(_create(stub, request_id="u", payment_id=paid.id, amount=300))
    assert (error.code(), error_info(error).reason) == (
        grpc.StatusCode.UNAVAILABLE,
        "PROCESSOR_UNAVAILABLE",
    )
    refund_id = error_info(error).metadata["refund_id"]
    pending = await stub.GetRefund(pb.GetRefundRequest(id=refund_id), metadata=TOKEN)
    assert (pending.refund.state, pending.refund.stripe_refund_id) == (pb.REFUND_STATE_PENDING, "")
    outage_proxy.up()
    assert await refunds_at_stripe(localstripe, paid.stripe_id) == []

    done = await _create(stub, request_id="u", payment_id=paid.id, amount=300)
    assert (done.id, done.state) == (refund_id, pb.REFUND_STATE_SUCCEEDED)
    assert len(await refunds_at_stripe(localstripe, paid.stripe_id)) == 1


# --- refund events through the sidecar (issue 6) ---------------------------------------------


@dataclass
class FullService:
    refunds: Any
    payments: Any
    webhook_url: str
    session: aiohttp.ClientSession
    uow_factory: SqlUnitOfWorkFactory

    async def deliver(self, event_type: str, obj: dict[str, Any], created: int) -> str:
        """POST a signed event the way Stripe does; return what it came to once the
        service's appliers applied it (stored when answered, applied after)."""
        evt = event(event_type, obj, created=created)
        body, headers = signed(evt)
        async with self.session.post(self.webhook_url, data=body, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["result"] == "accepted"
        return await settled_as(self.uow_factory, evt["id"])

    async def payment(self, payment_id: str) -> Any:
        got = await self.payments.GetPayment(
            payment_pb.GetPaymentRequest(id=payment_id), metadata=FULL_TOKEN, timeout=20
        )
        return got.payment


FULL_TOKEN = bearer(make_token("payments:read refunds:read refunds:write", sub="svc-support"))


@pytest_asyncio.fixture
async def full(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, localstripe: LocalStripe
) -> AsyncIterator[FullService]:
    """The whole service as ``serve`` builds it (real servicers, the webhook route on the
    sidecar) over this session's database and localstripe."""
    settings = _settings().model_copy(
        update={
            "database_url": database_url,
            "stripe_api_key": SecretStr(localstripe.api_key),
            "stripe_api_base": localstripe.base_url,
            "stripe_max_network_retries": 0,
            "stripe_timeout_s": 5.0,
            "stripe_webhook_secrets": [SecretStr(SECRET)],
            "reconcile_interval_s": 0.0,
        }
    )
    app = build_app(settings)
    await app.start()
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}") as channel,
            aiohttp.ClientSession() as session,
        ):
            yield FullService(
                refund_service_pb2_grpc.RefundServiceStub(channel),  # type: ignore[no-untyped-call]
                payment_service_pb2_grpc.PaymentServiceStub(channel),  # type: ignore[no-untyped-call]
                f"http://127.0.0.1:{app.http.port}/stripe/webhooks",
                session,
                uow_factory,
            )
    finally:
        await app.stop()


async def test_dashboard_refund_event_shows_in_list_refunds_and_on_the_payment(
    full: FullService, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)
    before = await full.payment(paid.id)  # cached now: the event must invalidate it
    assert (before.amount_refunded, before.refund_state) == (
        0,
        payment_pb.PAYMENT_REFUND_STATE_NONE,
    )
    made = await localstripe.request(  # in the Stripe dashboard
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_id, "amount": "300"}
    )
    assert await full.deliver("refund.created", made, int(made["created"])) == "applied"

    listed = await full.refunds.ListRefunds(
        pb.ListRefundsRequest(payment_id=paid.id), metadata=FULL_TOKEN
    )
    [imported] = listed.refunds
    assert (imported.stripe_refund_id, imported.amount, imported.state) == (
        made["id"],
        300,
        pb.REFUND_STATE_SUCCEEDED,
    )
    after = await full.payment(paid.id)
    assert (after.amount_refunded, after.refund_state) == (
        300,
        payment_pb.PAYMENT_REFUND_STATE_PARTIALLY_REFUNDED,
    )
    error = await _fails(
        _create(full.refunds, FULL_TOKEN, request_id="d", payment_id=paid.id, amount=701)
    )
    assert error_info(error).metadata["refundable"] == "700"


async def test_failed_refund_event_gives_its_amount_back(
    full: FullService, new_payment: NewPayment, localstripe: LocalStripe
) -> None:
    paid = await new_payment(amount=1000)
    mine = await _create(full.refunds, FULL_TOKEN, request_id="all", payment_id=paid.id)
    assert (mine.amount, mine.state) == (1000, pb.REFUND_STATE_SUCCEEDED)
    refunded = await full.payment(paid.id)
    assert refunded.refund_state == payment_pb.PAYMENT_REFUND_STATE_REFUNDED

    failed = {
        **await localstripe.retrieve("refunds", mine.stripe_refund_id),
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
    }
    assert await full.deliver("refund.failed", failed, int(time.time()) + 2) == "applied"

    got = await full.refunds.GetRefund(pb.GetRefundRequest(id=mine.id), metadata=FULL_TOKEN)
    assert (got.refund.state, got.refund.failure_reason) == (
        pb.REFUND_STATE_FAILED,
        "expired_or_canceled_card",
    )
    payment = await full.payment(paid.id)
    assert (payment.amount_refunded, payment.refund_state) == (
        0,
        payment_pb.PAYMENT_REFUND_STATE_NONE,
    )
    again = await _create(
        full.refunds, FULL_TOKEN, request_id="again", payment_id=paid.id, amount=1000
    )
    assert (again.amount, again.state) == (1000, pb.REFUND_STATE_SUCCEEDED)
