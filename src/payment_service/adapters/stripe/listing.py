"""Reading a Stripe list past its first page: the one place that follows the cursor."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import stripe

# Lists are read a page of this many at a time (Stripe's maximum).
PAGE_SIZE = 100

Params = TypeVar("Params", bound=Mapping[str, Any])
Item = TypeVar("Item", bound=stripe.StripeObject)


async def each_listed(
    list_page: Callable[[Params], Awaitable[stripe.ListObject[Item]]],
    params: Params,
    *,
    max_pages: int | None = None,
) -> AsyncGenerator[Item, None]:
    """Every item of the list ``list_page`` reads, in Stripe's order, page after page
    (``params`` ask for the first; at most ``max_pages`` pages when given). Left before its
    end, close it (``contextlib.aclosing``)."""
    pages = 0
    while max_pages is None or pages < max_pages:
        page = await list_page(params)
        pages += 1
        for item in page.data:
            yield item
        if not page.has_more or not page.data:
            return
        # Every list's params take `starting_after`; no TypedDict bound can say so.
        params = cast(Params, {**params, "starting_after": page.data[-1]["id"]})
