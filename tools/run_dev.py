"""`make run`: the service on its embedded default, with nothing to install.

Starts localstripe (the fake Stripe) on a free loopback port, migrates the
SQLite file, starts `payment-service serve` pointed at localstripe, and
registers the webhook sidecar at localstripe so its events flow in. It seeds two
demo prices on one product "Pro" ("Pro monthly" 1500 usd a month, "Pro yearly"
15000 usd a year) and prints their ids. Ctrl-C
stops both. Any PAYMENT_* variable already set wins over these defaults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# localstripe keeps nothing between runs, so neither does the database `make run` uses:
# ids stored in a file from an earlier run would point at objects Stripe no longer has.
DEV_DATABASE = ROOT / ".run" / "make-run.db"
DEV_DEFAULTS = {
    "PAYMENT_DATABASE_URL": f"sqlite+aiosqlite:///{DEV_DATABASE}",
    "PAYMENT_STRIPE_API_KEY": "sk_test_localstripe",
    "PAYMENT_AUTH_HS256_SECRET": "dev-only-secret-change-me-0123456789abcdef",
    "PAYMENT_STRIPE_WEBHOOK_SECRETS": '["whsec_dev_localstripe"]',
    # Development only: a fixed AES-256 key for personal data in the throwaway database.
    "PAYMENT_PII_ENCRYPTION_KEYS": '["dev:ZGV2LW9ubHktcGlpLWtleS1mb3ItbWFrZS1ydW4hISE="]',
    "PAYMENT_GRPC_PORT": "50051",
    "PAYMENT_HTTP_PORT": "8080",
}


def start_localstripe() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "localstripe_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("LOCALSTRIPE_LISTENING "):
            return proc, line.split()[1]
    raise SystemExit("localstripe did not start")


def _post(stripe_url: str, path: str, fields: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        f"{stripe_url}{path}",
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Authorization": f"Bearer {DEV_DEFAULTS['PAYMENT_STRIPE_API_KEY']}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, object] = json.load(response)
    return answer


def seed_prices(stripe_url: str) -> dict[str, str]:
    """Two demo prices on one product "Pro" (localstripe starts empty): name -> price id."""
    product = _post(stripe_url, "/v1/products", {"name": "Pro"})
    prices = {}
    for nickname, amount, interval in (
        ("Pro monthly", 1500, "month"),
        ("Pro yearly", 15000, "year"),
    ):
        price = _post(
            stripe_url,
            "/v1/prices",
            {
                "currency": "usd",
                "unit_amount": str(amount),
                "recurring[interval]": interval,
                "product": str(product["id"]),
                "nickname": nickname,
            },
        )
        prices[nickname] = str(price["id"])
    return prices


def register_webhook(stripe_url: str, http_port: str, secret: str) -> None:
    body = urllib.parse.urlencode(
        {"url": f"http://127.0.0.1:{http_port}/stripe/webhooks", "secret": secret}
    ).encode()
    request = urllib.request.Request(f"{stripe_url}/_config/webhooks/make-run", data=body)
    with urllib.request.urlopen(request, timeout=5):
        pass


def main() -> int:
    env = dict(os.environ)
    if "PAYMENT_DATABASE_URL" not in env:
        DEV_DATABASE.parent.mkdir(exist_ok=True)
        for leftover in DEV_DATABASE.parent.glob(DEV_DATABASE.name + "*"):
            leftover.unlink()
    for key, value in DEV_DEFAULTS.items():
        env.setdefault(key, value)
    localstripe, stripe_url = start_localstripe()
    env.setdefault("PAYMENT_STRIPE_API_BASE", stripe_url)
    for nickname, price_id in seed_prices(stripe_url).items():
        print(f"make run: localstripe price {nickname!r}: {price_id}", file=sys.stderr)
    server: subprocess.Popen[str] | None = None
    try:
        subprocess.run([str(BIN / "payment-service"), "migrate"], env=env, check=True)
        server = subprocess.Popen(
            [str(BIN / "payment-service"), "serve"], env=env, stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        for line in server.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if '"serving"' in line:
                secret = json.loads(env["PAYMENT_STRIPE_WEBHOOK_SECRETS"])[0]
                register_webhook(stripe_url, env["PAYMENT_HTTP_PORT"], secret)
                print(
                    f"make run: gRPC on 127.0.0.1:{env['PAYMENT_GRPC_PORT']}, sidecar on "
                    f"127.0.0.1:{env['PAYMENT_HTTP_PORT']}, localstripe at {stripe_url}; Ctrl-C stops",
                    file=sys.stderr,
                )
                break
        signal.signal(
            signal.SIGTERM, lambda *_: server.send_signal(signal.SIGTERM) if server else None
        )
        for line in server.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
        return server.wait()
    except KeyboardInterrupt:
        if server is not None:
            server.send_signal(signal.SIGINT)
            return server.wait()
        return 130
    finally:
        localstripe.terminate()
        localstripe.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
