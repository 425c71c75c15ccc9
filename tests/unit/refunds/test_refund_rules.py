"""Pure parts of the refund use cases: validation before any I/O, Stripe observations, proto mapping."""

from __future__ import annotations

from typing import NoReturn

import pytest
from payments.v1 import refund_service_pb2 as pb

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.api.grpc.refund_servicer import REFUND_REASONS, REFUND_STATES, refund_to_proto
from payment_service.app.refunds.rules import CreateRefund
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.clock import from_unix
from payment_service.domain.entities import Refund
from payment_service.domain.errors import InvalidArgument
from payment_service.domain.processor import RemoteRefund
from payment_service.domain.states import RefundReason, RefundState

CALLER = Caller("svc", frozenset({"refunds:write"}))


class _NoStorage:
    def __call__(self, *, read_only: bool = False) -> NoReturn:
        raise AssertionError("storage must not be touched for an invalid request")


class _NoStripe:
    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError("Stripe must not be called for an invalid request")


def _refund(**overrides: object) -> Refund:
    values: dict[str, object] = dict(
        id="rfd_1",
        payment_id="pay_1",
        account_id="acct_1",
        caller="svc",
        request_id="r",
        request_hash="0" * 64,
        amount=500,
        currency="jpy",
    )
    values.update(overrides)
    return Refund(**values)  # type: ignore[arg-type]


def _remote(state: RefundState, failure_reason: str | None = None) -> RemoteRefund:
    return RemoteRefund(
        stripe_id="re_1",
        payment_intent="pi_1",
        charge="ch_1",
        amount=500,
        currency="jpy",
        state=state,
        reason=None,
        failure_reason=failure_reason,
        metadata={},
        created=1_700_000_000,
    )


async def test_every_bad_field_is_reported_before_any_io() -> None:
    refunds = Refunds(_NoStorage(), _NoStripe(), MemoryCache())  # type: ignore[arg-type]
    command = CreateRefund(
        request_id="has space",
        payment_id="pi_123",
        amount=0,
        metadata={"k" * 41: "v"},
    )
    with pytest.raises(InvalidArgument) as raised:
        await refunds.create(CALLER, command)
    fields = {v.field for v in raised.value.violations}
    assert fields == {"request_id", "payment_id", "amount", f"metadata[{'k' * 40}]"}


def test_observations_move_forward_only() -> None:
    refund = _refund()
    assert refund.awaits_stripe
    assert refund.apply_remote(_remote(RefundState.FAILED, "x" * 80), from_unix(1_700_000_100))
    assert (refund.state, refund.stripe_refund_id) == (RefundState.FAILED, "re_1")
    assert refund.failure_reason == "x" * 64  # the column's width
    assert not refund.awaits_stripe
    # An older event, and a move out of a final state, change nothing.
    assert not refund.apply_remote(_remote(RefundState.SUCCEEDED), from_unix(1_700_000_050))
    assert not refund.apply_remote(_remote(RefundState.SUCCEEDED), from_unix(1_700_000_200))
    assert refund.state is RefundState.FAILED


def test_a_stale_observation_still_links_the_stripe_id() -> None:
    refund = _refund(state=RefundState.SUCCEEDED)
    refund.remote_updated_at = None
    assert refund.apply_remote(_remote(RefundState.PENDING), from_unix(1_700_000_000))  # linked
    assert (refund.state, refund.stripe_refund_id) == (RefundState.SUCCEEDED, "re_1")


@pytest.mark.parametrize("state", list(RefundState))
def test_states_map_to_protos_of_the_same_name(state: RefundState) -> None:
    assert pb.RefundState.Name(REFUND_STATES.to_proto(state)) == f"REFUND_STATE_{state.name}"


@pytest.mark.parametrize("reason", list(RefundReason))
def test_reasons_map_both_ways(reason: RefundReason) -> None:
    number = REFUND_REASONS.to_proto(reason)
    assert pb.RefundReason.Name(number) == f"REFUND_REASON_{reason.name}"
    assert REFUND_REASONS.from_proto(number, "reason") is reason
    assert reason.value in {"duplicate", "fraudulent", "requested_by_customer"}  # Stripe's strings


def test_refund_to_proto() -> None:
    message = refund_to_proto(
        _refund(reason=RefundReason.DUPLICATE, metadata={"k": "v"}, stripe_refund_id=None)
    )
    assert (message.amount, message.currency_code, message.reason, message.state) == (
        500,
        "jpy",
        pb.REFUND_REASON_DUPLICATE,
        pb.REFUND_STATE_PENDING,
    )
    assert (message.stripe_refund_id, message.failure_reason, dict(message.metadata)) == (
        "",
        "",
        {"k": "v"},
    )
    assert message.HasField("create_time")
