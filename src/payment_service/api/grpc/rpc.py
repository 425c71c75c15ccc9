"""How a unary RPC method is built from the typed call it makes.

A servicer method is written as ``async def Rpc(self, request, caller) -> value``: the use
case called for the authenticated caller. The decorator makes it the method the generated
base class expects (``request, context``) and puts the value in the response message, so
the "current caller, call, wrap the proto" steps are written once here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import grpc.aio

from payment_service.api.grpc.context import current_caller
from payment_service.domain.caller import Caller
from payment_service.domain.pagination import Page, PageRequest

Context = grpc.aio.ServicerContext[object, object]

S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")
T = TypeVar("T")

Call = Callable[[S, Req, Caller], Awaitable[T]]
Method = Callable[[S, Req, Context], Awaitable[Resp]]


class PagedRequest(Protocol):
    @property
    def page_size(self) -> int: ...
    @property
    def page_token(self) -> str: ...


def page_of(request: PagedRequest) -> PageRequest:
    """The page a List request asks for."""
    return PageRequest(request.page_size, request.page_token)


def replies(
    answer: Callable[[T], Resp],
) -> Callable[[Call[S, Req, T]], Method[S, Req, Resp]]:
    """The RPC answers ``answer(value)`` for the value the call returns."""

    def build(call: Call[S, Req, T]) -> Method[S, Req, Resp]:
        async def method(self: S, request: Req, context: Context) -> Resp:
            return answer(await call(self, request, current_caller()))

        method.__name__ = method.__qualname__ = getattr(call, "__name__", "rpc")
        return method

    return build


_REUSED_ANSWERS = 1024


def answers(
    response: Callable[..., Resp],
    field: str,
    to_proto: Callable[[T], object],
    *,
    reuse: bool = False,
) -> Callable[[Call[S, Req, T]], Method[S, Req, Resp]]:
    """The RPC answers ``response(<field>=to_proto(value))``.

    ``reuse``: the call hands out shared objects that nobody changes (a cached read:
    PaymentStore.cached), so the same object gets the same, already built, response
    (gRPC only serializes it).
    """
    if not reuse:
        return replies(lambda value: response(**{field: to_proto(value)}))
    built: dict[int, tuple[T, Resp]] = {}

    def answer(value: T) -> Resp:
        seen = built.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        message = response(**{field: to_proto(value)})
        if len(built) >= _REUSED_ANSWERS:
            built.clear()
        built[id(value)] = (value, message)
        return message

    return replies(answer)


def answers_page(
    response: Callable[..., Resp], field: str, to_proto: Callable[[T], object]
) -> Callable[[Call[S, Req, Page[T]]], Method[S, Req, Resp]]:
    """The RPC answers the page: ``response(<field>=[to_proto(item)...], next_page_token=...)``."""
    return replies(
        lambda page: response(
            **{field: [to_proto(item) for item in page.items]},
            next_page_token=page.next_page_token,
        )
    )
