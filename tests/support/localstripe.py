"""localstripe for tests: a subprocess on a free loopback port, helpers over plain HTTP, fixtures.

Fixtures (import them into tests/conftest.py)::

    localstripe          session-scoped LocalStripe, started once, stopped at the end
    stripe_outage_proxy  session-scoped OutageProxy in front of it (see outage_proxy.py)
    outage_proxy         the same proxy, switched back ``up()`` after each test

Data persists across tests for the whole session (flush() wipes everything,
webhooks included, so prefer unique customers/metadata per test over flushing).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from tests.support.outage_proxy import OutageProxy

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "tools" / "localstripe_server.py"
READY_PREFIX = "LOCALSTRIPE_LISTENING "
TEST_API_KEY = "sk_test_localstripe"
HELPER_KEY_PREFIX = "test-helper-"
_ACCESS = re.compile(
    r'^ACCESS "(?P<method>\S+) (?P<target>\S+) [^"]*" (?P<status>\d+)'
    r" idempotency_key=(?P<key>.*) replayed=(?P<replayed>\S+)$"
)


class LocalStripeError(RuntimeError):
    pass


class LocalStripe:
    """A running localstripe subprocess (tools/localstripe_server.py) and HTTP helpers."""

    api_key = TEST_API_KEY

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self._process = process
        self.base_url = base_url
        self.port = int(base_url.rsplit(":", 1)[1])
        self._log: list[str] = []
        self._log_lock = threading.Lock()
        assert process.stderr is not None
        assert process.stdout is not None
        for stream in (process.stderr, process.stdout):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    # --- process ---------------------------------------------------------------------
    @classmethod
    def start(cls, port: int = 0, timeout: float = 20.0) -> LocalStripe:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        stdout = process.stdout
        assert stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = ready[0] if ready else ""
        if not line.startswith(READY_PREFIX):
            process.kill()
            _, err = process.communicate(timeout=5)
            raise LocalStripeError(f"localstripe did not start: {line!r} {err[-2000:]!r}")
        return cls(process, line[len(READY_PREFIX) :].strip())

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, kill if needed; returns the exit status."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        return self._process.returncode

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def _drain(self, stream: Any) -> None:
        for line in stream:
            with self._log_lock:
                self._log.append(line.rstrip("\n"))

    # --- access log --------------------------------------------------------------------
    def log_lines(self) -> list[str]:
        with self._log_lock:
            return list(self._log)

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[dict[str, str]]:
        """Requests localstripe has answered, from its access log: method, target, status, key,
        replayed ("true" when the idempotency layer answered with a saved response, else "-")."""
        out = []
        for line in self.log_lines():
            match = _ACCESS.match(line)
            if match is None:
                continue
            item = match.groupdict()
            if method and item["method"] != method.upper():
                continue
            if not item["target"].startswith(path_prefix):
                continue
            out.append(item)
        return out

    def idempotency_keys(self, path_prefix: str = "/v1/") -> list[str]:
        """Idempotency-Key of every POST under ``path_prefix`` ("-" when the header was absent)."""
        return [r["key"] for r in self.requests("POST", path_prefix)]

    async def wait_for_request(
        self,
        method: str,
        path_prefix: str,
        idempotency_key: str | None = None,
        within_s: float = 5.0,
    ) -> list[dict[str, str]]:
        """Matching access-log entries (those with ``idempotency_key`` if given), waiting up to
        ``within_s`` for at least one: the log reaches us through a reader thread."""
        deadline = time.monotonic() + within_s
        while True:
            found = [
                r
                for r in self.requests(method, path_prefix)
                if idempotency_key is None or r["key"] == idempotency_key
            ]
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.02)

    # --- HTTP helpers ----------------------------------------------------------------------
    async def request(
        self, method: str, path: str, data: Mapping[str, Any] | None = None, *, auth: bool = True
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if auth else {}
        if method == "POST":  # so the access log tells the helpers' POSTs from the code's
            headers["Idempotency-Key"] = f"{HELPER_KEY_PREFIX}{uuid.uuid4().hex}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                self.base_url + path,
                data=dict(data) if data and method != "GET" else None,
                params=dict(data) if data and method == "GET" else None,
                headers=headers,
            ) as response,
        ):
            body = await response.text()
            if response.status >= 400:
                raise LocalStripeError(f"{method} {path} -> {response.status}: {body[:500]}")
            content_type = response.headers.get("Content-Type", "")
            if "json" in content_type:
                return await response.json()
            return body

    async def list_objects(
        self, resource: str, limit: int = 10_000, **params: str
    ) -> list[dict[str, Any]]:
        """``GET /v1/{resource}`` with a large limit (localstripe lists in insertion order)."""
        page = await self.request("GET", f"/v1/{resource}", {"limit": str(limit), **params})
        return list(page["data"])

    async def count(self, resource: str) -> int:
        """localstripe-only: its lists carry ``total_count``."""
        page = await self.request("GET", f"/v1/{resource}", {"limit": "1"})
        return int(page["total_count"])

    async def count_payment_intents(self, *, metadata: Mapping[str, str] | None = None) -> int:
        """All PaymentIntents, or those whose metadata contains every given key/value."""
        if not metadata:
            return await self.count("payment_intents")
        items = await self.list_objects("payment_intents")
        return sum(
            1 for pi in items if all(pi["metadata"].get(k) == v for k, v in metadata.items())
        )

    async def payment_intents_per(self, key: str) -> Counter[str]:
        """How many PaymentIntents carry each value of metadata ``key``: one listing for
        many payments (a listing is of every PaymentIntent the session made)."""
        items = await self.list_objects("payment_intents")
        return Counter(pi["metadata"][key] for pi in items if key in pi["metadata"])

    async def retrieve(self, resource: str, object_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/v1/{resource}/{object_id}")
        return result

    async def create_card_payment_method(
        self,
        number: str = "4242424242424242",
        exp_month: int = 12,
        exp_year: int = 2034,
        cvc: str = "123",
    ) -> str:
        """What Stripe.js would do in the browser: POST /v1/payment_methods with raw card fields."""
        pm = await self.request(
            "POST",
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": number,
                "card[exp_month]": str(exp_month),
                "card[exp_year]": str(exp_year),
                "card[cvc]": cvc,
            },
        )
        return str(pm["id"])

    async def authenticate(self, payment_intent_id: str, success: bool = True) -> dict[str, Any]:
        """Complete (or fail) 3-D Secure as the customer would: localstripe's ``_authenticate``."""
        pi = await self.retrieve("payment_intents", payment_intent_id)
        result: dict[str, Any] = await self.request(
            "POST",
            f"/v1/payment_intents/{payment_intent_id}/_authenticate",
            {"client_secret": pi["client_secret"], "success": "true" if success else "false"},
        )
        return result

    async def confirm_setup_intent(self, setup_intent_id: str, payment_method: str) -> Any:
        """What Stripe.js confirmCardSetup does with the card the customer typed in."""
        path = f"/v1/setup_intents/{setup_intent_id}/confirm"
        return await self.request("POST", path, {"payment_method": payment_method})

    async def authenticate_setup_intent(self, setup_intent_id: str, success: bool = True) -> Any:
        """3-D Secure of a SetupIntent (tools/localstripe_saved_cards.py's ``_authenticate``)."""
        seti = await self.retrieve("setup_intents", setup_intent_id)
        return await self.request(
            "POST",
            f"/v1/setup_intents/{setup_intent_id}/_authenticate",
            {"client_secret": seti["client_secret"], "success": "true" if success else "false"},
        )

    async def open_dispute(self, charge_id: str, **params: str) -> dict[str, Any]:
        """The customer's bank disputes the charge (tools/localstripe_disputes.py)."""
        result: dict[str, Any] = await self.request(
            "POST", f"/_test/charges/{charge_id}/dispute", params
        )
        return result

    async def decide_dispute(self, dispute_id: str, outcome: str) -> dict[str, Any]:
        """The bank decides: ``won``, ``lost`` or ``warning_closed``."""
        result: dict[str, Any] = await self.request(
            "POST", f"/_test/disputes/{dispute_id}/decide", {"outcome": outcome}
        )
        return result

    async def register_webhook(
        self, webhook_id: str, url: str, secret: str, events: list[str] | None = None
    ) -> None:
        """Deliver events (1 s after they happen) to ``url``, signed with ``secret``."""
        data: dict[str, str] = {"url": url, "secret": secret}
        for i, event in enumerate(events or []):
            data[f"events[{i}]"] = event
        await self.request("POST", f"/_config/webhooks/{webhook_id}", data, auth=False)

    async def flush(self) -> None:
        """Delete every object (``DELETE /_config/data``); registered webhooks stay."""
        await self.request("DELETE", "/_config/data", auth=False)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    server = LocalStripe.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stripe_outage_proxy(localstripe: LocalStripe) -> AsyncIterator[OutageProxy]:
    proxy = await OutageProxy("127.0.0.1", localstripe.port).start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest_asyncio.fixture(loop_scope="session")
async def outage_proxy(stripe_outage_proxy: OutageProxy) -> AsyncIterator[OutageProxy]:
    stripe_outage_proxy.up()
    try:
        yield stripe_outage_proxy
    finally:
        stripe_outage_proxy.up()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(localstripe: LocalStripe) -> AsyncIterator[StripeGateway]:
    """The real gateway, straight to localstripe."""
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key, api_base=localstripe.base_url, timeout_s=10.0
        )
    )
    try:
        yield gw
    finally:
        await gw.close()


@pytest_asyncio.fixture(loop_scope="session")
async def proxied_gateway(
    outage_proxy: OutageProxy, localstripe: LocalStripe
) -> AsyncIterator[StripeGateway]:
    """Through the outage proxy: no stripe-python retries, 3 s timeout."""
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key,
            api_base=outage_proxy.base_url,
            timeout_s=3.0,
            max_network_retries=0,
        )
    )
    try:
        yield gw
    finally:
        await gw.close()
