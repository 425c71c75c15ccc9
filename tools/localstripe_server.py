"""localstripe (the fake Stripe) on loopback only, with an in-memory store only.

The stock ``localstripe`` command binds every interface (``::``) and pickles its
store to ``/tmp/localstripe.pickle`` after every write (and reloads it at start).
This runner serves the same aiohttp ``app`` on 127.0.0.1 and turns the disk
store into no-ops, so runs share nothing and leave nothing behind. It always
installs the billing patch layer (tools/localstripe_billing.py: Prices, trials,
prorations, invoice finalization, a per-subscription test clock), the saved-cards and
disputes layers (tools/localstripe_saved_cards.py: off-session charges that need
authentication, SetupIntents that save the card; tools/localstripe_disputes.py: disputes,
and test routes that open and decide them) and the idempotency patch layer
(tools/localstripe_idempotency.py: Stripe's Idempotency-Key replays and refusals, which
stock localstripe ignores); see docs/localstripe.md.

    python tools/localstripe_server.py [--port 0] [--no-access-log]

When the socket is bound it prints exactly one line on stdout::

    LOCALSTRIPE_LISTENING http://127.0.0.1:PORT

Access-log lines (request line, status, Idempotency-Key header, whether the answer
was an idempotent replay) go to stderr, and so do the idempotency layer's refusals
(``IDEMPOTENCY_MISMATCH key=... <what differs>``, ``IDEMPOTENCY_IN_USE key=...``).
SIGTERM or SIGINT stops it cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

HOST = "127.0.0.1"
READY_PREFIX = "LOCALSTRIPE_LISTENING"
# aiohttp access-log format: request line, status, the Idempotency-Key header and the
# Idempotent-Replayed answer header ("-" when absent).
ACCESS_LOG_FORMAT = (
    'ACCESS "%r" %s idempotency_key=%{Idempotency-Key}i replayed=%{Idempotent-Replayed}o'
)


def _memory_only_store() -> None:
    """Make localstripe's Store never read or write /tmp/localstripe.pickle."""
    from localstripe.resources import Store

    def _no_op(self: Any) -> None:
        return None

    Store.dump_to_disk = _no_op
    Store.try_load_from_disk = _no_op


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--host",
        default=HOST,
        help="address to bind; 127.0.0.1 unless inside a private network (docker-compose)",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log requests to stderr"
    )
    return parser.parse_args(argv)


def _log_to_stderr(name: str, level: int) -> None:
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


async def serve(host: str, port: int, access_log: bool) -> None:
    _memory_only_store()
    from aiohttp import web

    # tools/ is this script's own directory
    from localstripe_billing import install as install_billing
    from localstripe_disputes import install as install_disputes
    from localstripe_idempotency import install as install_idempotency
    from localstripe_saved_cards import install as install_saved_cards

    # Before localstripe.server is imported (the billing layer does): it registers the routes.
    install_saved_cards()
    install_disputes()
    app = install_billing()
    install_idempotency(app)

    _log_to_stderr("localstripe.idempotency", logging.WARNING)  # its refusals, key and why
    logger = logging.getLogger("aiohttp.access")
    if access_log:
        _log_to_stderr("aiohttp.access", logging.INFO)
    runner = web.AppRunner(
        app,
        access_log=logger if access_log else None,
        access_log_format=ACCESS_LOG_FORMAT,
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound_port = port
    for address in runner.addresses:
        bound_port = int(address[1])
        break

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    print(f"{READY_PREFIX} http://{host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    asyncio.run(serve(args.host, args.port, access_log=not args.no_access_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
