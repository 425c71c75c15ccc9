"""CreatePayment / GetPayment / ListPayments over gRPC against localstripe, on each backend."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from payments.v1 import common_pb2
from payments.v1 import payment_service_pb2 as pb

from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy
from tests.support.stack import Stack, auth, error_details, stack_settings, start_stack

VISA = "4242424242424242"
DECLINE_AT_CHARGE = "4000000000000341"
THREE_D_SECURE = "4000002760003184"


def request_id() -> str:
    return f"req-{uuid.uuid4()}"


def account() -> str:
    return f"acct_{uuid.uuid4().hex[:12]}"


async def create(stack: Stack, **fields: object) -> pb.Payment:
    defaults: dict[str, object] = {
        "request_id": request_id(),
        "account_id": account(),
        "amount": 1050,
        "currency_code": "usd",
    }
    defaults.update(fields)
    response = await stack.payments.CreatePayment(
        pb.CreatePaymentRequest(**defaults), metadata=auth(), timeout=20
    )
    return response.payment


async def intents_for(localstripe: LocalStripe, payment_id: str) -> int:
    return await localstripe.count_payment_intents(metadata={"payment_id": payment_id})


async def test_create_and_confirm_succeeds_and_reads_back(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    acct = account()
    payment = await create(
        stack,
        account_id=acct,
        stripe_payment_method_id=pm,
        confirm=True,
        description="order 42",
        receipt_email="buyer@example.com",
        metadata={"order_id": "42"},
    )
    assert payment.id.startswith("pay_")
    assert payment.state == pb.PAYMENT_STATE_SUCCEEDED
    assert payment.amount == 1050
    assert payment.amount_received == 1050
    assert payment.currency_code == "usd"
    assert payment.refund_state == pb.PAYMENT_REFUND_STATE_NONE
    assert payment.stripe_payment_intent_id.startswith("pi_")
    assert payment.stripe_customer_id.startswith("cus_")
    assert payment.metadata == {"order_id": "42"}
    assert payment.description == "order 42"
    assert payment.client_secret == ""  # only shown while REQUIRES_ACTION
    assert await intents_for(localstripe, payment.id) == 1

    got = await stack.payments.GetPayment(
        pb.GetPaymentRequest(id=payment.id), metadata=auth(), timeout=10
    )
    assert got.payment == payment

    listed = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=acct), metadata=auth(), timeout=10
    )
    assert [p.id for p in listed.payments] == [payment.id]
    assert listed.next_page_token == ""

    customer = await stack.payments.GetCustomer(
        pb.GetCustomerRequest(account_id=acct), metadata=auth(), timeout=10
    )
    assert customer.customer.stripe_customer_id == payment.stripe_customer_id


async def test_zero_decimal_amount_goes_to_stripe_as_is(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    payment = await create(
        stack, amount=500, currency_code="JPY", stripe_payment_method_id=pm, confirm=True
    )
    assert payment.currency_code == "jpy"
    intent = await localstripe.retrieve("payment_intents", payment.stripe_payment_intent_id)
    assert intent["amount"] == 500
    assert intent["currency"] == "jpy"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 100_000_000}, "amount"),
        ({"currency_code": "xyz"}, "currency_code"),
        ({"currency_code": ""}, "currency_code"),
        ({"request_id": ""}, "request_id"),
        ({"account_id": ""}, "account_id"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
        # Stripe allows 50 keys in all and the service writes payment_id itself.
        ({"metadata": {f"k{i}": "v" for i in range(50)}}, "metadata"),
        ({"metadata": {"payment_id": "pay_forged"}}, "metadata[payment_id]"),
        ({"metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 40 + "]"),
        ({"metadata": {"note": "v" * 501}}, "metadata[note]"),
        ({"metadata": {"note": "card 4242 4242 4242 4242"}}, "metadata[note]"),
        ({"description": "pan 4000000000000341"}, "description"),
        ({"stripe_payment_method_id": "card_123"}, "stripe_payment_method_id"),
        ({"receipt_email": "not-an-email"}, "receipt_email"),
    ],
)
async def test_invalid_input_is_refused_and_changes_nothing(
    stack: Stack, localstripe: LocalStripe, fields: dict[str, object], field: str
) -> None:
    acct = account()
    before = await localstripe.count("payment_intents")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(stack, **{"account_id": acct, **fields})
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details.field_violations
    assert details.reason == "INVALID_ARGUMENT"
    if fields.get("account_id", acct):
        listed = await stack.payments.ListPayments(
            pb.ListPaymentsRequest(account_id=str(fields.get("account_id", acct))),
            metadata=auth(),
            timeout=10,
        )
        assert list(listed.payments) == []
    assert await localstripe.count("payment_intents") == before


async def test_same_request_id_replays_and_a_different_body_is_refused(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    request = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=account(),
        amount=700,
        currency_code="eur",
        stripe_payment_method_id=pm,
        confirm=True,
    )
    first = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    posts_before = len(localstripe.requests("POST", "/v1/payment_intents"))
    again = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    assert again == first
    assert len(localstripe.requests("POST", "/v1/payment_intents")) == posts_before

    changed = pb.CreatePaymentRequest()
    changed.CopyFrom(request)
    changed.amount = 701
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.CreatePayment(changed, metadata=auth(), timeout=20)
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.reason == "REQUEST_ID_REUSED"

    other_caller = (
        await stack.payments.CreatePayment(request, metadata=auth("svc-other"), timeout=20)
    ).payment
    assert other_caller.id != first.id
    assert await intents_for(localstripe, first.id) == 1
    assert await intents_for(localstripe, other_caller.id) == 1


async def test_twenty_concurrent_identical_creates_make_one_payment(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    acct = account()
    request = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=acct,
        amount=1234,
        currency_code="usd",
        stripe_payment_method_id=pm,
        confirm=True,
    )
    results = await asyncio.gather(
        *(stack.payments.CreatePayment(request, metadata=auth(), timeout=30) for _ in range(20))
    )
    ids = {r.payment.id for r in results}
    assert len(ids) == 1
    assert all(r.payment.state == pb.PAYMENT_STATE_SUCCEEDED for r in results)
    listed = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=acct), metadata=auth(), timeout=10
    )
    assert len(listed.payments) == 1
    assert await intents_for(localstripe, ids.pop()) == 1


async def test_declined_card_is_card_declined_and_replays_without_stripe(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(DECLINE_AT_CHARGE)
    acct = account()
    request = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=acct,
        amount=2000,
        currency_code="usd",
        stripe_payment_method_id=pm,
        confirm=True,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "CARD_DECLINED"
    assert details.metadata["decline_code"]
    assert details.metadata["code"] == "card_declined"
    payment_id = details.metadata["payment_id"]

    stored = (
        await stack.payments.GetPayment(
            pb.GetPaymentRequest(id=payment_id), metadata=auth(), timeout=10
        )
    ).payment
    assert stored.state == pb.PAYMENT_STATE_REQUIRES_PAYMENT_METHOD
    assert stored.last_error.code == "card_declined"
    assert stored.last_error.decline_code == details.metadata["decline_code"]

    requests_before = len(localstripe.requests())
    with pytest.raises(grpc.aio.AioRpcError) as replayed:
        await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)
    again = error_details(replayed.value)
    assert (again.code, again.reason, again.metadata["payment_id"]) == (
        details.code,
        details.reason,
        payment_id,
    )
    assert len(localstripe.requests()) == requests_before


async def test_three_d_secure_requires_action_then_learns_the_outcome_without_webhooks(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(THREE_D_SECURE)
    payment = await create(stack, stripe_payment_method_id=pm, confirm=True)
    assert payment.state == pb.PAYMENT_STATE_REQUIRES_ACTION
    assert payment.client_secret
    assert payment.next_action.type

    await localstripe.authenticate(payment.stripe_payment_intent_id, success=True)
    await asyncio.sleep(0.6)  # older than payment_refresh_after_s: the next Get asks Stripe
    got = (
        await stack.payments.GetPayment(
            pb.GetPaymentRequest(id=payment.id), metadata=auth(), timeout=10
        )
    ).payment
    assert got.state == pb.PAYMENT_STATE_SUCCEEDED
    assert got.amount_received == payment.amount
    assert got.client_secret == ""


async def test_list_pages_newest_first_with_filters(stack: Stack, localstripe: LocalStripe) -> None:
    acct = account()
    created = [await create(stack, account_id=acct, amount=100 + i) for i in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = await stack.payments.ListPayments(
            pb.ListPaymentsRequest(account_id=acct, page_size=2, page_token=token),
            metadata=auth(),
            timeout=10,
        )
        seen.extend(p.id for p in page.payments)
        token = page.next_page_token
        if not token:
            break
    assert seen == [p.id for p in reversed(created)]

    only = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=acct, states=[pb.PAYMENT_STATE_SUCCEEDED]),
        metadata=auth(),
        timeout=10,
    )
    assert list(only.payments) == []

    after = Timestamp()
    after.CopyFrom(created[2].create_time)
    newer = await stack.payments.ListPayments(
        pb.ListPaymentsRequest(account_id=acct, created_after=after), metadata=auth(), timeout=10
    )
    assert [p.id for p in newer.payments] == [p.id for p in reversed(created[2:])]

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.ListPayments(
            pb.ListPaymentsRequest(account_id=acct, page_size=-1), metadata=auth(), timeout=10
        )
    assert "page_size" in error_details(raised.value).field_violations
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.ListPayments(
            pb.ListPaymentsRequest(
                account_id=account(), page_token=(seen and page.next_page_token) or "garbage"
            ),
            metadata=auth(),
            timeout=10,
        )
    assert "page_token" in error_details(raised.value).field_violations


async def test_unknown_payment_is_not_found(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.GetPayment(
            pb.GetPaymentRequest(id="pay_01JUNKNOWN"), metadata=auth(), timeout=10
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_manual_capture_partial_then_illegal_moves(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    payment = await create(
        stack,
        stripe_payment_method_id=pm,
        confirm=True,
        capture_method=common_pb2.CAPTURE_METHOD_MANUAL,
        amount=5000,
    )
    assert payment.state == pb.PAYMENT_STATE_REQUIRES_CAPTURE
    assert payment.amount_capturable == 5000

    with pytest.raises(grpc.aio.AioRpcError) as too_much:
        await stack.payments.CapturePayment(
            pb.CapturePaymentRequest(
                request_id=request_id(), id=payment.id, amount_to_capture=5001
            ),
            metadata=auth(),
            timeout=10,
        )
    assert "amount_to_capture" in error_details(too_much.value).field_violations

    captured = (
        await stack.payments.CapturePayment(
            pb.CapturePaymentRequest(
                request_id=request_id(), id=payment.id, amount_to_capture=3000
            ),
            metadata=auth(),
            timeout=20,
        )
    ).payment
    assert captured.state == pb.PAYMENT_STATE_SUCCEEDED
    assert captured.amount_received == 3000

    for call in (
        stack.payments.CapturePayment(
            pb.CapturePaymentRequest(request_id=request_id(), id=payment.id), metadata=auth()
        ),
        stack.payments.CancelPayment(
            pb.CancelPaymentRequest(request_id=request_id(), id=payment.id), metadata=auth()
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    other = await create(
        stack,
        stripe_payment_method_id=await localstripe.create_card_payment_method(VISA),
        confirm=True,
        capture_method=common_pb2.CAPTURE_METHOD_MANUAL,
    )
    canceled = (
        await stack.payments.CancelPayment(
            pb.CancelPaymentRequest(
                request_id=request_id(),
                id=other.id,
                reason=pb.CANCELLATION_REASON_REQUESTED_BY_CUSTOMER,
            ),
            metadata=auth(),
            timeout=20,
        )
    ).payment
    assert canceled.state == pb.PAYMENT_STATE_CANCELED


async def test_confirm_later_with_a_payment_method(stack: Stack, localstripe: LocalStripe) -> None:
    pm = await localstripe.create_card_payment_method(VISA)
    payment = await create(stack, stripe_payment_method_id=pm, confirm=False)
    assert payment.state == pb.PAYMENT_STATE_REQUIRES_CONFIRMATION
    rid = request_id()
    confirmed = (
        await stack.payments.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=rid, id=payment.id), metadata=auth()
        )
    ).payment
    assert confirmed.state == pb.PAYMENT_STATE_SUCCEEDED
    replay = (
        await stack.payments.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=rid, id=payment.id), metadata=auth()
        )
    ).payment
    assert replay.id == confirmed.id
    assert replay.state == confirmed.state
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.payments.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=rid, id=payment.id, stripe_payment_method_id=pm),
            metadata=auth(),
        )
    assert error_details(raised.value).reason == "REQUEST_ID_REUSED"


async def test_create_replays_its_own_answer_after_a_later_decline(
    stack: Stack, localstripe: LocalStripe
) -> None:
    """AIP-155: a replay gives the original answer, not one shaped by what happened since."""
    request = pb.CreatePaymentRequest(
        request_id=request_id(),
        account_id=account(),
        amount=1800,
        currency_code="usd",
        stripe_payment_method_id=await localstripe.create_card_payment_method(DECLINE_AT_CHARGE),
    )
    created = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    assert created.state == pb.PAYMENT_STATE_REQUIRES_CONFIRMATION
    with pytest.raises(grpc.aio.AioRpcError) as declined:
        await stack.payments.ConfirmPayment(
            pb.ConfirmPaymentRequest(request_id=request_id(), id=created.id),
            metadata=auth(),
            timeout=20,
        )
    assert error_details(declined.value).reason == "CARD_DECLINED"
    replay = (await stack.payments.CreatePayment(request, metadata=auth(), timeout=20)).payment
    assert replay.id == created.id
    assert replay.state == pb.PAYMENT_STATE_REQUIRES_PAYMENT_METHOD


async def test_two_replicas_racing_one_request_make_one_payment_intent(
    stack: Stack, database_url: str, localstripe: LocalStripe, outage_proxy: OutageProxy
) -> None:
    """Two servers on one database: no in-process lock is shared, the database decides."""
    other = await start_stack(stack_settings(database_url, outage_proxy.base_url))
    try:
        pm = await localstripe.create_card_payment_method(VISA)
        request = pb.CreatePaymentRequest(
            request_id=request_id(),
            account_id=account(),
            amount=2500,
            currency_code="usd",
            stripe_payment_method_id=pm,
            confirm=True,
        )
        before = await localstripe.count("payment_intents")
        results = await asyncio.gather(
            *(
                replica.payments.CreatePayment(request, metadata=auth(), timeout=30)
                for replica in [stack, other] * 10
            )
        )
        assert len({r.payment.id for r in results}) == 1
        assert {r.payment.state for r in results} == {pb.PAYMENT_STATE_SUCCEEDED}
        assert await localstripe.count("payment_intents") == before + 1
    finally:
        await other.stop()


async def test_another_accounts_saved_card_cannot_be_charged(
    stack: Stack, localstripe: LocalStripe
) -> None:
    owner, stranger = account(), account()
    pm = await localstripe.create_card_payment_method(VISA)
    await stack.payments.AttachPaymentMethod(
        pb.AttachPaymentMethodRequest(
            request_id=request_id(), account_id=owner, stripe_payment_method_id=pm
        ),
        metadata=auth(),
    )
    before = await localstripe.count("payment_intents")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await create(stack, account_id=stranger, stripe_payment_method_id=pm, confirm=True)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert await localstripe.count("payment_intents") == before
    with pytest.raises(grpc.aio.AioRpcError) as attach:
        await stack.payments.AttachPaymentMethod(
            pb.AttachPaymentMethodRequest(
                request_id=request_id(), account_id=stranger, stripe_payment_method_id=pm
            ),
            metadata=auth(),
        )
    assert attach.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_reads_of_a_stale_payment_ask_stripe_once(
    stack: Stack, localstripe: LocalStripe
) -> None:
    pm = await localstripe.create_card_payment_method(THREE_D_SECURE)
    payment = await create(stack, stripe_payment_method_id=pm, confirm=True)
    assert payment.state == pb.PAYMENT_STATE_REQUIRES_ACTION
    await asyncio.sleep(0.6)  # older than payment_refresh_after_s
    path = f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    before = len([r for r in localstripe.requests("GET", path)])
    await asyncio.gather(
        *(
            stack.payments.GetPayment(pb.GetPaymentRequest(id=payment.id), metadata=auth())
            for _ in range(10)
        )
    )
    await asyncio.sleep(0.2)  # localstripe's access log is read from its stderr
    assert len(localstripe.requests("GET", path)) - before == 1
