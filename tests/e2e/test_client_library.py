"""payments_client against the real server process and localstripe: a payment made through
the client's channel, and a declining card raised as a typed CardDeclined."""

from __future__ import annotations

from collections.abc import Iterator

import payments_client
import pytest
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc as rpc

from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, make_token, migrated_sqlite_url, server_env

VISA = "4242424242424242"
DECLINE_AT_CHARGE = "4000000000000341"


@pytest.fixture(scope="module")
def payment_server(localstripe: LocalStripe) -> Iterator[ServerProcess]:
    env = server_env(
        database_url=migrated_sqlite_url(),
        stripe_api_key=localstripe.api_key,
        stripe_api_base=localstripe.base_url,
        stripe_max_network_retries="0",
        reconcile_interval_s="0",
    )
    with ServerProcess.start(env) as process:
        yield process


async def token() -> str:
    return make_token("payments:read payments:write", sub="svc-client-library")


async def test_a_payment_succeeds_and_a_declined_card_is_card_declined(
    payment_server: ServerProcess, localstripe: LocalStripe
) -> None:
    account = f"acct_{payments_client.new_request_id()[:8]}"
    async with payments_client.aio_channel(
        payment_server.grpc_target, token_provider=token, default_timeout_s=20
    ) as channel:
        payments = rpc.PaymentServiceStub(channel)
        paid = await payments.CreatePayment(
            pb.CreatePaymentRequest(
                request_id=payments_client.request_id_for(account, "first"),
                account_id=account,
                amount=1050,
                currency_code="usd",
                stripe_payment_method_id=await localstripe.create_card_payment_method(VISA),
                confirm=True,
            )
        )
        assert paid.payment.state == pb.PAYMENT_STATE_SUCCEEDED

        declining = pb.CreatePaymentRequest(
            account_id=account,
            amount=2000,
            currency_code="usd",
            stripe_payment_method_id=await localstripe.create_card_payment_method(
                DECLINE_AT_CHARGE
            ),
            confirm=True,
        )
        payments_client.ensure_request_id(declining)
        with pytest.raises(payments_client.CardDeclined) as declined:
            await payments.CreatePayment(declining)
        assert declined.value.card_error_code == "card_declined"
        assert declined.value.decline_code
        assert declined.value.payment_id.startswith("pay_")

        with pytest.raises(payments_client.NotFound) as missing:
            await payments.GetPayment(pb.GetPaymentRequest(id="pay_doesnotexist"))
        assert missing.value.resource == "payment"
