"""What CreatePayment + ConfirmPayment cost the database, pinned so it cannot creep back.

Issue 12: the pair takes at most 4 transactions (create-first: the PENDING row with its
audit row; Stripe's answer; the confirmation recorded as pending; its answer), every
read-only look-up folded into the write that follows it. Counted on the stack's own
engine, only while an RPC is being answered (the readiness probe's SELECT 1 is not ours).
"""

from __future__ import annotations

import uuid

from payments.v1 import payment_service_pb2 as pb

from payment_service.adapters.db.counting import SqlCounts, count_sql
from payment_service.app.common.audit_context import NO_FACTS, current_rpc_facts
from payment_service.bootstrap.services import Database
from tests.support.stack import Stack, auth

TRANSACTIONS_PER_PAIR = 4
# BEGIN + statements + COMMIT of the four: the create's look-ups (request, card owner,
# customer) + INSERT payment + INSERT event + INSERT audit; UPDATE payment + INSERT
# event + INSERT audit; SELECT request + SELECT payment + INSERT pending request; UPDATE
# payment + INSERT event + UPDATE request + INSERT audit. (The outbox's wake-up NOTIFY
# is a trigger's, no round trip of ours.)
ROUND_TRIPS_PER_PAIR = 24
# On PostgreSQL a transaction's event and audit INSERTs go out with its COMMIT, in one
# pipeline (adapters/db/deferred.py): the six INSERTs are no round trips of their own,
# nor are the new payment's and the pending request's (add_with_commit: nothing reads
# them before the commit, which raises their Conflict); each transaction's first
# statement goes out with its BEGIN (raw_statement.py); and the look-ups run together go
# in one round trip: the create's three, the confirmation's request and payment.
ROUND_TRIPS_PER_PAIR_POSTGRESQL = ROUND_TRIPS_PER_PAIR - 6 - 2 - 4 - 3


def _in_rpc() -> bool:
    return current_rpc_facts() is not NO_FACTS


async def _pair(stack: Stack, account_id: str) -> None:
    created = await stack.payments.CreatePayment(
        pb.CreatePaymentRequest(
            request_id=f"req-{uuid.uuid4()}",
            account_id=account_id,
            amount=1050,
            currency_code="usd",
            stripe_payment_method_id="pm_card_visa",
        ),
        metadata=auth(),
        timeout=20,
    )
    confirmed = await stack.payments.ConfirmPayment(
        pb.ConfirmPaymentRequest(request_id=f"req-{uuid.uuid4()}", id=created.payment.id),
        metadata=auth(),
        timeout=20,
    )
    assert confirmed.payment.state == pb.PAYMENT_STATE_SUCCEEDED


async def _counted_pair(stack: Stack, counts: SqlCounts, account_id: str) -> SqlCounts:
    before = counts.snapshot()
    await _pair(stack, account_id)
    return counts.since(before)


async def test_create_and_confirm_take_four_transactions(stack: Stack) -> None:
    engine = next(r.engine for r in stack.app.resources if isinstance(r, Database))
    counts = count_sql(engine, only=_in_rpc)
    account_id = f"acct_{uuid.uuid4().hex[:12]}"
    first = await _counted_pair(stack, counts, account_id)  # makes the account's customer
    assert first.transactions > TRANSACTIONS_PER_PAIR
    bound = (
        ROUND_TRIPS_PER_PAIR_POSTGRESQL
        if engine.dialect.name == "postgresql"
        else ROUND_TRIPS_PER_PAIR
    )
    for _ in range(2):
        done = await _counted_pair(stack, counts, account_id)
        assert done.transactions == TRANSACTIONS_PER_PAIR, done
        assert done.commits == TRANSACTIONS_PER_PAIR, done
        assert done.round_trips <= bound, done
