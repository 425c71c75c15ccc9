"""One ``stripe.StripeClient`` and the one call path every Stripe gateway goes through.

``StripeConnection`` is built once from ``StripeGatewayConfig``: one aiohttp session,
no global ``stripe.api_key``, the compat shape (compat.py) the config picks.
``StripeCalls`` is the base of the gateways (payments: gateway.py, billing:
billing_gateway.py): every call's timeout is the configured one cut to the request's
remaining deadline (app/common/request_context.py), every POST carries the caller's
idempotency key (stripe-python reuses it on its own retries), and every Stripe error
leaves as a domain error (errors.py). An ``ObjectKind`` names one kind of Stripe object
and its mapping; ``_create`` and ``_retrieve`` are its create and read by id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp
import stripe

from payment_service.adapters.stripe import compat, errors, mapping, outbound
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.errors import CallContext
from payment_service.adapters.stripe.measured_http import MeasuredHTTPClient
from payment_service.app.common.request_context import remaining
from payment_service.domain.processor import RemotePaymentIntent

R = TypeVar("R")
Answer = TypeVar("Answer", bound=stripe.StripeObject)
Snapshot = TypeVar("Snapshot")
Params = TypeVar("Params")

# Below this many seconds left, a call cannot complete: fail before sending it.
MIN_CALL_SECONDS = 0.01
# 429s waited out before the call is UNAVAILABLE (each wait bounded by the deadline).
MAX_RATE_LIMIT_RETRIES = 3
# PaymentIntents come with their latest charge (receipt_url, amount_refunded).
PI_EXPAND = ["latest_charge"]

# What a card error left behind: the PaymentIntent, best effort.
DeclinedReader = Callable[[stripe.CardError], Awaitable[RemotePaymentIntent | None]]


@dataclass(frozen=True, slots=True)
class ObjectKind(Generic[Snapshot]):
    """One kind of Stripe object: its ``name``, the resource of its calls' CallContext
    (``create_<name>`` and ``retrieve_<name>`` the operations of ``StripeCalls._create``
    and ``_retrieve``), and ``to``, its JSON made our snapshot."""

    name: str
    to: Callable[[mapping.Obj], Snapshot]


class StripeConnection:
    """The StripeClient over one HTTP client; shareable by several gateways.

    ``http_client``: another stripe-python HTTP client (tests record requests with one);
    by default aiohttp with the configured timeout.
    """

    def __init__(
        self, config: StripeGatewayConfig, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        self.config = config
        self.shape = compat.api_shape(config.compat)
        http = http_client or stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=config.timeout_s)
        )
        seen = config.observer is not None or config.tracer_provider is not None
        self.http = (
            MeasuredHTTPClient(http, config.observer, config.tracer_provider) if seen else http
        )
        base = config.api_base.rstrip("/") if config.api_base else None
        self.client = stripe.StripeClient(
            config.api_key,
            # localstripe serves every API from one base.
            base_addresses=(
                {"api": base, "connect": base, "files": base, "meter_events": base}
                if base
                else None
            ),
            max_network_retries=config.max_network_retries,
            http_client=self.http,
        )

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]


class StripeCalls:
    """Base of the gateways: built from the config (it then owns, and closes, its own
    connection) or over a connection another gateway owns (closing it is that one's)."""

    def __init__(self, source: StripeGatewayConfig | StripeConnection) -> None:
        self._owns_connection = isinstance(source, StripeGatewayConfig)
        self._connection = (
            StripeConnection(source) if isinstance(source, StripeGatewayConfig) else source
        )
        self._config = self._connection.config
        self._shape = self._connection.shape
        self._client = self._connection.client

    @property
    def connection(self) -> StripeConnection:
        return self._connection

    @property
    def localstripe_compat(self) -> bool:
        return self._shape.name == "localstripe"

    async def close(self) -> None:
        if self._owns_connection:
            await self._connection.close()

    # --- the one call path ----------------------------------------------------------------
    def _timeout(self, ctx: CallContext) -> tuple[float, bool]:
        left = remaining()
        if left is None or left >= self._config.timeout_s:
            return self._config.timeout_s, False
        if left < MIN_CALL_SECONDS:
            raise errors.deadline_too_short(ctx)
        return left, True

    async def _call(
        self,
        ctx: CallContext,
        call: Callable[[], Awaitable[R]],
        *,
        declined: DeclinedReader | None = None,
    ) -> R:
        """Run ``call`` within our Stripe budget and the timeout; a 429 is waited out (its
        Retry-After) while the deadline allows, then UNAVAILABLE with RetryInfo; a card
        error becomes ProcessorCardDeclined with the PaymentIntent ``declined`` (default:
        the PaymentIntent call's) reads."""
        attempt = 0
        while True:
            if self._config.outbound is not None:
                await self._config.outbound.acquire(ctx.operation)
            try:
                return await self._call_once(ctx, call, declined)
            except stripe.RateLimitError as exc:
                wait = outbound.retry_after(exc)
                attempt += 1
                if attempt > MAX_RATE_LIMIT_RETRIES or not outbound.fits_deadline(wait):
                    raise outbound.rate_limited(wait) from exc
                await asyncio.sleep(wait)

    async def _call_once(
        self,
        ctx: CallContext,
        call: Callable[[], Awaitable[R]],
        declined: DeclinedReader | None,
    ) -> R:
        timeout, deadline_bound = self._timeout(ctx)
        try:
            async with asyncio.timeout(timeout):
                return await call()
        except TimeoutError as exc:
            raise errors.timed_out(ctx, deadline_bound=deadline_bound) from exc
        except stripe.CardError as exc:
            card_error = exc
        except stripe.RateLimitError:
            raise
        except stripe.StripeError as exc:
            raise errors.map_stripe_error(exc, ctx) from exc
        except mapping.StripeShapeError as exc:
            raise errors.unreadable(ctx, exc) from exc
        read = declined or self._declined_payment_intent
        pi = await self._best_effort(lambda: read(card_error))
        raise errors.card_declined(
            card_error,
            pi or errors.payment_intent_of(card_error),
            default_decline_code=self._shape.default_decline_code,
        ) from card_error

    async def _mapped(
        self,
        ctx: CallContext,
        call: Callable[[], Awaitable[Answer]],
        to: Callable[[mapping.Obj], Snapshot],
    ) -> Snapshot:
        """``call`` on the one call path, Stripe's object made our snapshot by ``to``."""

        async def mapped() -> Snapshot:
            return to((await call()).to_dict())

        return await self._call(ctx, mapped)

    async def _create(
        self,
        kind: ObjectKind[Snapshot],
        create: Callable[[Params, stripe.RequestOptions], Awaitable[Answer]],
        params: Params,
        idempotency_key: str,
    ) -> Snapshot:
        """``create(params, options)``: a POST of a new object of ``kind``, with the key."""
        options = self._post(idempotency_key)
        return await self._mapped(
            CallContext(f"create_{kind.name}", kind.name),
            lambda: create(params, options),
            kind.to,
        )

    async def _retrieve(
        self,
        kind: ObjectKind[Snapshot],
        retrieve: Callable[[str], Awaitable[Answer]],
        stripe_id: str,
    ) -> Snapshot:
        """``retrieve(stripe_id)``: the object of ``kind`` as Stripe has it now."""
        return await self._mapped(
            CallContext(f"retrieve_{kind.name}", kind.name, stripe_id),
            lambda: retrieve(stripe_id),
            kind.to,
        )

    async def _best_effort(
        self, read: Callable[[], Awaitable[RemotePaymentIntent | None]]
    ) -> RemotePaymentIntent | None:
        """``read`` within what remains of the deadline; None when it cannot answer."""
        left = remaining()
        timeout = self._config.timeout_s if left is None else min(left, self._config.timeout_s)
        if timeout < MIN_CALL_SECONDS:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await read()
        except (TimeoutError, stripe.StripeError, mapping.StripeShapeError):
            return None

    async def _declined_payment_intent(self, exc: stripe.CardError) -> RemotePaymentIntent | None:
        """The PaymentIntent a PaymentIntent call's decline left."""
        data = await self._shape.declined_payment_intent(self._client, exc, PI_EXPAND)
        return mapping.to_payment_intent(data) if data is not None else None

    async def _retrieve_payment_intent(self, stripe_id: str) -> RemotePaymentIntent:
        pi = await self._client.v1.payment_intents.retrieve_async(stripe_id, {"expand": PI_EXPAND})
        return mapping.to_payment_intent(pi.to_dict())

    @staticmethod
    def _post(idempotency_key: str) -> stripe.RequestOptions:
        if not idempotency_key:
            raise ValueError("every Stripe POST needs an idempotency key")
        return {"idempotency_key": idempotency_key}

    @staticmethod
    def _metadata(base: Mapping[str, str] | None, **ours: str) -> dict[str, str]:
        return {**dict(base or {}), **ours}
