"""request_id values for writes (AIP-155).

The service answers a repeated request_id with the first call's result, so a retry with
the same id is safe and a new id is a new operation. Make the id once per operation and
keep it across retries: ``request_id_for`` derives it from the caller's own key (an order
id), so a restarted caller retries with the same id without having stored it.
"""

from __future__ import annotations

import uuid
from typing import Protocol

# Namespace of the ids request_id_for derives (UUID version 5 under it).
NAMESPACE = uuid.UUID("6f1f5d3e-2b8a-5c3e-9a41-7d0c2e5b8f10")


class HasRequestId(Protocol):
    request_id: str


def new_request_id() -> str:
    """A fresh random request_id (a UUID)."""
    return str(uuid.uuid4())


def request_id_for(*key: str) -> str:
    """The same request_id for the same ``key`` parts (``request_id_for("order-42", "charge")``)."""
    if not key:
        raise ValueError("request_id_for needs at least one key part")
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(key)))


def ensure_request_id(request: HasRequestId) -> str:
    """``request.request_id``, set to a new one first when empty; send ``request`` itself
    again to retry."""
    if not request.request_id:
        request.request_id = new_request_id()
    return request.request_id
