"""Authentication, scopes and account isolation over every RPC of the four services, from
the scope table: no token, an expired one, the wrong audience and a missing scope each get
their code before anything else runs; a token for one account on another account's
objects (or naming another account) gets NOT_FOUND, as if they were not there."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.states import PaymentState
from payment_service.security.scopes import ALL_SCOPES, SCOPE_BY_METHOD
from tests.e2e.validation.support import call, methods, path, request_class
from tests.integration.db import builders
from tests.support.server import bearer, make_token
from tests.support.stack import Stack

METHODS = list(methods())
OWNER = "acct_owner"
OTHER = "acct_other_tenant"
# Each RPC's "id" names an object of its service (payment methods for their own three).
_ID_KIND = {
    "PaymentService": "payment",
    "RefundService": "refund",
    "SubscriptionService": "subscription",
    "InvoiceService": "invoice",
    "DisputeService": "dispute",
}
_SETUP_INTENT_RPCS = {"GetSetupIntent"}
_PAYMENT_METHOD_RPCS = {"AttachPaymentMethod", "DetachPaymentMethod", "SetDefaultPaymentMethod"}
# Fields an RPC takes one of: left empty so the other is the one judged.
_LEFT_EMPTY = {"ListRefunds": {"account_id"}, "ListDisputes": {"account_id"}}
# RPCs with neither an object id nor an account: nothing to isolate.
_UNSCOPED = {"ListPrices", "ListDelinquentSubscriptions"}


def _without(scope: str) -> list[str]:
    return sorted(ALL_SCOPES - {scope})


BAD_TOKENS = {
    "no token": (),
    "expired": bearer(make_token(ttl_s=-3600)),
    "wrong audience": bearer(make_token(audience="another-service")),
    "wrong issuer": bearer(make_token(issuer="someone-else")),
}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize("bad", list(BAD_TOKENS), ids=str)
async def test_every_rpc_refuses_a_bad_token(
    edge: Stack, method: MethodDescriptor, bad: str
) -> None:
    answer = await call(edge.channel, method, request_class(method)(), BAD_TOKENS[bad])

    assert answer.code == grpc.StatusCode.UNAUTHENTICATED, answer.shown


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
async def test_every_rpc_needs_its_scope(edge: Stack, method: MethodDescriptor) -> None:
    scope = SCOPE_BY_METHOD[path(method)]
    metadata = bearer(make_token(_without(scope)))

    answer = await call(edge.channel, method, request_class(method)(), metadata)

    assert answer.code == grpc.StatusCode.PERMISSION_DENIED, answer.shown
    assert scope in answer.message


async def _seed_other_tenant(uow_factory: SqlUnitOfWorkFactory) -> dict[str, str]:
    """One object of each kind, all of OTHER's."""
    customer = builders.customer(OTHER)
    method = builders.payment_method(customer)
    paid = builders.payment(
        customer, state=PaymentState.SUCCEEDED, amount_capturable=0, amount_received=1050
    )
    refund = builders.refund(paid)
    price = builders.price()
    subscription = builders.subscription(customer, price)
    invoice = builders.invoice(customer, subscription)
    dispute = builders.dispute(paid)
    setup = builders.setup_intent(customer)
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.payment_methods.add(method)
        await uow.payments.add(paid)
        await uow.refunds.add(refund)
        await uow.prices.add(price)
        await uow.subscriptions.add(subscription)
        await uow.invoices.add(invoice)
        await uow.disputes.add(dispute)
        await uow.setup_intents.add(setup)
        await uow.commit()
    return {
        "payment": paid.id,
        "refund": refund.id,
        "payment_method": method.id,
        "subscription": subscription.id,
        "invoice": invoice.id,
        "price": price.id,
        "stripe_payment_method": method.stripe_payment_method_id,
        "dispute": dispute.id,
        "setup_intent": setup.id,
    }


def _aimed_at_other(method: MethodDescriptor, ids: dict[str, str]) -> Message:
    """A well-formed request whose ids (or account) are all OTHER's."""
    request = request_class(method)()
    kind = (
        "payment_method"
        if method.name in _PAYMENT_METHOD_RPCS
        else "setup_intent"
        if method.name in _SETUP_INTENT_RPCS
        else _ID_KIND[method.containing_service.name]
    )
    values = {
        "id": ids[kind],
        "account_id": OTHER,
        "payment_id": ids["payment"],
        "subscription_id": ids["subscription"],
        "price_id": ids["price"],
        "stripe_payment_method_id": ids["stripe_payment_method"],
        "request_id": f"iso-{uuid.uuid4()}",
        "currency_code": "usd",
    }
    for field in request.DESCRIPTOR.fields:
        if field.name in _LEFT_EMPTY.get(method.name, ()):
            continue
        if field.name in values and field.type == FieldDescriptor.TYPE_STRING:
            setattr(request, field.name, values[field.name])
        elif field.name in ("amount", "quantity") and field.type == FieldDescriptor.TYPE_INT64:
            setattr(request, field.name, 1000 if field.name == "amount" else 1)
        elif field.name == "submit":  # evidence to submit, so the request asks something
            setattr(request, field.name, True)
        elif field.name == "resume_time":
            request.resume_time.CopyFrom(Timestamp(seconds=4_102_444_800))  # 2100
    return request


def _isolated() -> list[MethodDescriptor]:
    return [m for m in METHODS if m.name not in _UNSCOPED]


@pytest.mark.parametrize("method", _isolated(), ids=lambda m: m.name)
async def test_another_accounts_objects_are_not_found(
    edge: Stack, uow_factory: SqlUnitOfWorkFactory, method: MethodDescriptor
) -> None:
    ids = await _seed_other_tenant(uow_factory)
    restricted = bearer(make_token(account_id=OWNER))

    answer = await call(edge.channel, method, _aimed_at_other(method, ids), restricted)

    assert answer.code == grpc.StatusCode.NOT_FOUND, answer.shown


async def test_an_account_token_may_not_read_the_dunning_view(edge: Stack) -> None:
    [method] = [m for m in METHODS if m.name == "ListDelinquentSubscriptions"]

    answer = await call(
        edge.channel, method, request_class(method)(), bearer(make_token(account_id=OWNER))
    )

    assert (answer.code, answer.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_RESTRICTED")
