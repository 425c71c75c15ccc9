"""Issue 11, defects 3 and 4, over gRPC.

Defect 3: GetCustomer took any account_id and echoed it in its NOT_FOUND message, so a
5,000-character id made the trailers overflow the client's 8 KiB limit (the caller saw
RESOURCE_EXHAUSTED) and an id with forbidden characters was NOT_FOUND where every other
RPC says INVALID_ARGUMENT.

Defect 4: a card number was accepted as a request_id (plain or dashed) and in the local
part of a receipt_email, stored, and written to the access log.
"""

from __future__ import annotations

import logging

import grpc
import pytest
from payments.v1 import payment_service_pb2 as pb
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.observability.logs import JsonFormatter
from tests.e2e.validation.support import call, row_counts
from tests.support.stack import Stack, auth

PAYMENTS = pb.DESCRIPTOR.services_by_name["PaymentService"].methods_by_name
PAN_FORMS = ("4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242")
FORBIDDEN_ACCOUNT_IDS = ("acct/x", "acct\\x", "acct x", "acct\nx", "äcct", "acct;x", "acct%00")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record as the service writes it (a JSON line with its extras)."""
    formatter = JsonFormatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


async def test_get_customer_refuses_a_huge_account_id_without_echoing_it(edge: Stack) -> None:
    huge = "a" * 5000
    for metadata in (auth(), auth(account_id="acct_own")):  # unrestricted and restricted callers
        answer = await call(
            edge.channel, PAYMENTS["GetCustomer"], pb.GetCustomerRequest(account_id=huge), metadata
        )
        assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, answer.shown
        assert set(answer.violations) == {"account_id"}
        assert "a" * 65 not in answer.message
        assert answer.trailer_bytes < 2048


async def test_get_customer_says_invalid_argument_like_every_rpc_taking_an_account_id(
    edge: Stack,
) -> None:
    for account_id in FORBIDDEN_ACCOUNT_IDS:
        get = await call(
            edge.channel,
            PAYMENTS["GetCustomer"],
            pb.GetCustomerRequest(account_id=account_id),
            auth(),
        )
        listed = await call(
            edge.channel,
            PAYMENTS["ListPaymentMethods"],
            pb.ListPaymentMethodsRequest(account_id=account_id),
            auth(),
        )
        assert listed.code is grpc.StatusCode.INVALID_ARGUMENT, (account_id, listed.shown)
        assert get.code is grpc.StatusCode.INVALID_ARGUMENT, (account_id, get.shown)
        assert set(get.violations) == {"account_id"}, account_id


async def test_a_card_number_as_request_id_is_refused_unstored_and_unlogged(
    edge: Stack, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = await row_counts(engine)
    for pan in PAN_FORMS:
        request = pb.CreatePaymentRequest(
            request_id=pan, account_id="acct_edge", amount=1050, currency_code="usd"
        )
        answer = await call(edge.channel, PAYMENTS["CreatePayment"], request, auth())
        assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, (pan, answer.shown)
        assert "request_id" in answer.violations, (pan, answer.shown)
        assert pan not in answer.message
    assert await row_counts(engine) == before
    text = logged(caplog)
    assert text.count('"logger": "payment_service.access"') >= len(PAN_FORMS)
    for pan in PAN_FORMS:
        assert pan not in text


async def test_a_card_number_in_a_receipt_email_is_refused_unstored_and_unlogged(
    edge: Stack, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = await row_counts(engine)
    for number, pan in enumerate(PAN_FORMS):
        request = pb.CreatePaymentRequest(
            request_id=f"req-email-{number}",
            account_id="acct_edge",
            amount=1050,
            currency_code="usd",
            receipt_email=f"{pan}@example.com",
        )
        answer = await call(edge.channel, PAYMENTS["CreatePayment"], request, auth())
        assert answer.code is grpc.StatusCode.INVALID_ARGUMENT, (pan, answer.shown)
        assert "receipt_email" in answer.violations, (pan, answer.shown)
    assert await row_counts(engine) == before
    for pan in PAN_FORMS:
        assert pan not in logged(caplog)
