"""Two replicas behind one database: no double charge, no double application, nothing lost.

Each test runs two real server processes on one PostgreSQL, one Redis and one localstripe
(conftest.py). What a single process guarantees with in-process locks must hold across
processes through the database: unique keys, claims (FOR UPDATE SKIP LOCKED) and leases.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from payments.v1 import event_service_pb2 as event_pb
from payments.v1 import event_service_pb2_grpc, payment_service_pb2_grpc
from payments.v1 import payment_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.clock import from_unix
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.ids import new_id
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.e2e.test_webhooks_delivery import WEBHOOK_PATH, wait_for
from tests.integration.webhooks.support import event, signed, stored_events, webhook_audit
from tests.support.localstripe import LocalStripe
from tests.support.server import ServerProcess, bearer, make_token

FAILPOINTS = "PAYMENT_TEST_FAILPOINTS"
# Answers a client retries with the same request_id (AIP-155): the other replica holds the
# request's lease, or the replica went away mid-call.
RETRYABLE = frozenset({grpc.StatusCode.ABORTED, grpc.StatusCode.UNAVAILABLE})


def _request(pm: str, **fields: Any) -> pb.CreatePaymentRequest:
    values: dict[str, Any] = {
        "request_id": f"req-{uuid.uuid4()}",
        "account_id": f"acct_{uuid.uuid4().hex[:12]}",
        "amount": 2500,
        "currency_code": "usd",
        "stripe_payment_method_id": pm,
        "confirm": True,
    }
    values.update(fields)
    return pb.CreatePaymentRequest(**values)


async def _create_retrying(
    replica: ServerProcess, request: pb.CreatePaymentRequest, *, within_s: float = 30
) -> pb.Payment:
    """CreatePayment as a well-behaved client makes it: retried with the same request on a
    retryable answer until one is final."""
    deadline = asyncio.get_running_loop().time() + within_s
    async with grpc.aio.insecure_channel(replica.grpc_target) as channel:
        stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
        while True:
            try:
                response = await stub.CreatePayment(
                    request, metadata=bearer(make_token()), timeout=20
                )
                return response.payment
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRYABLE or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.2)


async def _each(tasks: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    return list(await asyncio.gather(*(task() for task in tasks)))


async def test_same_request_id_on_both_replicas_at_once_makes_one_payment_intent(
    replicas: tuple[ServerProcess, ServerProcess],
    localstripe: LocalStripe,
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    a, b = replicas
    for _ in range(5):  # a race lost once proves little: several rounds, each a fresh request
        request = _request(await localstripe.create_card_payment_method())
        first, second = await _each(
            [lambda: _create_retrying(a, request), lambda: _create_retrying(b, request)]
        )
        assert first == second
        assert first.state == pb.PAYMENT_STATE_SUCCEEDED
        assert await localstripe.count_payment_intents(metadata={"payment_id": first.id}) == 1
    async with uow_factory(read_only=True) as uow:
        page = await uow.payments.list_for_account(request.account_id, page=_first_page())
    assert [p.id for p in page.items] == [first.id]


async def test_same_webhook_on_both_replicas_at_once_is_stored_and_applied_once(
    replicas: tuple[ServerProcess, ServerProcess],
    localstripe: LocalStripe,
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    a, b = replicas
    created = await _create_retrying(
        a, _request(await localstripe.create_card_payment_method(), confirm=False)
    )
    pi_id = created.stripe_payment_intent_id
    confirmed = await localstripe.request("POST", f"/v1/payment_intents/{pi_id}/confirm")
    assert confirmed["status"] == "succeeded"
    body, headers = signed(event("payment_intent.succeeded", confirmed))
    urls = [a.http_url + WEBHOOK_PATH, b.http_url + WEBHOOK_PATH] * 4
    async with aiohttp.ClientSession() as session:

        async def deliver(url: str) -> int:
            async with session.post(url, data=body, headers=headers) as response:
                return response.status

        statuses = await asyncio.gather(*(deliver(url) for url in urls))
    assert set(statuses) == {200}, statuses

    async def applied() -> Any:
        async with uow_factory(read_only=True) as uow:
            payment = await uow.payments.get(created.id)
        return payment if payment.state is PaymentState.SUCCEEDED else None

    await wait_for(applied, what="the payment to follow the webhook")
    event_id = _event_id(body)
    assert [e.stripe_event_id for e in await stored_events(uow_factory)].count(event_id) == 1
    applications = [
        entry
        for entry in await webhook_audit(uow_factory, "payment_intent", pi_id)
        if entry.detail.get("stripe_event_id") == event_id
    ]
    assert len(applications) == 1, applications


async def test_create_cut_off_on_one_replica_is_finished_once_by_the_other(
    replica_env: dict[str, str], localstripe: LocalStripe, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Replica A dies between Stripe's answer and its own commit; B (reconciling every
    second, beside a third replica C doing the same) finishes the payment once A's lease ran
    out. The reconciler's work is shared through its lock, never done twice."""
    fast = {**replica_env, "PAYMENT_STRIPE_TIMEOUT_S": "1", "PAYMENT_RECONCILE_INTERVAL_S": "1"}
    request = _request(await localstripe.create_card_payment_method())
    crashing = ServerProcess.start({**fast, FAILPOINTS: "payments.create.after_stripe"})
    with crashing:
        with pytest.raises(grpc.aio.AioRpcError):
            await _create_retrying(crashing, request, within_s=0)
        assert crashing.wait(10) == -9
    with ServerProcess.start(fast) as b, ServerProcess.start(fast) as c:

        async def finished() -> Any:
            async with uow_factory(read_only=True) as uow:
                page = await uow.payments.list_for_account(request.account_id, page=_first_page())
            done = [p for p in page.items if p.state is not PaymentState.PENDING]
            return done[0] if done else None

        payment = await wait_for(finished, within_s=40, what="a replica to finish the payment")
        # The client's retry, on either survivor, gets that payment: no second charge.
        again = await _create_retrying(c, request)
        assert (again.id, again.state) == (payment.id, pb.PAYMENT_STATE_SUCCEEDED)
        assert b.process.poll() is None
    assert await localstripe.count_payment_intents(metadata={"payment_id": payment.id}) == 1


async def test_killing_one_replica_under_load_loses_no_acknowledged_payment(
    replicas: tuple[ServerProcess, ServerProcess],
    localstripe: LocalStripe,
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    a, b = replicas
    pms = [await localstripe.create_card_payment_method() for _ in range(24)]
    acknowledged: list[pb.Payment] = []
    cut_off: list[pb.CreatePaymentRequest] = []
    enough_acknowledged = asyncio.Event()

    async def client(replica: ServerProcess, my_pms: list[str]) -> None:
        async with grpc.aio.insecure_channel(replica.grpc_target) as channel:
            stub = payment_service_pb2_grpc.PaymentServiceStub(channel)
            for pm in my_pms:
                request = _request(pm)
                try:
                    response = await stub.CreatePayment(
                        request, metadata=bearer(make_token()), timeout=20
                    )
                except grpc.aio.AioRpcError:
                    cut_off.append(request)
                    continue
                acknowledged.append(response.payment)
                if len(acknowledged) >= 6:
                    enough_acknowledged.set()

    async def kill_a_midway() -> None:
        await enough_acknowledged.wait()
        a.kill()

    await asyncio.gather(client(a, pms[0::2]), client(b, pms[1::2]), kill_a_midway())
    assert len(acknowledged) >= 6
    assert cut_off, "the kill came after replica A had answered everything"
    async with uow_factory(read_only=True) as uow:
        for payment in acknowledged:
            stored = await uow.payments.get(payment.id)
            assert stored is not None
            assert stored.state is PaymentState.SUCCEEDED
    # What the dead replica never answered, its clients retry on the survivor: once each.
    for request in cut_off:
        payment = await _create_retrying(b, request, within_s=60)
        assert await localstripe.count_payment_intents(metadata={"payment_id": payment.id}) == 1
        acknowledged.append(payment)
    # Every acknowledged payment's events are there too (written in its transactions),
    # read through the survivor's EventService.
    announced = await _event_types_by_payment(b)
    for payment in acknowledged:
        assert {"payment.created", "payment.succeeded"} <= announced.get(payment.id, set())


async def _event_types_by_payment(replica: ServerProcess) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    async with grpc.aio.insecure_channel(replica.grpc_target) as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        request = event_pb.ListEventsRequest(page_size=200, types=["payment.*"])
        while True:
            page = await stub.ListEvents(request, metadata=bearer(make_token()), timeout=20)
            for item in page.events:
                found.setdefault(item.object_id, set()).add(item.type)
            if not page.next_page_token:
                return found
            request = event_pb.ListEventsRequest(
                page_size=200, types=["payment.*"], page_token=page.next_page_token
            )


def _first_page() -> PageRequest:
    return PageRequest(page_size=50)


def _event_id(body: bytes) -> str:
    return str(json.loads(body)["id"])


async def test_stored_events_are_shared_by_both_replicas_never_applied_twice(
    replica_env: dict[str, str], uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Events stored and not yet applied (as the sidecar leaves them when applying is
    deferred) are claimed by both replicas' background workers: each applied exactly once."""
    count = 60
    async with uow_factory() as uow:
        for n in range(count):
            body = event("some.future.type", {"id": f"obj_{n}", "object": "thing"})
            await uow.webhook_events.insert_if_new(_stored(body))
        await uow.commit()
    with ServerProcess.start(replica_env) as a, ServerProcess.start(replica_env) as b:

        async def all_settled() -> bool:
            events = await stored_events(uow_factory)
            return all(e.state is WebhookEventState.IGNORED for e in events)

        await wait_for(all_settled, within_s=30, what="both replicas to apply the stored events")
        handled = [await _handled_events(replica) for replica in (a, b)]
    assert sum(handled) == count, handled


def _stored(body: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        id=new_id("whe"),
        stripe_event_id=body["id"],
        type=body["type"],
        created=from_unix(body["created"]),
        payload=json.dumps(body),
    )


async def _handled_events(replica: ServerProcess) -> float:
    """Events this replica applied or settled (any outcome but duplicate), from its /metrics."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{replica.http_url}/metrics") as response,
    ):
        text = await response.text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "stripe_webhook_events":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("outcome") != "duplicate":
                total += sample.value
    return total
