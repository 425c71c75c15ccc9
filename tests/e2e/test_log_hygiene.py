"""Log hygiene: the real server at DEBUG, driven through payments with a receipt email, a
3-D Secure card (a client secret), refunds, signed webhooks, refused tokens and refused
card numbers; then every line it wrote (stdout and stderr) is searched for secrets and
personal data. None may appear."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from payments.v1 import payment_service_pb2 as pb
from payments.v1 import payment_service_pb2_grpc, refund_service_pb2, refund_service_pb2_grpc

from payment_service.domain.card_numbers import contains_card_number
from tests.e2e.test_webhooks_delivery import WEBHOOK_PATH, webhook_server_env
from tests.integration.webhooks.support import SECRET, event, signed
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

EMAIL = "hygiene.buyer+7@example.com"
VISA = "4242424242424242"
THREE_D_SECURE = "4000002760003184"
FORBIDDEN = {
    "a JWT": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}"),
    "a Stripe secret key": re.compile(r"\bsk_(test|live)_\w+"),
    "a webhook secret": re.compile(r"\bwhsec_\w+"),
    "a client secret": re.compile(r"_secret_\w{6,}"),
    "an email address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
}


async def _drive(server: ServerProcess, localstripe: LocalStripe) -> list[str]:
    """The flows; returns the secrets the service saw, to look for them verbatim."""
    token = make_token()
    seen = [token, localstripe.api_key, SECRET, EMAIL]
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        payments = payment_service_pb2_grpc.PaymentServiceStub(channel)
        refunds = refund_service_pb2_grpc.RefundServiceStub(channel)
        auth = bearer(token)

        async def create(card: str, **fields: Any) -> pb.Payment:
            pm = await localstripe.create_card_payment_method(card)
            request = pb.CreatePaymentRequest(
                request_id=f"req-{uuid.uuid4()}",
                account_id=f"acct_{uuid.uuid4().hex[:12]}",
                amount=2500,
                currency_code="usd",
                stripe_payment_method_id=pm,
                receipt_email=EMAIL,
                **fields,
            )
            return (await payments.CreatePayment(request, metadata=auth, timeout=20)).payment

        paid = await create(VISA, confirm=True)
        challenged = await create(THREE_D_SECURE, confirm=True)
        seen.append(challenged.client_secret)
        await refunds.CreateRefund(
            refund_service_pb2.CreateRefundRequest(
                request_id=f"ref-{uuid.uuid4()}", payment_id=paid.id, amount=500
            ),
            metadata=auth,
            timeout=20,
        )
        await payments.GetPayment(pb.GetPaymentRequest(id=challenged.id), metadata=auth)
        for refused in (
            pb.CreatePaymentRequest(request_id=VISA, account_id="acct_x", amount=1),
            pb.CreatePaymentRequest(
                request_id="r", account_id="acct_x", receipt_email=f"{VISA}@x.io"
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError):
                await payments.CreatePayment(refused, metadata=auth, timeout=10)
        forged = make_token(sub="intruder") + "x"
        with pytest.raises(grpc.aio.AioRpcError):
            await payments.GetPayment(pb.GetPaymentRequest(id=paid.id), metadata=bearer(forged))
        seen.append(forged)
    body, headers = signed(event("payment_intent.succeeded"))
    async with aiohttp.ClientSession() as session:
        async with session.post(server.http_url + WEBHOOK_PATH, data=body, headers=headers):
            pass
        bad = {**headers, "Stripe-Signature": headers["Stripe-Signature"] + "0"}
        async with session.post(server.http_url + WEBHOOK_PATH, data=body, headers=bad):
            pass
    return [s for s in seen if s]


def _problems(lines: list[str], seen: list[str]) -> list[str]:
    problems = []
    for number, line in enumerate(lines, 1):
        for what, pattern in FORBIDDEN.items():
            if pattern.search(line):
                problems.append(f"line {number} holds {what}: {line[:300]}")
        if contains_card_number(line):
            problems.append(f"line {number} holds a card number: {line[:300]}")
        problems.extend(
            f"line {number} holds a secret the service was given: {line[:300]}"
            for secret in seen
            if secret in line
        )
    return problems


async def test_no_secret_or_personal_data_reaches_a_log_line(
    database_url: str, localstripe: LocalStripe
) -> None:
    env = webhook_server_env(database_url, localstripe, log_level="DEBUG")
    webhook_id = f"hygiene-{secrets.token_hex(4)}"
    with ServerProcess.start(env) as server:
        url = server.http_url + WEBHOOK_PATH
        await localstripe.register_webhook(webhook_id, url, SECRET)
        try:
            seen = await _drive(server, localstripe)
        finally:
            await localstripe.register_webhook(webhook_id, url, SECRET, events=["test.never"])
        lines = server.output().splitlines()

    assert len(lines) > 20, "the server wrote too little to judge"
    assert _problems(lines, seen) == []


def test_the_search_would_find_each_kind_of_leak() -> None:
    token = make_token()
    leaks = [
        f'{{"msg": "rpc", "auth": "{token}"}}',
        "stripe key sk_test_abc123 in a line",
        "secret whsec_0123 in a line",
        "client secret pi_123_secret_abcdefgh",
        f"receipt to {EMAIL}",
        f"card {VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}",
        "given: s3cr3t-value",
    ]

    found = _problems(leaks, ["s3cr3t-value"])

    assert {int(p.split()[1]) for p in found} == set(range(1, len(leaks) + 1))
