"""The ``payment-service`` console script: serve, token, migrate, webhooks, reconcile, sync,
rotate-keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from payment_service.cli.audit import add_audit_parser
from payment_service.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from payment_service.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from payment_service.bootstrap.services import Services


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payment-service", description="Internal payment service (gRPC over Stripe)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML settings file (PAYMENT_* environment variables win)",
    )

    commands.add_parser(
        "serve", parents=[config_option], help="run the gRPC server and HTTP sidecar"
    )

    token = commands.add_parser(
        "token", parents=[config_option], help="print an HS256 token for a caller"
    )
    token.add_argument("--sub", required=True, help="the caller's name (token subject)")
    token.add_argument(
        "--scope", required=True, help='space-separated scopes, e.g. "payments:read payments:write"'
    )
    token.add_argument("--account-id", help="restrict the token to one account")
    token.add_argument(
        "--ttl", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)"
    )

    webhooks = commands.add_parser("webhooks", help="stored Stripe events: list and replay")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    listing = webhook_commands.add_parser(
        "list", parents=[config_option], help="stored events, newest first"
    )
    only = listing.add_mutually_exclusive_group()
    only.add_argument("--failed", action="store_true", help="only events waiting for a retry")
    only.add_argument("--dead", action="store_true", help="only events whose retries ran out")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    replay = webhook_commands.add_parser(
        "replay", parents=[config_option], help="apply failed/dead/quarantined events again"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("event_id", nargs="?", help="our whe_... id or Stripe's evt_... id")
    which.add_argument(
        "--all-failed", action="store_true", help="every failed and dead event, oldest first"
    )
    commands.add_parser(
        "reconcile", parents=[config_option], help="one reconciler pass now, then exit"
    )

    _add_sync(commands, config_option)
    _add_rotate_keys(commands, config_option)
    add_audit_parser(commands, config_option)
    commands.add_parser(
        "migrate",
        parents=[config_option],
        help="upgrade the database schema to the latest revision",
    )
    return parser


def _add_sync(commands: Any, config_option: argparse.ArgumentParser) -> None:
    sync = commands.add_parser(
        "sync",
        parents=[config_option],
        help="re-read one account's subscriptions and invoices from Stripe and repair them",
    )
    sync.add_argument("--account", required=True, help="the account id")


def _add_rotate_keys(commands: Any, config_option: argparse.ArgumentParser) -> None:
    rotate = commands.add_parser(
        "rotate-keys",
        parents=[config_option],
        help="rewrite every encrypted value under the active PII key (then retire the old key)",
    )
    rotate.add_argument(
        "--batch-size", type=int, default=200, metavar="ROWS", help="rows per transaction"
    )


def _fail(message: str, code: int) -> int:
    print(f"payment-service: {message}", file=sys.stderr)
    return code


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    from payment_service.adapters.db.schema_check import SchemaNotCurrent
    from payment_service.api.grpc.server import ListenError
    from payment_service.bootstrap.app import serve

    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ListenError, SchemaNotCurrent, OSError) as exc:
        return _fail(str(exc), EXIT_FAILURE)
    return EXIT_OK


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from payment_service.security.tokens import TokenMintingError, mint_token

    try:
        token = mint_token(
            settings,
            sub=args.sub,
            scopes=args.scope.split(),
            account_id=args.account_id,
            ttl_s=args.ttl,
        )
    except TokenMintingError as exc:
        return _fail(str(exc), EXIT_USAGE)
    print(token)
    return EXIT_OK


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from payment_service.adapters.db.encrypted import use_field_cipher
    from payment_service.adapters.db.schema_check import upgrade_to_head
    from payment_service.bootstrap.services import build_field_cipher

    if settings.pii_encryption_keys:
        # Keys from --config too, not only the environment (0007 encrypts stored values).
        use_field_cipher(build_field_cipher(settings))
    asyncio.run(upgrade_to_head(settings.database_url))
    print("database schema upgraded to head")
    return EXIT_OK


def _webhooks(settings: Settings, args: argparse.Namespace) -> int:
    from payment_service.cli.commands import (
        run_with_services,
        webhooks_list_command,
        webhooks_replay_command,
    )

    def command(parts: Services) -> Awaitable[int]:
        if args.webhooks_command == "list":
            return webhooks_list_command(
                parts.webhooks, sys.stdout, failed=args.failed, dead=args.dead, limit=args.limit
            )
        return webhooks_replay_command(
            parts.webhooks, sys.stdout, event_id=args.event_id, all_failed=args.all_failed
        )

    return run_with_services(settings, command)


def _reconcile(settings: Settings, _args: argparse.Namespace) -> int:
    from payment_service.cli.commands import reconcile_command, run_with_services

    return run_with_services(
        settings, lambda parts: reconcile_command(parts.reconciler, sys.stdout)
    )


def _sync(settings: Settings, args: argparse.Namespace) -> int:
    from payment_service.cli.commands import run_with_services, sync_command

    return run_with_services(
        settings, lambda parts: sync_command(parts.billing, sys.stdout, account_id=args.account)
    )


def _rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    from payment_service.cli.rotation import rotate_keys_command

    if args.batch_size < 1:
        return _fail("--batch-size must be at least 1", EXIT_USAGE)
    try:
        return asyncio.run(rotate_keys_command(settings, sys.stdout, batch_size=args.batch_size))
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from payment_service.cli.audit import audit_command, audit_query

    try:
        query = audit_query(args)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return asyncio.run(audit_command(settings, query, sys.stdout))


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": _serve,
    "token": _token,
    "migrate": _migrate,
    "webhooks": _webhooks,
    "reconcile": _reconcile,
    "sync": _sync,
    "rotate-keys": _rotate_keys,
    "audit": _audit,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return _COMMANDS[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
