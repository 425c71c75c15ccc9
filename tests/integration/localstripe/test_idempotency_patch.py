"""tools/localstripe_idempotency.py: Stripe's Idempotency-Key promise on localstripe.

Over HTTP against the session's localstripe (replays, refusals, scoping, what is saved, our
gateway and stripe-python's own retry after a lost answer), and in process over a tiny aiohttp
app whose handler the test holds or counts (the concurrent 409, crashes, expiry, the bound).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from localstripe.errors import UserError

from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.domain.processor import NewPaymentIntent
from tests.support.localstripe import LocalStripe
from tools.localstripe_idempotency import (
    CRASH_BODY,
    MAX_KEY_LENGTH,
    TTL_S,
    IdempotencyLayer,
    IdempotencyStore,
)

VISA = "4242424242424242"
FORM = "application/x-www-form-urlencoded"  # what stripe-python sends
JSON = "application/json"
Form = list[tuple[str, str]]


def _key(label: str) -> str:
    return f"idem-test-{label}-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"

    @property
    def error_type(self) -> str:
        return str(self.json()["error"]["type"])


async def _send(
    ls: LocalStripe,
    method: str,
    path: str,
    data: Form | None = None,
    *,
    key: str,
    api_key: str = LocalStripe.api_key,
) -> Answer:
    """One request with exactly these headers (LocalStripe.request adds its own key)."""
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, ls.base_url + path, data=data, headers=headers) as response,
    ):
        return Answer(response.status, dict(response.headers), await response.read())


async def _logged(
    ls: LocalStripe, path: str, key: str, count: int, within_s: float = 5.0
) -> list[dict[str, str]]:
    """The access-log entries of POSTs to ``path`` with ``key``, once ``count`` are there (the
    log is written after each answer and read by a thread)."""
    deadline = time.monotonic() + within_s
    while True:
        found = [r for r in ls.requests("POST", path) if r["key"] == key]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.02)


def _intent_form(tag: str, amount: int = 1200) -> Form:
    return [("amount", str(amount)), ("currency", "usd"), ("metadata[idem_test]", tag)]


# --- over HTTP: replays and refusals -----------------------------------------------------------
async def test_same_key_and_parameters_replay_the_first_payment_intent(
    localstripe: LocalStripe,
) -> None:
    tag, key = uuid.uuid4().hex, _key("replay")
    before = await localstripe.count("payment_intents")
    first = await _send(localstripe, "POST", "/v1/payment_intents", _intent_form(tag), key=key)
    # The same parameters in another order are the same request.
    again = await _send(
        localstripe, "POST", "/v1/payment_intents", list(reversed(_intent_form(tag))), key=key
    )

    assert (first.status, first.replayed) == (200, False)
    assert (again.status, again.replayed) == (200, True)
    assert again.body == first.body
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert await localstripe.count("payment_intents") == before + 1
    assert await localstripe.count_payment_intents(metadata={"idem_test": tag}) == 1
    logged = await _logged(localstripe, "/v1/payment_intents", key, count=2)
    assert [r["replayed"] for r in logged] == ["-", "true"]


async def test_other_parameters_with_the_key_are_a_400_idempotency_error(
    localstripe: LocalStripe,
) -> None:
    tag, key = uuid.uuid4().hex, _key("params")
    first = await _send(localstripe, "POST", "/v1/payment_intents", _intent_form(tag), key=key)
    other = await _send(
        localstripe, "POST", "/v1/payment_intents", _intent_form(tag, amount=1300), key=key
    )

    assert first.status == 200
    assert (other.status, other.error_type, other.replayed) == (400, "idempotency_error", False)
    assert other.json()["error"]["message"].startswith(
        "Keys for idempotent requests can only be used with the same parameters they were"
        " first used with."
    )
    assert key in other.json()["error"]["message"]
    assert await localstripe.count_payment_intents(metadata={"idem_test": tag}) == 1
    # localstripe's stderr says which key and what differed (the access log comes after).
    assert [r["status"] for r in await _logged(localstripe, "/v1/payment_intents", key, 2)] == [
        "200",
        "400",
    ]
    refusal = next(line for line in localstripe.log_lines() if key in line and "MISMATCH" in line)
    assert "first_only=[('amount', '1200')] now_only=[('amount', '1300')]" in refusal


async def test_the_key_on_another_path_is_a_400_idempotency_error(
    localstripe: LocalStripe,
) -> None:
    key = _key("path")
    first = await _send(localstripe, "POST", "/v1/customers", [("email", "i@example.com")], key=key)
    other = await _send(localstripe, "POST", "/v1/payment_intents", _intent_form("x"), key=key)

    assert first.status == 200
    assert (other.status, other.error_type) == (400, "idempotency_error")
    assert "same endpoint" in other.json()["error"]["message"]


async def test_keys_are_scoped_per_api_key(localstripe: LocalStripe) -> None:
    tag, key = uuid.uuid4().hex, _key("scope")
    mine = await _send(localstripe, "POST", "/v1/payment_intents", _intent_form(tag), key=key)
    theirs = await _send(
        localstripe,
        "POST",
        "/v1/payment_intents",
        _intent_form(tag, amount=999),
        key=key,
        api_key="sk_test_another_account",
    )

    assert (mine.status, theirs.status) == (200, 200)
    assert not theirs.replayed
    assert theirs.json()["id"] != mine.json()["id"]
    assert await localstripe.count_payment_intents(metadata={"idem_test": tag}) == 2


async def test_a_4xx_answer_is_saved_and_replayed(localstripe: LocalStripe) -> None:
    """Stripe keeps whatever the endpoint answered: fixing the object does not help the key."""
    pi = await localstripe.request("POST", "/v1/payment_intents", dict(_intent_form("4xx")))
    path, key = f"/v1/payment_intents/{pi['id']}/confirm", _key("4xx")
    refused = await _send(localstripe, "POST", path, key=key)  # no payment method yet
    pm = await localstripe.create_card_payment_method(VISA)
    await localstripe.request("POST", f"/v1/payment_intents/{pi['id']}", {"payment_method": pm})

    again = await _send(localstripe, "POST", path, key=key)
    fresh = await _send(localstripe, "POST", path, key=_key("4xx-fresh"))

    assert (refused.status, refused.replayed) == (400, False)
    assert (again.status, again.replayed, again.body) == (400, True, refused.body)
    assert (fresh.status, fresh.json()["status"]) == (200, "succeeded")


async def test_a_500_answer_is_saved_and_replayed(localstripe: LocalStripe) -> None:
    """Stripe replays 500s too; localstripe answers 500 to confirm with a payment_method."""
    pi = await localstripe.request("POST", "/v1/payment_intents", dict(_intent_form("5xx")))
    path, key = f"/v1/payment_intents/{pi['id']}/confirm", _key("5xx")
    first = await _send(localstripe, "POST", path, [("payment_method", "pm_card_visa")], key=key)
    again = await _send(localstripe, "POST", path, [("payment_method", "pm_card_visa")], key=key)

    assert (first.status, first.replayed) == (500, False)
    assert (again.status, again.replayed, again.body) == (500, True, first.body)


async def test_a_replay_runs_nothing_again_so_no_second_event(localstripe: LocalStripe) -> None:
    key = _key("events")
    first = await _send(localstripe, "POST", "/v1/customers", [("email", "e@example.com")], key=key)
    events = await localstripe.count("events")
    again = await _send(localstripe, "POST", "/v1/customers", [("email", "e@example.com")], key=key)

    assert again.replayed
    assert again.json()["id"] == first.json()["id"]
    assert await localstripe.count("events") == events


async def test_a_key_longer_than_255_characters_is_refused(localstripe: LocalStripe) -> None:
    long_key = "k" * (MAX_KEY_LENGTH + 1)
    answer = await _send(localstripe, "POST", "/v1/customers", [("email", "l@x.com")], key=long_key)
    assert (answer.status, answer.error_type) == (400, "invalid_request_error")
    ok = await _send(localstripe, "POST", "/v1/customers", [("email", "l@x.com")], key="k" * 255)
    assert ok.status == 200


async def test_get_and_delete_ignore_the_key(localstripe: LocalStripe) -> None:
    """Stripe: a key has no effect on GET and DELETE (they are idempotent by definition)."""
    key = _key("delete")
    created = await _send(localstripe, "POST", "/v1/customers", [("email", "d@x.com")], key=key)
    customer = created.json()["id"]
    read = await _send(localstripe, "GET", f"/v1/customers/{customer}", key=key)
    deleted = await _send(localstripe, "DELETE", f"/v1/customers/{customer}", key=key)
    assert (read.status, read.replayed) == (200, False)
    assert (deleted.status, deleted.replayed, deleted.json()["deleted"]) == (200, False, True)


# --- over HTTP: through our gateway --------------------------------------------------------------
def _new_intent(payment_id: str) -> NewPaymentIntent:
    return NewPaymentIntent(payment_id=payment_id, amount=2500, currency="EUR", metadata={})


async def test_gateway_create_repeated_with_its_key_yields_one_payment_intent(
    gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    pay = f"pay_{uuid.uuid4().hex[:16]}"
    key = f"{pay}:create"
    first = await gateway.create_payment_intent(_new_intent(pay), idempotency_key=key)
    again = await gateway.create_payment_intent(_new_intent(pay), idempotency_key=key)

    assert again.stripe_id == first.stripe_id
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 1
    logged = await _logged(localstripe, "/v1/payment_intents", key, count=2)
    assert [r["replayed"] for r in logged] == ["-", "true"]


class LoseFirstAnswer:
    """TCP proxy to localstripe that lets the first request through, waits for its whole
    answer, then resets the caller's connection: Stripe did the work, the answer is lost.
    Later connections are piped both ways."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self.lost = 0

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        try:
            if self.lost == 0:
                up_writer.write(await _http_message(reader))
                await _http_message(up_reader)  # the whole answer: the endpoint has run
                self.lost += 1
                return
            await _until_either_ends(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            writer.transport.abort()
            up_writer.transport.abort()


async def _http_message(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + await reader.readexactly(length)


async def _until_either_ends(*copies: Awaitable[None]) -> None:
    """Until one direction closes (the client hung up): then the other is cut too."""
    tasks = [asyncio.ensure_future(copy) for copy in copies]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()


async def test_stripe_python_retry_after_a_lost_answer_yields_one_payment_intent(
    localstripe: LocalStripe,
) -> None:
    """stripe-python retries a failed connection with the same key; the replay answers it."""
    pay = f"pay_{uuid.uuid4().hex[:16]}"
    key = f"{pay}:create"
    proxy = LoseFirstAnswer(localstripe.port)
    async with proxy as base_url:
        config = StripeGatewayConfig(
            api_key=localstripe.api_key,
            api_base=base_url,
            timeout_s=10.0,
            max_network_retries=1,
        )
        gw = StripeGateway(config)
        try:
            created = await gw.create_payment_intent(_new_intent(pay), idempotency_key=key)
        finally:
            await gw.close()

    assert proxy.lost == 1
    assert created.payment_id == pay
    assert await localstripe.count_payment_intents(metadata={"payment_id": pay}) == 1
    logged = await _logged(localstripe, "/v1/payment_intents", key, count=2)
    assert [r["replayed"] for r in logged] == ["-", "true"]


# --- in process: the middleware over a handler the test controls --------------------------------
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def _served(store: IdempotencyStore, handler: Route) -> AsyncIterator[TestClient[Any, Any]]:
    async def route(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    app = web.Application(middlewares=[IdempotencyLayer(store).middleware])
    app.router.add_post("/v1/things", route)
    app.router.add_get("/v1/things", route)
    async with TestClient(TestServer(app)) as client:
        yield client


def _headers(key: str | None, auth: str = "Bearer sk_test_a") -> dict[str, str]:
    return {"Authorization": auth} | ({"Idempotency-Key": key} if key else {})


async def _post(
    client: TestClient[Any, Any],
    key: str | None,
    data: Any = None,
    *,
    path: str = "/v1/things",
    auth: str = "Bearer sk_test_a",
    content_type: str | None = None,
) -> Answer:
    headers = _headers(key, auth) | ({"Content-Type": content_type} if content_type else {})
    async with client.post(path, data=data, headers=headers) as response:
        return Answer(response.status, dict(response.headers), await response.read())


class Counted:
    """A handler that numbers its runs and answers ``{"run": n}`` (or what ``answer`` says)."""

    def __init__(self, answer: Callable[[int], web.StreamResponse] | None = None) -> None:
        self.runs = 0
        self._answer = answer or (lambda n: web.json_response({"run": n}))

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.runs += 1
        return self._answer(self.runs)


async def test_a_key_in_use_is_a_409_not_saved() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        entered.set()
        await release.wait()
        return web.json_response({"id": "thing_1"})

    async with _served(IdempotencyStore(), slow) as client:
        first = asyncio.ensure_future(_post(client, "k", {"a": "1"}))
        await entered.wait()  # the first request is inside the endpoint, holding the key
        busy = await _post(client, "k", {"a": "1"})
        busy_other = await _post(client, "k", {"a": "2"})
        release.set()
        done = await first
        after = await _post(client, "k", {"a": "1"})

    assert (busy.status, busy.error_type) == (409, "idempotency_error")
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    assert busy_other.status == 409
    assert (done.status, done.replayed) == (200, False)
    assert (after.status, after.replayed, after.body) == (200, True, done.body)


async def test_parameters_compare_parsed_and_order_insensitive() -> None:
    handler = Counted()
    async with _served(IdempotencyStore(), handler) as client:
        first = await _post(client, "form", b"a=1&b=2&b=3", content_type=FORM)
        same = await _post(client, "form", b"b=2&a=1&b=3", content_type=FORM)
        changed = await _post(client, "form", b"a=1&b=2&b=4", content_type=FORM)
        as_json = await _post(client, "json", b'{"a": 1, "b": [2]}', content_type=JSON)
        json_again = await _post(client, "json", b'{"b": [2], "a": 1}', content_type=JSON)

    assert (first.replayed, same.replayed, same.body) == (False, True, first.body)
    assert (changed.status, changed.error_type) == (400, "idempotency_error")
    assert (as_json.replayed, json_again.replayed) == (False, True)
    assert handler.runs == 2


async def test_basic_and_bearer_with_one_secret_key_share_a_scope() -> None:
    handler = Counted()
    basic = "Basic " + base64.b64encode(b"sk_test_a:").decode()
    async with _served(IdempotencyStore(), handler) as client:
        first = await _post(client, "k", {"a": "1"})
        same = await _post(client, "k", {"a": "1"}, auth=basic)
        other_key = await _post(client, "k", {"a": "1"}, auth="Bearer sk_test_b")

    assert (first.replayed, same.replayed, other_key.replayed) == (False, True, False)
    assert handler.runs == 2


async def test_a_crash_is_saved_as_the_500_aiohttp_answered() -> None:
    runs = []

    async def crashing(request: web.Request) -> web.StreamResponse:
        runs.append(1)
        raise RuntimeError("localstripe bug")

    async with _served(IdempotencyStore(), crashing) as client:
        first = await _post(client, "k", {"a": "1"})
        again = await _post(client, "k", {"a": "1"})

    assert (first.status, first.body, first.replayed) == (500, CRASH_BODY, False)
    assert (again.status, again.body, again.replayed) == (500, CRASH_BODY, True)
    assert len(runs) == 1


async def test_localstripe_errors_are_saved_with_their_status() -> None:
    runs = []

    async def declining(request: web.Request) -> web.StreamResponse:
        runs.append(1)
        raise UserError(402, "Card declined", {"code": "card_declined"})

    async with _served(IdempotencyStore(), declining) as client:
        first = await _post(client, "k", {"a": "1"})
        again = await _post(client, "k", {"a": "1"})

    assert (first.status, first.json()["error"]["code"]) == (402, "card_declined")
    assert (again.status, again.replayed, again.body) == (402, True, first.body)
    assert len(runs) == 1


@pytest.mark.parametrize("status", [409, 429])
async def test_409_and_429_answers_are_not_saved(status: int) -> None:
    handler = Counted(lambda n: web.json_response({"run": n}, status=status if n == 1 else 200))
    async with _served(IdempotencyStore(), handler) as client:
        first = await _post(client, "k", {"a": "1"})
        again = await _post(client, "k", {"a": "1"})

    assert first.status == status
    assert (again.status, again.replayed, again.json()) == (200, False, {"run": 2})


async def test_unrouted_and_unkeyed_requests_are_not_concerned() -> None:
    handler = Counted()
    async with _served(IdempotencyStore(), handler) as client:
        unrouted = await _post(client, "k", {"a": "1"}, path="/v1/nowhere")
        routed = await _post(client, "k", {"a": "1"})
        unkeyed = [await _post(client, None, {"a": "1"}) for _ in range(2)]
        async with client.get("/v1/things", headers=_headers("k")) as read:
            assert read.status == 200

    assert (unrouted.status, routed.status, routed.replayed) == (404, 200, False)
    assert [a.replayed for a in unkeyed] == [False, False]
    assert handler.runs == 4


async def test_saved_answers_expire_after_24_hours() -> None:
    now = [1000.0]
    handler = Counted()
    async with _served(IdempotencyStore(clock=lambda: now[0]), handler) as client:
        first = await _post(client, "k", {"a": "1"})
        now[0] += TTL_S - 1
        within = await _post(client, "k", {"a": "1"})
        now[0] += 2
        after = await _post(client, "k", {"a": "2"})  # a new request: other parameters are fine

    assert (first.replayed, within.replayed) == (False, True)
    assert (after.status, after.replayed, after.json()) == (200, False, {"run": 2})


async def test_the_store_is_bounded_oldest_first() -> None:
    store = IdempotencyStore(max_entries=2)
    handler = Counted()
    async with _served(store, handler) as client:
        for key in ("k1", "k2", "k3"):
            await _post(client, key, {"a": "1"})
        newest = await _post(client, "k3", {"a": "1"})
        oldest = await _post(client, "k1", {"a": "1"})

    assert newest.replayed
    assert (oldest.replayed, oldest.json()) == (False, {"run": 4})
    assert len(store) == 2


def test_store_settings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        IdempotencyStore(ttl_s=0)
    with pytest.raises(ValueError, match="positive"):
        IdempotencyStore(max_entries=0)
