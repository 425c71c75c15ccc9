"""``audit``: the audit trail as JSON lines, oldest first, filtered by account, object,
caller and time range (``--since`` inclusive, ``--until`` exclusive)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any, TextIO

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.app.ports.storage import AuditQuery
from payment_service.cli.exit_codes import EXIT_OK
from payment_service.config import Settings
from payment_service.domain.entities import AuditEntry

MAX_LIMIT = 100_000


def add_audit_parser(commands: Any, config_option: argparse.ArgumentParser) -> None:
    audit = commands.add_parser(
        "audit", parents=[config_option], help="list audit rows as JSON lines, oldest first"
    )
    audit.add_argument("--account", help="rows of RPCs that named this account")
    audit.add_argument("--object", metavar="TYPE:ID", help="e.g. payment:pay_...")
    audit.add_argument("--caller", help="the token subject (or stripe, reconciler)")
    audit.add_argument("--since", type=_time, help="ISO 8601 time, inclusive")
    audit.add_argument("--until", type=_time, help="ISO 8601 time, exclusive")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def audit_query(args: argparse.Namespace) -> AuditQuery:
    """The filters of the command line; ValueError names a bad one."""
    object_type = object_id = None
    if args.object:
        object_type, _, object_id = args.object.partition(":")
        if not object_type or not object_id:
            raise ValueError("--object takes TYPE:ID, e.g. payment:pay_...")
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ValueError(f"--limit must be 1 to {MAX_LIMIT}")
    return AuditQuery(
        account_id=args.account,
        object_type=object_type,
        object_id=object_id,
        actor=args.caller,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )


def audit_line(entry: AuditEntry) -> str:
    return json.dumps(
        {
            "time": entry.time.isoformat(),
            "id": entry.id,
            "caller": entry.actor,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "outcome": entry.outcome,
            "account_id": entry.account_id,
            "request_id": entry.request_id,
            "peer": entry.peer,
            "certificate": entry.certificate,
            "trace_id": entry.trace_id,
            "detail": entry.detail,
        },
        sort_keys=True,
    )


async def audit_command(settings: Settings, query: AuditQuery, out: TextIO) -> int:
    """Reads the audit table only: a connection of its own, no Stripe, cache or service."""
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with SqlUnitOfWorkFactory(engine)(read_only=True) as uow:
            rows = await uow.audit.search(query)
    finally:
        await engine.dispose()
    for entry in rows:
        out.write(audit_line(entry) + "\n")
    return EXIT_OK
