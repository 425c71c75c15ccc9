"""The fakes are the ports: mypy checks the assignments below (``mypy --strict tests/unit/fakes``),
these tests check what mypy cannot: the same method signatures at runtime, the real schema's
keys and constraint names, and the gateway's own mapping of Stripe's errors."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import stripe
from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, UniqueConstraint

from payment_service.adapters.db.tables import metadata
from payment_service.adapters.stripe.errors import CallContext, map_stripe_error
from payment_service.app.ports import storage as ports
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.errors import DomainError, InvalidArgument, NotFound
from tests.unit.fakes import repositories as fakes
from tests.unit.fakes.database import SCHEMA
from tests.unit.fakes.processor import FakeStripe
from tests.unit.fakes.storage import FakeUnitOfWork, FakeUnitOfWorkFactory, InMemoryStorage
from tests.unit.fakes.stripe_base import stripe_error

# Checked by mypy: each fake is assignable to its port.
_storage = InMemoryStorage()
FACTORY: UnitOfWorkFactory = FakeUnitOfWorkFactory(_storage)
UOW: UnitOfWork = FakeUnitOfWork(_storage)
PROCESSOR: PaymentProcessor = FakeStripe()

PAIRS: list[tuple[type[Any], type[Any]]] = [
    (ports.CustomerRepository, fakes.FakeCustomerRepository),
    (ports.PaymentMethodRepository, fakes.FakePaymentMethodRepository),
    (ports.PaymentRepository, fakes.FakePaymentRepository),
    (ports.RefundRepository, fakes.FakeRefundRepository),
    (ports.PriceRepository, fakes.FakePriceRepository),
    (ports.SubscriptionRepository, fakes.FakeSubscriptionRepository),
    (ports.InvoiceRepository, fakes.FakeInvoiceRepository),
    (ports.WebhookEventRepository, fakes.FakeWebhookEventRepository),
    (ports.RequestRecordRepository, fakes.FakeRequestRecordRepository),
    (ports.AuditLog, fakes.FakeAuditLog),
    (ports.ReconcilerStateStore, fakes.FakeReconcilerStateStore),
    (ports.DisputeRepository, fakes.FakeDisputeRepository),
    (ports.SetupIntentRepository, fakes.FakeSetupIntentRepository),
    (UnitOfWork, FakeUnitOfWork),
    (UnitOfWorkFactory, FakeUnitOfWorkFactory),
    (PaymentProcessor, FakeStripe),
]


def _members(protocol: type[Any]) -> dict[str, Any]:
    """The port's methods, those of the generic ports it extends included (nearest wins)."""
    members: dict[str, Any] = {}
    for cls in reversed(protocol.__mro__):
        members.update(
            (name, value)
            for name, value in vars(cls).items()
            if (not name.startswith("_") or name in ("__aenter__", "__aexit__", "__call__"))
            and (inspect.isfunction(value) or isinstance(value, property))
        )
    return members


def _shape(member: Any) -> list[tuple[str, Any, Any]] | str:
    if isinstance(member, property):
        return "property"
    parameters = inspect.signature(member).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize(("protocol", "fake"), PAIRS, ids=lambda t: t.__name__)
def test_every_port_method_is_implemented_with_the_same_parameters(
    protocol: type[Any], fake: type[Any]
) -> None:
    for name, member in _members(protocol).items():
        assert hasattr(fake, name), f"{fake.__name__} lacks {name}"
        assert _shape(getattr(fake, name)) == _shape(member), f"{fake.__name__}.{name}"
        assert inspect.iscoroutinefunction(getattr(fake, name)) == inspect.iscoroutinefunction(
            member
        ), f"{fake.__name__}.{name} is async in one and not the other"


def _real_constraints() -> set[tuple[str, str, str, tuple[str, ...]]]:
    kinds = {PrimaryKeyConstraint: "pk", UniqueConstraint: "uq", ForeignKeyConstraint: "fk"}
    found = set()
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(
                constraint, PrimaryKeyConstraint | UniqueConstraint | ForeignKeyConstraint
            ):
                columns = tuple(column.name for column in constraint.columns)
                found.add((table.name, kinds[type(constraint)], str(constraint.name), columns))
    return found


def _fake_constraints() -> set[tuple[str, str, str, tuple[str, ...]]]:
    found = set()
    for spec in SCHEMA.values():
        found.add((spec.name, "pk", spec.pk.name, spec.pk.columns))
        found |= {(spec.name, "uq", u.name, u.columns) for u in spec.unique_constraints}
        found |= {(spec.name, "fk", f.name, (f.column,)) for f in spec.foreign_key_constraints}
    return found


def test_the_fake_database_has_the_real_keys_with_their_names() -> None:
    assert _fake_constraints() == _real_constraints()


# (operation, resource, resource id, Stripe code, param) as FakeStripe raises them.
STRIPE_ERRORS = [
    ("create_payment_intent", "payment_intent", "", "amount_too_small", "amount"),
    ("create_payment_intent", "payment_intent", "", "resource_missing", "customer"),
    ("confirm_payment_intent", "payment_intent", "pi_1", "payment_intent_unexpected_state", ""),
    ("capture_payment_intent", "payment_intent", "pi_1", "amount_too_large", "amount_to_capture"),
    ("create_refund", "refund", "", "amount_too_large", "amount"),
    ("create_refund", "refund", "", "charge_already_refunded", ""),
    ("retrieve_refund", "refund", "re_1", "resource_missing", "id"),
    ("detach_payment_method", "payment_method", "pm_1", "payment_method_unexpected_state", ""),
]


@pytest.mark.parametrize(("operation", "resource", "resource_id", "code", "param"), STRIPE_ERRORS)
def test_stripe_errors_are_the_gateways_domain_errors(
    operation: str, resource: str, resource_id: str, code: str, param: str
) -> None:
    status = 404 if code == "resource_missing" else 400
    # stripe's exception constructors carry no annotations: the one untyped call here.
    raw = stripe.InvalidRequestError(  # type: ignore[no-untyped-call]
        "Stripe says no.", param or None, code=code, http_status=status
    )
    real = map_stripe_error(raw, CallContext(operation, resource, resource_id))
    fake = stripe_error(operation, resource, resource_id, code=code, param=param, message="")
    assert type(fake) is type(real)
    assert _facts(fake) == _facts(real)


def _facts(error: DomainError) -> tuple[object, ...]:
    fields = [v.field for v in error.violations] if isinstance(error, InvalidArgument) else []
    ids = (error.resource, error.resource_id) if isinstance(error, NotFound) else ()
    return (error.reason, error.metadata.get("stripe_code"), fields, ids)
