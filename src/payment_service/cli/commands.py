"""The operator subcommands: ``webhooks list``, ``webhooks replay``, ``reconcile``, ``sync``.

Each ``*_command`` takes built components and a text stream and returns the exit
status; ``open_services`` builds (and afterwards closes) what they need from the
settings through the composition root, outside a running server.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TextIO

from payment_service.app.billing.service import Billing
from payment_service.app.common.audit_context import acting_as
from payment_service.app.reconcile.reconciler import Reconciler
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import Services, build_services
from payment_service.cli.exit_codes import EXIT_FAILURE, EXIT_OK
from payment_service.config import Settings
from payment_service.domain.entities import WebhookEvent
from payment_service.domain.errors import DomainError, FailedPrecondition, NotFound
from payment_service.domain.states import WebhookEventState

_SETTLED = frozenset({WebhookEventState.PROCESSED, WebhookEventState.IGNORED})


def operator() -> str:
    """Who runs this command, for the audit trail: ``operator:<login>``."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        login = f"uid{os.getuid()}"
    return f"operator:{login}"


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The services over a started database, cache and Stripe gateway, closed afterwards."""
    services = build_services(settings)
    await services.start()
    try:
        yield services
    finally:
        await services.stop()


def run_with_services(settings: Settings, command: Callable[[Services], Awaitable[int]]) -> int:
    """Run ``command`` over the opened services (closed afterwards); its exit code."""

    async def run() -> int:
        async with open_services(settings) as services:
            return await command(services)

    return asyncio.run(run())


def format_event(event: WebhookEvent) -> str:
    """One tab-separated line: id, Stripe id, type, state, attempts, next attempt, last error."""
    next_attempt = event.next_attempt_at.isoformat() if event.next_attempt_at else "-"
    error = (event.last_error or "-").replace("\t", " ").replace("\n", " ")
    return "\t".join(
        (
            event.id,
            event.stripe_event_id,
            event.type,
            event.state.value,
            str(event.attempts),
            next_attempt,
            error,
        )
    )


async def webhooks_list_command(
    webhooks: Webhooks, out: TextIO, *, failed: bool = False, dead: bool = False, limit: int = 100
) -> int:
    """``webhooks list [--failed|--dead]``: newest first."""
    states: list[WebhookEventState] = []
    if failed:
        states.append(WebhookEventState.FAILED)
    if dead:
        states.append(WebhookEventState.DEAD)
    for event in await webhooks.list_events(states, limit=limit):
        print(format_event(event), file=out)
    return EXIT_OK


def _failed(out: TextIO, message: str) -> int:
    """Say why the command failed; its exit status."""
    print(message, file=out)
    return EXIT_FAILURE


async def webhooks_replay_command(
    webhooks: Webhooks, out: TextIO, *, event_id: str | None = None, all_failed: bool = False
) -> int:
    """``webhooks replay EVENT_ID|--all-failed`` (failed and dead events); exit 1 unless every
    replayed event ended processed or ignored."""
    if (event_id is None) == (not all_failed):
        return _failed(out, "give exactly one of EVENT_ID and --all-failed")
    with acting_as(operator(), "cli.webhooks.replay"):
        if all_failed:
            replayed = await webhooks.replay_all_failed()
        else:
            assert event_id is not None
            try:
                replayed = [await webhooks.replay(event_id)]
            except NotFound:
                return _failed(out, f"no stored webhook event {event_id}")
            except FailedPrecondition as error:
                return _failed(out, f"cannot replay {event_id}: {error.message}")
    for event in replayed:
        print(format_event(event), file=out)
    print(f"replayed {len(replayed)} event(s)", file=out)
    return EXIT_OK if all(e.state in _SETTLED for e in replayed) else EXIT_FAILURE


async def reconcile_command(reconciler: Reconciler, out: TextIO) -> int:
    """``reconcile``: one pass now; exit 1 when a task reported errors."""
    reports = await reconciler.run_once()
    if reports is None:
        print("skipped: another replica is reconciling right now", file=out)
        return EXIT_OK
    for report in reports:
        print(
            f"{report.task}: repaired={report.repaired} unresolved={report.unresolved} "
            f"oldest_unresolved_age_s={report.oldest_unresolved_age_s:.0f} "
            f"errors={report.errors}",
            file=out,
        )
    return EXIT_FAILURE if any(r.errors for r in reports) else EXIT_OK


async def sync_command(billing: Billing, out: TextIO, *, account_id: str) -> int:
    """``sync --account ID``: re-read the account's subscriptions and invoices from Stripe."""
    try:
        with acting_as(operator(), "cli.sync"):
            result = await billing.sync_account(account_id)
    except NotFound:
        return _failed(out, f"account {account_id} has no Stripe customer here")
    except DomainError as error:
        return _failed(out, f"sync of {account_id} failed: {error.message}")
    print(
        f"account {account_id}: subscriptions={result.subscriptions} "
        f"invoices={result.invoices} changed={result.changed}",
        file=out,
    )
    return EXIT_OK
