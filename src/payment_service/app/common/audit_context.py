"""What the audit trail knows of the RPC being served: the account it named, its
request id, the peer and the client certificate, in a contextvar the gRPC layer sets.

Each asyncio task copies the context, so concurrent RPCs never see each other's facts;
background work (webhooks, the reconciler) runs with none. The gRPC layer binds how to
read them, not the facts: most calls (every read) write no audit row, and reading the
peer's certificate costs a dictionary built by gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RpcFacts:
    account_id: str | None = None
    request_id: str | None = None
    peer: str | None = None
    certificate: str | None = None


NO_FACTS = RpcFacts()
Facts = Callable[[], RpcFacts]
_FACTS: ContextVar[Facts] = ContextVar("payment_service_rpc_facts", default=lambda: NO_FACTS)


def bind_rpc_facts(facts: RpcFacts | Facts) -> Token[Facts]:
    """Bind the facts, or how to read them when an audit row needs them."""
    return _FACTS.set(facts if callable(facts) else lambda: facts)


def unbind_rpc_facts(token: Token[Facts]) -> None:
    _FACTS.reset(token)


def current_rpc_facts() -> RpcFacts:
    return _FACTS.get()()
