"""What every call of a client channel gets: a bearer token, a default deadline, typed errors.

``CallPolicy`` holds the rules; ``SyncPolicyInterceptor`` and ``AsyncPolicyInterceptor``
apply them to unary calls (every payments.v1 RPC is unary). A call that sets its own
``timeout`` or ``authorization`` metadata keeps them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import grpc
import grpc.aio

from payments_client.errors import from_rpc_error

AUTHORIZATION = "authorization"
DEFAULT_TIMEOUT_S = 10.0

# A callable giving the bearer token (without "Bearer "), called once per call: cache and
# refresh the token in it. grpc.aio channels also take coroutine functions.
SyncTokenProvider = Callable[[], str]
TokenProvider = Callable[[], str | Awaitable[str]]

Request = TypeVar("Request")
Response = TypeVar("Response")
Metadatum = tuple[str, str | bytes]


@dataclass(frozen=True)
class CallPolicy:
    """``default_timeout_s`` for calls without a timeout (None: no deadline), overridden per
    method by ``timeouts`` (keys ``"CreatePayment"`` or ``"/payments.v1.PaymentService/CreatePayment"``)."""

    token_provider: TokenProvider | None = None
    default_timeout_s: float | None = DEFAULT_TIMEOUT_S
    timeouts: Mapping[str, float] = field(default_factory=dict)

    def timeout_for(self, method: str | bytes, timeout: float | None) -> float | None:
        if timeout is not None:
            return timeout
        name = method.decode() if isinstance(method, bytes) else method
        if name in self.timeouts:
            return self.timeouts[name]
        return self.timeouts.get(name.rsplit("/", 1)[-1], self.default_timeout_s)

    def needs_token(self, metadata: Iterable[Metadatum]) -> bool:
        return self.token_provider is not None and all(key != AUTHORIZATION for key, _ in metadata)


def _bearer(token: str) -> Metadatum:
    return (AUTHORIZATION, f"Bearer {token}")


class _SyncDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _SyncCallDetails(_SyncDetails, grpc.ClientCallDetails):
    """grpc.ClientCallDetails is abstract; this is the usual concrete one."""


class SyncPolicyInterceptor(grpc.UnaryUnaryClientInterceptor):
    """The policy on a blocking ``grpc.Channel`` (a ``.future()`` call blocks here too:
    use grpc.aio for concurrency)."""

    def __init__(self, policy: CallPolicy) -> None:
        self._policy = policy

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, Request], Any],
        client_call_details: grpc.ClientCallDetails,
        request: Request,
    ) -> Any:
        metadata: list[Metadatum] = list(client_call_details.metadata or ())
        provider = self._policy.token_provider
        if provider is not None and self._policy.needs_token(metadata):
            token = provider()
            if not isinstance(token, str):
                raise TypeError("a sync channel needs a token provider that returns a str")
            metadata.append(_bearer(token))
        details = _SyncCallDetails(
            client_call_details.method,
            self._policy.timeout_for(client_call_details.method, client_call_details.timeout),
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
            client_call_details.compression,
        )
        outcome = continuation(details, request)
        # A failed blocking call comes back as its RpcError; a .future() call as a Future.
        error = outcome.exception() if isinstance(outcome, grpc.Future) else outcome
        if isinstance(error, grpc.RpcError):
            raise from_rpc_error(error) from error
        return outcome


class AsyncPolicyInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """The policy on a ``grpc.aio.Channel``."""

    def __init__(self, policy: CallPolicy) -> None:
        self._policy = policy

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, Request],
            Awaitable[grpc.aio.UnaryUnaryCall[Request, Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Request,
    ) -> Response | grpc.aio.UnaryUnaryCall[Request, Response]:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        provider = self._policy.token_provider
        if provider is not None and self._policy.needs_token(metadata):
            token = provider()
            if inspect.isawaitable(token):
                token = await token
            metadata.add(*_bearer(token))
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            self._policy.timeout_for(client_call_details.method, client_call_details.timeout),
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        call = await continuation(details, request)
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from error
