"""A crash between storing a delivery and applying it loses nothing.

The server SIGKILLs itself at ``webhooks.ingest.after_store`` (the delivery's batch is
committed, nothing answered, no applier has seen it); the delivery is stored, not
applied. A fresh server over the same database applies it (its appliers find RECEIVED
events by polling), once: Stripe's redelivery is a duplicate.
"""

from __future__ import annotations

import aiohttp
import pytest

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.webhooks.ingest import AFTER_STORE
from payment_service.domain.states import PaymentState, WebhookEventState
from tests.integration.webhooks.support import (
    SECRET,
    event,
    load_payment,
    payment_intent,
    signed,
    store_payment,
    webhook_audit,
)
from tests.support.server import ServerProcess, server_env
from tests.support.webhooks import wait_settled


def _env(database_url: str, **extra: str) -> dict[str, str]:
    return server_env(
        database_url=database_url,
        stripe_webhook_secrets=f'["{SECRET}"]',
        webhook_apply_poll_s="0.1",
        **extra,
    )


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        return answer.status, (await answer.json())["result"]


async def test_crash_after_store_before_apply_loses_nothing(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    payment = await store_payment(uow_factory, stripe_payment_intent_id="pi_crash_ingest")
    evt = event(
        "payment_intent.succeeded",
        payment_intent("pi_crash_ingest", "succeeded", payment_id=payment.id),
    )
    body, headers = signed(evt)
    doomed = ServerProcess.start(_env(database_url, test_failpoints=AFTER_STORE))
    try:
        with pytest.raises(aiohttp.ClientError):  # killed before it could answer
            await _post(f"{doomed.http_url}/stripe/webhooks", body, headers)
        assert doomed.wait(15) != 0
    finally:
        doomed.kill()
    async with uow_factory(read_only=True) as uow:
        stored = await uow.webhook_events.find_by_stripe_event_id(evt["id"])
    assert stored is not None  # durable before anything was acknowledged
    assert stored.state is WebhookEventState.RECEIVED
    assert (await load_payment(uow_factory, payment.id)).state is not PaymentState.SUCCEEDED

    with ServerProcess.start(_env(database_url)) as server:
        record = await wait_settled(uow_factory, evt["id"])
        assert record.state is WebhookEventState.PROCESSED
        # Stripe never got its 200, so it delivers again: stored already, nothing more done.
        assert await _post(f"{server.http_url}/stripe/webhooks", body, headers) == (
            200,
            "duplicate",
        )
    after = await load_payment(uow_factory, payment.id)
    assert after.state is PaymentState.SUCCEEDED
    assert after.version == payment.version + 1
    assert len(await webhook_audit(uow_factory, "payment_intent", "pi_crash_ingest")) == 1
