"""What the audit trail knows of the RPC being served: the account it named, its
request id, the peer and the client certificate, in a contextvar the gRPC layer sets.

Each asyncio task copies the context, so concurrent RPCs never see each other's facts;
background work (webhooks, the reconciler) runs with none.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RpcFacts:
    account_id: str | None = None
    request_id: str | None = None
    peer: str | None = None
    certificate: str | None = None


NO_FACTS = RpcFacts()
_FACTS: ContextVar[RpcFacts] = ContextVar("payment_service_rpc_facts", default=NO_FACTS)


def bind_rpc_facts(facts: RpcFacts) -> Token[RpcFacts]:
    return _FACTS.set(facts)


def unbind_rpc_facts(token: Token[RpcFacts]) -> None:
    _FACTS.reset(token)


def current_rpc_facts() -> RpcFacts:
    return _FACTS.get()
