"""The one server interceptor: auth, edge checks of the request, deadline, metrics, access
log and error mapping per call.

Health checks and reflection pass through untouched (no token, no log line). Every
other method's handler is wrapped once and cached by method name with what the wrapper
needs of it (``_Method``: name, scope), so the per-call cost is the wrapper itself: one
walk over the metadata (the token and any trace headers together), one dictionary
lookup for the cached token, the rate limit (in process or from a batch taken from
Redis), one walk over the request's set fields (``request_checks``), the server span
only when there is a trace (tracing.py), one metrics update and one access record. The
work runs in the call's own context copy until it first waits; only work that waits
gets a task of its own (in_flight.py: answered before the caller's deadline, seen by
shutdown), so a cached read makes none.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import grpc.aio
from opentelemetry.trace import TracerProvider

from payment_service.api.grpc.context import bind_caller
from payment_service.api.grpc.errors import internal_status, rich_status_for, to_grpc_status
from payment_service.api.grpc.in_flight import InFlightCalls
from payment_service.api.grpc.request_checks import check_request, tolerant
from payment_service.api.grpc.tls import certificate_identity
from payment_service.api.grpc.tracing import PROPAGATED, ServerSpans
from payment_service.app.common.audit_context import RpcFacts, bind_rpc_facts
from payment_service.app.common.refused_auth import RefusedAuthentications
from payment_service.app.common.request_context import answer_time, set_deadline, work_time
from payment_service.app.common.validation import is_loggable_request_id
from payment_service.domain.caller import Caller
from payment_service.domain.errors import DomainError, PermissionDenied, Unauthenticated
from payment_service.observability.logs import log_fields
from payment_service.observability.metrics import RpcMetrics
from payment_service.security.jwt_verifier import TOKEN_INVALID, TOKEN_MISSING, JwtVerifier
from payment_service.security.rate_limits import RateLimitPolicy, peer_address
from payment_service.security.scopes import is_public, required_scope

ACCESS_LOGGER = "payment_service.access"
_BEARER_PREFIX = "bearer "
_OK = grpc.StatusCode.OK
# Exceptions that already carry their outcome: a servicer's own abort, a cancelled call.
_PASS_THROUGH = (
    grpc.aio.AbortError,
    asyncio.CancelledError,
    GeneratorExit,
    KeyboardInterrupt,
    SystemExit,
)

Context = grpc.aio.ServicerContext[Any, Any]
Behavior = Callable[..., Any]
_Finish = Callable[[Any, Context], Coroutine[Any, Any, Any]]


@dataclass(frozen=True, slots=True)
class _Method:
    """What the wrapper needs to know about one method, computed once."""

    name: str
    scope: str | None
    behavior: Behavior


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        *,
        verifier: JwtVerifier,
        metrics: RpcMetrics,
        rate_limits: RateLimitPolicy | None = None,
        refusals: RefusedAuthentications | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.in_flight = InFlightCalls()
        self._spans = ServerSpans(tracer_provider)
        self._refusals = refusals
        self._verifier = verifier
        self._metrics = metrics
        self._rate_limits = rate_limits
        self._access_log = logging.getLogger(ACCESS_LOGGER)
        self._log = logging.getLogger(__name__)
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            inner = await continuation(handler_call_details)
            if inner is None:
                return (
                    None  # unknown method: gRPC answers UNIMPLEMENTED; never cache attacker input
                )
            handler = inner if is_public(method) else self._wrap(method, inner)
            self._handlers[method] = handler
        return handler

    # --- building wrapped handlers -----------------------------------------------------

    def _wrap(
        self, method: str, inner: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        scope = required_scope(method)
        for kind, build, finish in _HANDLER_KINDS:
            behavior = getattr(inner, kind)
            if behavior is not None:
                return build(
                    self._guarded(_Method(method, scope, behavior), finish),
                    request_deserializer=tolerant(inner.request_deserializer, method),
                    response_serializer=inner.response_serializer,
                )
        raise ValueError(f"handler for {method} has no behavior")

    def _guarded(
        self, method: _Method, finish: _Finish
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        """The behavior wrapped in auth, the edge checks of the request, deadline, error
        mapping and the access record.

        ``finish`` turns what the inner behavior returned into the call's answer: the
        awaited response for a unary response, the messages written for a stream. Work
        that waits goes on in a task of its own (in_flight.py); a unary response is
        answered in time for the caller's deadline, done or not.
        """
        answers_once = finish is _respond

        async def behavior(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            authorization, carrier = _read_metadata(context.invocation_metadata())
            span = self._spans.start_from(method.name, carrier)
            caller: Caller | None = None
            cancelled = False
            try:
                caller = await self._authorize(method, context, request, authorization)
                check_request(request)
                caller_left = context.time_remaining()
                answer_in = answer_time(caller_left) if answers_once else None
                work = finish(method.behavior(request, context), context)
                return await self.in_flight.answer(
                    work, _work_context(caller, caller_left), answer_in, method.name
                )
            except asyncio.CancelledError:
                cancelled = True
                raise
            except BaseException as exc:
                await self._fail(method, context, exc)
            finally:
                code = self._record(method, context, request, caller, started, cancelled=cancelled)
                span.end(code)

        return behavior

    # --- per-call steps --------------------------------------------------------------

    async def _authorize(
        self, method: _Method, context: Context, request: Any, authorization: str | bytes | None
    ) -> Caller:
        """The caller, within its rate limit (a call without a valid token counts against
        its peer's); the RPC's facts bound for the audit trail."""
        try:
            caller = await self._verifier.authenticate(_bearer_token(authorization))
        except Unauthenticated as refused:
            self._note_refusal(method, context, refused.reason, None)
            if self._rate_limits is not None:
                await self._rate_limits.check_peer(context.peer())
            raise
        if self._rate_limits is not None:
            await self._rate_limits.check_caller(caller.sub, method.name)
        bind_rpc_facts(functools.partial(_facts, context, request, caller))
        try:
            _check_scope(method, caller)
        except PermissionDenied as refused:
            self._note_refusal(method, context, refused.reason, caller.sub)
            raise
        return caller

    def _note_refusal(
        self, method: _Method, context: Context, reason: str, sub: str | None
    ) -> None:
        if self._refusals is not None:
            self._refusals.note(
                peer_address(context.peer()),
                reason,
                method.name,
                sub,
                certificate=lambda: certificate_identity(context.auth_context()),
            )

    async def _fail(self, method: _Method, context: Context, exc: BaseException) -> NoReturn:
        if isinstance(exc, _PASS_THROUGH):
            raise exc  # the servicer aborted with its own status, or the call was cancelled
        if isinstance(exc, DomainError):
            status = to_grpc_status(rich_status_for(exc))
            await context.abort(status.code, status.details, status.trailing_metadata)
        if context.code() == grpc.StatusCode.UNIMPLEMENTED:
            # The generated *Servicer base classes set UNIMPLEMENTED, then raise.
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
        self._log.error(
            "unhandled error in %s", method.name, exc_info=exc, extra={"method": method.name}
        )
        status = to_grpc_status(internal_status())
        await context.abort(status.code, status.details, status.trailing_metadata)

    def _record(
        self,
        method: _Method,
        context: Context,
        request: Any,
        caller: Caller | None,
        started: float,
        *,
        cancelled: bool,
    ) -> str:
        """Metrics and the access log line; the call's final code."""
        elapsed = time.perf_counter() - started
        code = _final_code(context, cancelled=cancelled)
        self._metrics.observe(method.name, code, elapsed)
        fields: dict[str, Any] = {
            "method": method.name,
            "code": code,
            "duration_ms": round(elapsed * 1000, 3),
            "peer": context.peer(),
            "sub": caller.sub if caller else None,
        }
        request_id = _request_id(request)
        if isinstance(request_id, str) and request_id:
            # Nothing that may be a card number (or megabytes of text) is written out.
            if is_loggable_request_id(request_id):
                fields["request_id"] = request_id
            else:
                fields["request_id_withheld"] = True
        log_fields(self._access_log, logging.INFO, "rpc", fields)
        return code


def _check_scope(method: _Method, caller: Caller) -> None:
    if method.scope is None:
        raise PermissionDenied(
            f"{method.name} is not open to any scope",
            reason="METHOD_NOT_ALLOWED",
            metadata={"method": method.name},
        )
    if method.scope not in caller.scopes:
        raise PermissionDenied(
            f"the token lacks the {method.scope} scope", metadata={"scope": method.scope}
        )


def _facts(context: Context, request: Any, caller: Caller) -> RpcFacts:
    """What an audit row tells of this RPC (bound in the call's own context)."""
    account_id = getattr(request, "account_id", "")
    request_id = getattr(request, "request_id", "")
    return RpcFacts(
        account_id=account_id if isinstance(account_id, str) and account_id else caller.account_id,
        request_id=request_id if isinstance(request_id, str) and request_id else None,
        peer=context.peer(),
        certificate=certificate_identity(context.auth_context()),
    )


def _read_metadata(
    metadata: Iterable[tuple[str, str | bytes]] | None,
) -> tuple[str | bytes | None, dict[str, Any] | None]:
    """One walk over the call's metadata: the first ``authorization`` value, and the
    trace headers (None when there are none)."""
    authorization: str | bytes | None = None
    carrier: dict[str, Any] | None = None
    for key, value in metadata or ():
        if key == "authorization":
            if authorization is None:
                authorization = value
        elif key in PROPAGATED:
            if carrier is None:
                carrier = {}
            carrier[key] = value
    return authorization, carrier


# Whether a request type has a ``request_id`` (looked up once per type, not raised per call).
_HAS_REQUEST_ID: dict[type, bool] = {}


def _request_id(request: Any) -> Any:
    """``getattr(request, "request_id", None)``."""
    kind = type(request)
    has = _HAS_REQUEST_ID.get(kind)
    if has is None:
        has = _HAS_REQUEST_ID[kind] = hasattr(request, "request_id")
    return request.request_id if has else None


def _bearer_token(authorization: str | bytes | None) -> str:
    if authorization is None:
        raise Unauthenticated("authorization metadata is missing", reason=TOKEN_MISSING)
    text = authorization if isinstance(authorization, str) else authorization.decode("latin-1")
    token = text[len(_BEARER_PREFIX) :].strip()
    if text[: len(_BEARER_PREFIX)].lower() != _BEARER_PREFIX or not token:
        raise Unauthenticated("authorization must be 'Bearer <token>'", reason=TOKEN_INVALID)
    return token


def _work_context(caller: Caller, caller_left: float | None) -> contextvars.Context:
    """A copy of the call's context that sees the caller and the work deadline, for the
    work to run in (the interceptor's own context is left as it was)."""
    work = contextvars.copy_context()
    work.run(_bind_work, caller, work_time(caller_left))
    return work


def _bind_work(caller: Caller, seconds: float | None) -> None:
    bind_caller(caller)
    set_deadline(seconds)


def _final_code(context: Context, *, cancelled: bool) -> str:
    code = context.code()
    if code is None:
        code = grpc.StatusCode.CANCELLED if cancelled or context.cancelled() else _OK
    return str(code.name)


async def _respond(result: Any, context: Context) -> Any:
    """A unary response: the behavior's value, awaited when it is a coroutine."""
    if inspect.isawaitable(result):
        result = await result
    return result


async def _write_all(result: Any, context: Context) -> None:
    """A streamed response, always via context.write: async generators, sync iterators
    and coroutine (reader/writer API) behaviors alike."""
    if inspect.isawaitable(result):
        await result  # coroutine behavior that writes with context.write itself
    elif isinstance(result, AsyncIterator):
        async for message in result:
            await context.write(message)
    elif isinstance(result, Iterable):
        for message in result:
            await context.write(message)


# Which attribute of a handler holds the behavior, how to rebuild it, how to finish a call.
_HANDLER_KINDS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]], _Finish], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, _respond),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, _respond),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, _write_all),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, _write_all),
)
