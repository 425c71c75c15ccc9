"""The operator commands behind ``webhooks list``, ``webhooks replay`` and ``reconcile``."""

from __future__ import annotations

import asyncio
import io

from payment_service.app.ports.events import EventOutcome
from payment_service.cli.commands import (
    operator,
    webhooks_list_command,
    webhooks_replay_command,
)
from payment_service.cli.exit_codes import EXIT_FAILURE, EXIT_OK
from payment_service.domain.processor import RemoteEvent
from payment_service.domain.states import WebhookEventState
from tests.integration.webhooks.conftest import TEST_TYPE, Endpoint, Pipeline
from tests.integration.webhooks.support import event, signed, stored_events
from tests.support.audit import audited


async def _dead_event(
    endpoint: Endpoint, pipeline: Pipeline, calls: list[str], fail_times: int
) -> str:
    async def handler(evt: RemoteEvent, uow: object) -> EventOutcome:
        calls.append(evt.stripe_id)
        if len(calls) <= fail_times:
            raise RuntimeError("downstream broken")
        return EventOutcome.applied(detail="ok now")

    pipeline.extra[TEST_TYPE] = handler
    evt = event(TEST_TYPE, {"id": "thing_ops", "object": "thing"})
    assert await endpoint.deliver(*signed(evt)) == "deferred"
    for _ in range(50):
        await pipeline.webhooks.retry_due()
        [record] = await stored_events(pipeline.uow_factory)
        if record.state is WebhookEventState.DEAD:
            return str(evt["id"])
        await asyncio.sleep(0.05)
    raise AssertionError("event did not die")


async def test_list_filters_and_replay_revives_a_dead_event(
    endpoint: Endpoint, pipeline: Pipeline
) -> None:
    calls: list[str] = []
    event_id = await _dead_event(endpoint, pipeline, calls, fail_times=3)
    out = io.StringIO()
    assert await webhooks_list_command(pipeline.webhooks, out, dead=True) == EXIT_OK
    [line] = out.getvalue().splitlines()
    fields = line.split("\t")
    assert fields[1:5] == [event_id, TEST_TYPE, "dead", "3"]
    assert "RuntimeError: downstream broken" in fields[6]
    out = io.StringIO()
    assert await webhooks_list_command(pipeline.webhooks, out, failed=True) == EXIT_OK
    assert out.getvalue() == ""

    out = io.StringIO()
    assert await webhooks_replay_command(pipeline.webhooks, out, event_id=event_id) == EXIT_OK
    assert "\tprocessed\t" in out.getvalue()
    assert len(calls) == 4
    [record] = await stored_events(pipeline.uow_factory)
    [replay] = await audited(pipeline.uow_factory, ("webhook_event", record.id))
    assert (replay.action, replay.outcome, replay.actor) == (
        "webhooks.replay",
        "requeued",
        operator(),
    )
    assert (replay.detail["via"], replay.detail["from"]) == ("cli.webhooks.replay", "dead")
    [applied] = await audited(
        pipeline.uow_factory, ("thing", "thing_ops"), via="cli.webhooks.replay"
    )
    assert applied.action == f"webhook.{TEST_TYPE}"


async def test_replay_all_failed_and_unknown_ids(endpoint: Endpoint, pipeline: Pipeline) -> None:
    calls: list[str] = []
    await _dead_event(endpoint, pipeline, calls, fail_times=4)
    out = io.StringIO()
    # The first replay fails again (4th failure): exit status 1, still dead.
    assert await webhooks_replay_command(pipeline.webhooks, out, all_failed=True) == EXIT_FAILURE
    assert "replayed 1 event(s)" in out.getvalue()
    out = io.StringIO()
    assert await webhooks_replay_command(pipeline.webhooks, out, all_failed=True) == EXIT_OK
    out = io.StringIO()
    assert (
        await webhooks_replay_command(pipeline.webhooks, out, event_id="evt_nope") == EXIT_FAILURE
    )
    assert "no stored webhook event evt_nope" in out.getvalue()
    out = io.StringIO()
    assert await webhooks_replay_command(pipeline.webhooks, out) == EXIT_FAILURE
