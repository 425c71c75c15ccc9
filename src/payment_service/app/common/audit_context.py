"""What the audit trail knows of the work being done, in contextvars.

- Of an RPC: the account it named, its request id, the peer and the client certificate.
  The gRPC layer binds how to read them, not the facts: most calls (every read) write
  no audit row, and reading the peer's certificate costs a dictionary built by gRPC.
- Of work no RPC asked for (a reconciler task, an operator's replay): who acts and
  ``via`` what (``reconciler.finish_pending_payments``, ``cli.webhooks.replay``), so every
  row such work writes, deep in a use case, says it came from there.

Each asyncio task copies the context, so concurrent work never sees another's facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@dataclass(frozen=True, slots=True)
class SystemActor:
    actor: str  # "reconciler", "operator:alice"
    via: str  # "reconciler.refresh_stuck_payments", "cli.webhooks.replay"


_SYSTEM: ContextVar[SystemActor | None] = ContextVar("payment_service_system_actor", default=None)


@contextmanager
def acting_as(actor: str, via: str) -> Iterator[SystemActor]:
    """Audit rows written inside carry ``via``; rows of the action itself name ``actor``."""
    bound = SystemActor(actor, via)
    token = _SYSTEM.set(bound)
    try:
        yield bound
    finally:
        _SYSTEM.reset(token)


def current_system_actor() -> SystemActor | None:
    return _SYSTEM.get()


def system_actor_or(default: str) -> str:
    """The acting system actor's name, or ``default`` when none is bound."""
    bound = _SYSTEM.get()
    return default if bound is None else bound.actor
