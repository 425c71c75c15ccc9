"""Idempotency patch layer on localstripe 1.15.10: Stripe's ``Idempotency-Key`` promise.

Why: localstripe ignores the ``Idempotency-Key`` header, so a POST sent twice with one key
(stripe-python's own network retries, or our service repeating a call after a lost answer)
creates two objects there, where Stripe creates one. Tests then either miss a duplicate our
code would never make on Stripe, or pass with a key reused for different parameters, which
Stripe refuses. This module is an aiohttp middleware that keeps Stripe's documented v1 rules
(docs.stripe.com/api/idempotent_requests, docs.stripe.com/error-low-level):

- a key is remembered per API key, for 24 hours, in memory (at most ``MAX_ENTRIES`` keys;
  the oldest go first);
- the first response of a request that reached its endpoint is saved, its status and body,
  whatever they were: 2xx, 4xx and also 5xx (Stripe replays 500s);
- the same key again with the same method, path and parameters (the parsed form body and
  query, order-insensitive) gets that response again, with ``Idempotent-Replayed: true``,
  and the endpoint does not run again;
- the same key with other parameters or another path is a 400 ``idempotency_error``;
- the same key while its first request still runs is a 409 ``idempotency_error``
  (``idempotency_key_in_use``), not saved, so it may be retried;
- 409 and 429 answers are not saved (Stripe: they come from layers before the endpoint),
  nor requests that matched no route; keys longer than 255 characters are a 400.

Only ``POST /v1/...`` is concerned: Stripe says a key has no effect on GET and DELETE,
and ``/_config`` and ``/_test`` are this fake's own routes. tools/localstripe_server.py
installs it after localstripe's auth middleware (a 401 is never saved) and before the
billing layer's middlewares (a replay emits no event). docs/localstripe.md ("Idempotency
patch layer") says the same, and where it differs from Stripe.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from localstripe.errors import UserError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL_S = 24 * 3600.0
MAX_ENTRIES = 10_000
MAX_KEY_LENGTH = 255
NOT_SAVED = frozenset({HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS})
# What aiohttp answers when a handler raises (debug off): a replay gives back the same.
CRASH_BODY = (
    f"{HTTPStatus.INTERNAL_SERVER_ERROR.value} {HTTPStatus.INTERNAL_SERVER_ERROR.phrase}"
    f"\n\n{HTTPStatus.INTERNAL_SERVER_ERROR.description}"
).encode()

Scope = tuple[str, str]  # (API key, Idempotency-Key)
# Refusals are logged here (tools/localstripe_server.py sends it to stderr): which key, what differs.
logger = logging.getLogger("localstripe.idempotency")
Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a retry must repeat: the method, the path and the parameters, sorted."""

    method: str
    path: str
    params: Params


@dataclass(frozen=True, slots=True)
class Saved:
    """The first answer given for a key."""

    fingerprint: Fingerprint
    status: int
    body: bytes
    content_type: str
    charset: str | None
    saved_at: float


class IdempotencyStore:
    """Saved answers per (API key, Idempotency-Key), and the keys whose request still runs.

    Bounded: past ``max_entries`` the oldest saved answer is dropped; an answer older than
    ``ttl_s`` is forgotten, so its key starts a new request (as on Stripe after 24 h).
    """

    def __init__(
        self,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._saved: OrderedDict[Scope, Saved] = OrderedDict()
        self._running: dict[Scope, Fingerprint] = {}

    def __len__(self) -> int:
        self._expire()
        return len(self._saved)

    def saved(self, scope: Scope) -> Saved | None:
        self._expire()
        return self._saved.get(scope)

    def running(self, scope: Scope) -> bool:
        return scope in self._running

    def begin(self, scope: Scope, fingerprint: Fingerprint) -> None:
        if scope in self._running:
            raise RuntimeError(f"idempotency key already in use: {scope[1]!r}")
        self._running[scope] = fingerprint

    def end(self, scope: Scope, answer: Saved | None) -> None:
        """The request under ``scope`` is over; ``answer`` (when given) is kept for replays."""
        self._running.pop(scope, None)
        if answer is None:
            return
        self._saved.pop(scope, None)
        self._saved[scope] = answer
        while len(self._saved) > self.max_entries:
            self._saved.popitem(last=False)

    def _expire(self) -> None:
        oldest = self.clock() - self.ttl_s
        while self._saved:
            scope, answer = next(iter(self._saved.items()))
            if answer.saved_at > oldest:
                return
            del self._saved[scope]


# --- reading a request ---------------------------------------------------------------------
def _concerned(request: web.Request) -> bool:
    """A Stripe API write carrying a key, on a route that exists."""
    if request.method != "POST" or not request.path.startswith("/v1/"):
        return False
    if not request.headers.get(HEADER):
        return False
    return getattr(request.match_info, "http_exception", None) is None


def _body_params(request: web.Request, body: bytes) -> list[tuple[str, str]]:
    if not body:
        return []
    text = body.decode("utf-8", errors="replace")
    if request.content_type == "application/json":
        try:
            return [("", json.dumps(json.loads(text), sort_keys=True))]
        except json.JSONDecodeError:
            return [("", text)]
    return parse_qsl(text, keep_blank_values=True)


async def fingerprint_of(request: web.Request) -> Fingerprint:
    """Method, path and parameters (form body and query string), compared order-insensitively."""
    pairs = _body_params(request, await request.read()) + list(request.query.items())
    return Fingerprint(request.method, request.path, tuple(sorted(pairs)))


def api_key_of(request: web.Request, fingerprint: Fingerprint) -> str:
    """The key the caller authenticated with (localstripe's rules): Bearer or Basic secret key,
    else the publishable ``key`` parameter some routes accept; keys are scoped by it."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and credentials:
        return credentials
    if scheme == "Basic" and credentials:
        try:
            return base64.b64decode(credentials).decode("utf-8").split(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return credentials
    return next((value for name, value in fingerprint.params if name == "key"), "")


# --- answers ---------------------------------------------------------------------------------
def stripe_error(status: int, kind: str, message: str, code: str | None = None) -> web.Response:
    """Stripe's error body, laid out as localstripe lays out its own answers."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    text = json.dumps({"error": error}, indent=2, sort_keys=True) + "\n"
    return web.Response(status=status, text=text, content_type="application/json")


def _key_too_long() -> web.Response:
    return stripe_error(
        400,
        "invalid_request_error",
        f"Keys for idempotent requests can only be up to {MAX_KEY_LENGTH} characters long.",
    )


def _in_use(key: str) -> web.Response:
    logger.warning("IDEMPOTENCY_IN_USE key=%s", key)
    return stripe_error(
        409,
        "idempotency_error",
        "The idempotency key provided is currently being used in another request. This occurs"
        " if your integration is making duplicate requests simultaneously.",
        code="idempotency_key_in_use",
    )


def _differences(first: Fingerprint, now: Fingerprint) -> str:
    """What changed, for the log: the endpoint, or the parameters only one side has."""
    if (first.method, first.path) != (now.method, now.path):
        return f"first={first.method} {first.path} now={now.method} {now.path}"
    before, after = Counter(first.params), Counter(now.params)
    return f"path={now.path} first_only={sorted(before - after)} now_only={sorted(after - before)}"


def _mismatch(key: str, first: Fingerprint, now: Fingerprint) -> web.Response:
    logger.warning("IDEMPOTENCY_MISMATCH key=%s %s", key, _differences(first, now))
    try_other = f"Try using a key other than '{key}' if you meant to execute a different request."
    if (first.method, first.path) != (now.method, now.path):
        message = (
            "Keys for idempotent requests can only be used for the same endpoint they were"
            f" first used for ('{first.method} {first.path}' vs '{now.method} {now.path}')."
        )
    else:
        message = (
            "Keys for idempotent requests can only be used with the same parameters they were"
            " first used with."
        )
    return stripe_error(400, "idempotency_error", f"{message} {try_other}")


def _replay(answer: Saved) -> web.Response:
    response = web.Response(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        charset=answer.charset,
    )
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _snapshot(response: web.StreamResponse, fingerprint: Fingerprint, now: float) -> Saved | None:
    """What to keep of an answer the endpoint gave: None when Stripe would not keep it, or
    when it is not a plain body (nothing under /v1 answers a stream)."""
    if response.status in NOT_SAVED or not isinstance(response, web.Response):
        return None
    body = response.body
    if not isinstance(body, bytes):
        return None
    return Saved(fingerprint, response.status, body, response.content_type, response.charset, now)


def _crash(fingerprint: Fingerprint, now: float) -> Saved:
    return Saved(fingerprint, 500, CRASH_BODY, "text/plain", "utf-8", now)


# --- the middleware ----------------------------------------------------------------------------
class IdempotencyLayer:
    """The middleware (``layer.middleware``) over one IdempotencyStore."""

    def __init__(self, store: IdempotencyStore | None = None) -> None:
        self.store = store if store is not None else IdempotencyStore()

        @web.middleware
        async def idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
            """Stripe answers a repeated Idempotency-Key with the first answer, refuses it with
            other parameters (400) or while the first request runs (409)."""
            return await self._handle(request, handler)

        self.middleware: Middleware = idempotency

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _concerned(request):
            return await handler(request)
        key = request.headers[HEADER]
        if len(key) > MAX_KEY_LENGTH:
            return _key_too_long()
        fingerprint = await fingerprint_of(request)
        scope = (api_key_of(request, fingerprint), key)
        if self.store.running(scope):
            return _in_use(key)
        answer = self.store.saved(scope)
        if answer is None:
            return await self._first(scope, fingerprint, request, handler)
        if answer.fingerprint != fingerprint:
            return _mismatch(key, answer.fingerprint, fingerprint)
        return _replay(answer)

    async def _first(
        self, scope: Scope, fingerprint: Fingerprint, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        """Run the endpoint once and keep its answer; the key is free again however it ends."""
        self.store.begin(scope, fingerprint)
        answer: Saved | None = None
        try:
            try:
                response = await handler(request)
            except UserError as exc:  # localstripe's own errors, answered here to be saved
                response = exc.to_response()
            except web.HTTPException:
                raise  # aiohttp's routing answers: no endpoint ran
            except Exception:
                answer = _crash(fingerprint, self.store.clock())
                raise  # aiohttp logs it and answers CRASH_BODY
            answer = _snapshot(response, fingerprint, self.store.clock())
            return response
        finally:
            self.store.end(scope, answer)


def install(app: web.Application, store: IdempotencyStore | None = None) -> IdempotencyLayer:
    """Put the layer into localstripe's app, right after its auth middleware (so before the
    store and billing middlewares). Call before the app is started (frozen)."""
    from localstripe import server

    layer = IdempotencyLayer(store)
    middlewares = app.middlewares
    middlewares.insert(middlewares.index(server.save_store_middleware), layer.middleware)
    return layer
