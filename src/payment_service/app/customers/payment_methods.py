"""Saved payment methods: attach, list, detach, choose the default.

Only Stripe's token and display facts are stored (brand, last4, expiry,
fingerprint, billing name), never a card number or CVC.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.audit import audit_entry
from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.mutation import Mutations, Subject
from payment_service.app.common.replay import MutationRequest, RequestLedger, record, recorded
from payment_service.app.common.validation import Violations, check_command
from payment_service.app.customers.accounts import Customers
from payment_service.app.customers.detach import DetachAnswers
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.list_filters import PaymentMethodFilter
from payment_service.app.ports.processor import PaymentProcessor, idempotency_key
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Customer, PaymentMethod
from payment_service.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    InvalidTransition,
    NotFound,
    found,
)
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.processor import RemotePaymentMethod
from payment_service.domain.states import PaymentMethodState

_PAYMENT_METHODS: Subject[PaymentMethod] = Subject(
    "payment_method", "payment_methods", lambda uow: uow.payment_methods
)


@dataclass(frozen=True, slots=True)
class PaymentMethodView:
    method: PaymentMethod
    is_default: bool


@dataclass
class PaymentMethods:
    uow_factory: UnitOfWorkFactory
    processor: PaymentProcessor
    customers: Customers
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        self._ledger = RequestLedger(self.uow_factory)
        self._locks = KeyedLocks()
        answers = DetachAnswers(self.uow_factory)
        self._detaching = Mutations(self.uow_factory, _PAYMENT_METHODS, answers, self.failpoints)

    async def attach(
        self,
        caller: Caller,
        request_id: str,
        account_id: str,
        stripe_payment_method_id: str,
        set_default: bool,
    ) -> PaymentMethodView:
        check = Violations()
        check.request_id(request_id)
        check.account_id(account_id)
        check.payment_method(stripe_payment_method_id, required=True)
        check.raise_if_any()
        caller.require_account(account_id)
        request = MutationRequest.of(
            caller,
            "AttachPaymentMethod",
            request_id,
            {"account_id": account_id, "pm": stripe_payment_method_id, "default": set_default},
        )
        async with self._locks.hold((caller.sub, request_id)):
            replay = await self._replay(request)
            if replay is not None:
                return replay
            customer = await self.customers.get_or_create(caller, account_id)
            async with self.uow_factory(read_only=True) as uow:
                known = await uow.payment_methods.find_by_stripe_id(stripe_payment_method_id)
            if known is not None and known.account_id != account_id:
                # Another account's method is simply not there for this one (nothing leaks).
                raise NotFound("payment_method", stripe_payment_method_id)
            if known is not None and known.state is PaymentMethodState.DETACHED:
                raise FailedPrecondition(
                    "a detached payment method cannot be attached again; create a new one",
                    reason="PAYMENT_METHOD_DETACHED",
                    metadata={"id": known.id},
                )
            remote = await self._attach_at_stripe(customer, stripe_payment_method_id)
            make_default = set_default or customer.default_payment_method_id is None
            if make_default:
                await self.processor.set_default_payment_method(
                    _stripe_customer(customer),
                    remote.stripe_id,
                    idempotency_key=idempotency_key(
                        customer.id, f"default:{remote.stripe_id}:{request_id}"
                    ),
                )
            self.failpoints.hit("payment_methods.attach.after_stripe")
            return await self._store_attached(caller, request, customer, remote, make_default)

    async def _store_attached(
        self,
        caller: Caller,
        request: MutationRequest,
        customer: Customer,
        remote: RemotePaymentMethod,
        make_default: bool,
    ) -> PaymentMethodView:
        async with self.uow_factory() as uow:
            # A payment_method.attached webhook may have stored it meanwhile; use that row.
            method = await uow.payment_methods.find_by_stripe_id(remote.stripe_id)
            if method is None:
                method = PaymentMethod.from_remote(
                    remote, account_id=customer.account_id, customer_id=customer.id
                )
                await uow.payment_methods.add(method)
            elif method.account_id != customer.account_id:
                raise NotFound("payment_method", remote.stripe_id)
            stored_customer = await _customer(uow, customer.id)
            if make_default:
                await _set_default(uow, stored_customer, method.id)
            await _commit_answer(uow, request, method.id, "payment_methods.attach")
        return PaymentMethodView(method, stored_customer.default_payment_method_id == method.id)

    async def _attach_at_stripe(
        self, customer: Customer, stripe_payment_method_id: str
    ) -> RemotePaymentMethod:
        try:
            return await self.processor.attach_payment_method(
                stripe_payment_method_id,
                customer=_stripe_customer(customer),
                idempotency_key=idempotency_key(customer.id, f"attach:{stripe_payment_method_id}"),
            )
        except NotFound:
            raise InvalidArgument.field(
                "stripe_payment_method_id", "no such payment method at Stripe"
            ) from None

    async def list(
        self, caller: Caller, account_id: str, include_detached: bool, page: PageRequest
    ) -> Page[PaymentMethodView]:
        check = Violations()
        check.account_id(account_id)
        check.raise_if_any()
        caller.require_account(account_id)
        states = () if include_detached else (PaymentMethodState.ATTACHED,)
        where = PaymentMethodFilter(account_id=account_id, states=states)
        async with self.uow_factory(read_only=True) as uow:
            customer = await uow.customers.get_by_account(account_id)
            listed = await uow.payment_methods.list_for_account(where, page=page)
        default_id = customer.default_payment_method_id if customer else None
        return Page(
            [PaymentMethodView(m, m.id == default_id) for m in listed.items], listed.next_page_token
        )

    async def detach(
        self, caller: Caller, request_id: str, payment_method_id: str
    ) -> PaymentMethodView:
        check_command(request_id, payment_method_id, "pmt")
        request = MutationRequest.of(
            caller, "DetachPaymentMethod", request_id, {"id": payment_method_id}
        )

        async def call(method: PaymentMethod, key: str) -> RemotePaymentMethod:
            return await self.processor.detach_payment_method(
                method.stripe_payment_method_id, idempotency_key=key
            )

        def attached(method: PaymentMethod) -> None:
            if method.state is PaymentMethodState.DETACHED:
                raise InvalidTransition("payment_method", method.id, method.state.value, "detached")

        detached = await self._detaching.run(
            caller, request, payment_method_id, call, _detached, attached
        )
        return PaymentMethodView(detached, False)

    async def set_default(
        self, caller: Caller, request_id: str, account_id: str, payment_method_id: str
    ) -> Customer:
        check = Violations()
        check.request_id(request_id)
        check.account_id(account_id)
        check.object_id(payment_method_id, "pmt")
        check.raise_if_any()
        caller.require_account(account_id)
        request = MutationRequest.of(
            caller,
            "SetDefaultPaymentMethod",
            request_id,
            {"account_id": account_id, "id": payment_method_id},
        )
        async with self._locks.hold((caller.sub, request_id)):
            if await self._ledger.find(request) is not None:
                return await self.customers.get(caller, account_id)
            method = await self._visible(caller, payment_method_id)
            if method.account_id != account_id:
                raise NotFound("payment_method", payment_method_id)
            if method.state is not PaymentMethodState.ATTACHED:
                raise FailedPrecondition(
                    f"payment method {method.id} is detached",
                    reason="PAYMENT_METHOD_DETACHED",
                    metadata={"id": method.id},
                )
            customer = await self.customers.get(caller, account_id)
            await self.processor.set_default_payment_method(
                _stripe_customer(customer),
                method.stripe_payment_method_id,
                idempotency_key=idempotency_key(customer.id, f"default:{method.id}:{request_id}"),
            )
            self.failpoints.hit("payment_methods.set_default.after_stripe")
            async with self.uow_factory() as uow:
                stored = await _customer(uow, customer.id)
                await _set_default(uow, stored, method.id)
                await _commit_answer(
                    uow, request, method.id, "payment_methods.set_default", ("customer", stored.id)
                )
            return stored

    async def _replay(self, request: MutationRequest) -> PaymentMethodView | None:
        async with self.uow_factory(read_only=True) as uow:
            answered = await recorded(uow, request)
            if answered is None:
                return None
            method = found(
                await uow.payment_methods.get(answered.resource_id),
                "payment_method",
                answered.resource_id,
            )
            customer = await uow.customers.get(method.customer_id)
        return PaymentMethodView(
            method, customer is not None and customer.default_payment_method_id == method.id
        )

    async def _visible(self, caller: Caller, payment_method_id: str) -> PaymentMethod:
        async with self.uow_factory(read_only=True) as uow:
            method = await uow.payment_methods.get(payment_method_id)
        if method is None or not caller.may_access(method.account_id):
            raise NotFound("payment_method", payment_method_id)
        return method


def _detached(method: PaymentMethod) -> bool:
    return method.state is PaymentMethodState.DETACHED


async def _set_default(uow: UnitOfWork, customer: Customer, method_id: str | None) -> None:
    customer.default_payment_method_id = method_id
    customer.touch()
    await uow.customers.update(customer)


async def _commit_answer(
    uow: UnitOfWork,
    request: MutationRequest,
    method_id: str,
    action: str,
    subject: tuple[str, str] | None = None,
) -> None:
    """Record the answer (the payment method), audit the action by the request's caller
    on its subject (the payment method unless told), commit."""
    await record(uow, request, method_id)
    await uow.audit.add(
        audit_entry(request.caller, action, subject or ("payment_method", method_id))
    )
    await uow.commit()


async def _customer(uow: UnitOfWork, customer_id: str) -> Customer:
    customer = found(await uow.customers.get(customer_id), "customer", customer_id)
    return customer


def _stripe_customer(customer: Customer) -> str:
    if customer.stripe_customer_id is None:
        raise NotFound("customer", customer.account_id)
    return customer.stripe_customer_id
