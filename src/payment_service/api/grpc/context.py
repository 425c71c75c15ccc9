"""The verified caller of the RPC being served, for servicers to pass on to use cases.

The interceptor sets it after authentication; each RPC runs in its own asyncio task,
so the value never leaks between calls. Servicers call ``current_caller()`` and hand
the plain ``Caller`` to the app layer (never gRPC metadata).
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from payment_service.domain.caller import Caller
from payment_service.domain.errors import Unauthenticated

_current_caller: ContextVar[Caller | None] = ContextVar("payment_service_caller", default=None)


def current_caller() -> Caller:
    """The authenticated caller; raises Unauthenticated outside an authenticated RPC."""
    caller = _current_caller.get()
    if caller is None:
        raise Unauthenticated("no authenticated caller for this call", reason="TOKEN_MISSING")
    return caller


def bind_caller(caller: Caller | None) -> Token[Caller | None]:
    """Set the caller for the current call; undo with ``unbind_caller(token)``."""
    return _current_caller.set(caller)


def unbind_caller(token: Token[Caller | None]) -> None:
    _current_caller.reset(token)
