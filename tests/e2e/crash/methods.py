"""AttachPaymentMethod, SetDefaultPaymentMethod and DetachPaymentMethod crashed after
Stripe answered; meanwhile Stripe's webhook for the change reaches the restarted stack."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from payments.v1 import payment_service_pb2 as pb

from payment_service.domain.entities import Customer, PaymentMethod
from payment_service.domain.states import PaymentMethodState
from tests.e2e.crash.matrix import Case, Retry, Write
from tests.e2e.crash.support import World, audit_actions, request_id


async def _customer(world: World) -> Customer:
    async def read(uow: Any) -> Customer | None:
        found: Customer | None = await uow.customers.get_by_account(world.account_id)
        return found

    return await world.stored(read)


async def _methods(world: World, stripe_id: str) -> list[PaymentMethod]:
    """Our rows for a Stripe payment method (one at most)."""
    async with world.uow_factory(read_only=True) as uow:
        found = await uow.payment_methods.find_by_stripe_id(stripe_id)
    return [found] if found is not None else []


async def _stripe_default(world: World, customer: Customer) -> Any:
    assert customer.stripe_customer_id is not None
    remote = await world.localstripe.retrieve("customers", customer.stripe_customer_id)
    return remote["invoice_settings"]["default_payment_method"]


async def attach(world: World) -> Write:
    pm = await world.localstripe.create_card_payment_method()
    request = pb.AttachPaymentMethodRequest(
        request_id=request_id(),
        account_id=world.account_id,
        stripe_payment_method_id=pm,
        set_default=True,
    )

    async def send() -> Message:
        response = await world.payments.AttachPaymentMethod(
            request, metadata=world.auth(), timeout=20
        )
        method: pb.PaymentMethod = response.payment_method
        return method

    async def arrive() -> None:
        """Stripe's payment_method.attached stores the method."""
        await world.deliver(
            "payment_method.attached", await world.localstripe.retrieve("payment_methods", pm)
        )
        assert [m.state for m in await _methods(world, pm)] == [PaymentMethodState.ATTACHED]

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.PaymentMethod)
        assert answer.state == pb.PAYMENT_METHOD_STATE_ATTACHED
        assert answer.is_default
        customer = await _customer(world)
        remote = await world.localstripe.retrieve("payment_methods", pm)
        assert remote["customer"] == customer.stripe_customer_id
        assert await _stripe_default(world, customer) == pm
        (method,) = await _methods(world, pm)
        assert method.id == answer.id
        assert customer.default_payment_method_id == method.id
        actions = await audit_actions(world.uow_factory, "payment_method", method.id)
        assert actions.count("payment_methods.attach") == 1, actions

    return Write(send, arrive, check)


async def set_default(world: World) -> Write:
    await world.card(default=True)
    second = await world.card(default=False)
    request = pb.SetDefaultPaymentMethodRequest(
        request_id=request_id(), account_id=world.account_id, id=second.id
    )

    async def send() -> Message:
        response = await world.payments.SetDefaultPaymentMethod(
            request, metadata=world.auth(), timeout=20
        )
        customer: pb.Customer = response.customer
        return customer

    async def arrive() -> None:
        """Stripe's customer.updated: the handler re-reads the customer and its default."""
        customer = await _customer(world)
        assert customer.stripe_customer_id is not None
        remote = await world.localstripe.retrieve("customers", customer.stripe_customer_id)
        await world.deliver("customer.updated", remote)
        assert (await _customer(world)).default_payment_method_id == second.id

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.Customer)
        assert answer.default_payment_method_id == second.id
        customer = await _customer(world)
        assert customer.default_payment_method_id == second.id
        assert await _stripe_default(world, customer) == second.stripe_payment_method_id
        actions = await audit_actions(world.uow_factory, "customer", customer.id)
        assert actions.count("payment_methods.set_default") == 1, actions

    return Write(send, arrive, check)


async def detach(world: World) -> Write:
    method = await world.card(default=True)
    pm = method.stripe_payment_method_id
    request = pb.DetachPaymentMethodRequest(request_id=request_id(), id=method.id)

    async def send() -> Message:
        response = await world.payments.DetachPaymentMethod(
            request, metadata=world.auth(), timeout=20
        )
        detached: pb.PaymentMethod = response.payment_method
        return detached

    async def arrive() -> None:
        """Stripe's payment_method.detached marks the method detached."""
        await world.deliver(
            "payment_method.detached", await world.localstripe.retrieve("payment_methods", pm)
        )
        assert [m.state for m in await _methods(world, pm)] == [PaymentMethodState.DETACHED]

    async def check(answer: Message) -> None:
        assert isinstance(answer, pb.PaymentMethod)
        assert answer.state == pb.PAYMENT_METHOD_STATE_DETACHED
        assert not answer.is_default
        remote = await world.localstripe.retrieve("payment_methods", pm)
        assert remote["customer"] is None
        assert [m.state for m in await _methods(world, pm)] == [PaymentMethodState.DETACHED]
        assert (await _customer(world)).default_payment_method_id is None
        actions = await audit_actions(world.uow_factory, "payment_method", method.id)
        assert actions.count("payment_methods.detach") == 1, actions

    return Write(send, arrive, check)


# Attach and SetDefault record no pending request: every retry sends their calls again.
_ALWAYS = frozenset(Retry)
CASES = (
    Case("payment_methods.attach", "payment_methods.attach.after_stripe", attach, _ALWAYS),
    Case(
        "payment_methods.set_default",
        "payment_methods.set_default.after_stripe",
        set_default,
        _ALWAYS,
    ),
    Case("payment_methods.detach", "payment_methods.detach.after_stripe", detach),
)
