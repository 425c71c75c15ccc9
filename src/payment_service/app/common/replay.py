"""AIP-155 request ids: one ledger of answered requests, replayed on a retry.

A mutating request is identified by (caller, request_id) and fingerprinted by
a hash of its meaningful fields. The first answer is recorded with the change
it made (same transaction); a retry with the same body gets that answer again,
one with another body gets REQUEST_ID_REUSED. A card decline is an answer too:
its details are recorded so the retry raises the same decline. A write that
calls Stripe on an existing object records its request as pending first
(``RequestLedger.begin``), so a retry after a lost answer is known as one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from payment_service.app.ports.storage import UnitOfWork, UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.entities import RequestRecord
from payment_service.domain.entities.request_record import PENDING_RESPONSE
from payment_service.domain.errors import CardDeclined, Conflict, RequestIdReused

_DECLINED = "CARD_DECLINED"


def request_hash(method: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the method and the canonical JSON of the fields (sorted keys)."""
    canonical = json.dumps(
        {"method": method, "fields": fields}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class RequestOrigin(TypedDict):
    """What a row made by a request keeps of it: a retry finds the row by (caller,
    request_id) and tells a reused request_id by the hash of its body."""

    caller: str
    request_id: str
    request_hash: str


class MadeByRequest(Protocol):
    caller: str
    request_id: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class MutationRequest:
    """One mutating call as the ledger knows it."""

    caller: str
    method: str
    request_id: str
    body_hash: str

    @classmethod
    def of(
        cls, caller: Caller, method: str, request_id: str, fields: Mapping[str, Any]
    ) -> MutationRequest:
        return cls(caller.sub, method, request_id, request_hash(method, fields))

    @classmethod
    def that_made(cls, method: str, row: MadeByRequest) -> MutationRequest:
        """The ``method`` request that made ``row``, as a retry of it is known."""
        return cls(row.caller, method, row.request_id, row.request_hash)

    def origin(self) -> RequestOrigin:
        """The fields of a row this request makes (``Row(**request.origin(), …)``)."""
        return RequestOrigin(
            caller=self.caller, request_id=self.request_id, request_hash=self.body_hash
        )


@dataclass
class RequestLedger:
    uow_factory: UnitOfWorkFactory

    async def find(self, request: MutationRequest) -> RequestRecord | None:
        """The recorded answer of this request; RequestIdReused when the body differs."""
        async with self.uow_factory(read_only=True) as uow:
            return await recorded(uow, request)

    async def begin(self, request: MutationRequest, resource_id: str) -> RequestRecord | None:
        """Record the request as pending before its Stripe call; the record another replica
        made first when it got there first (``None`` when this one is the first)."""
        try:
            async with self.uow_factory() as uow:
                await record(uow, request, resource_id, response=PENDING_RESPONSE)
                await uow.commit()
        except Conflict:
            return await self.find(request)
        return None

    async def remember_decline(
        self, request: MutationRequest, resource_id: str, error: CardDeclined
    ) -> None:
        """Record a decline on its own (the decline's state change is already committed)."""
        try:
            async with self.uow_factory() as uow:
                await record(uow, request, resource_id, response=_encode_decline(error))
                await uow.commit()
        except Conflict:
            pass  # another replica recorded the same request first


async def recorded(uow: UnitOfWork, request: MutationRequest) -> RequestRecord | None:
    found = await uow.request_records.get(request.caller, request.request_id)
    if found is not None and not found.matches(request.method, request.body_hash):
        raise RequestIdReused(request.request_id)
    return found


async def record(
    uow: UnitOfWork, request: MutationRequest, resource_id: str, *, response: bytes | None = None
) -> None:
    """Record the answer in ``uow`` (answering a pending record, or as a new one); it commits
    with the change it answers for. Conflict when another replica answered first."""
    answer = RequestRecord(
        **request.origin(), method=request.method, resource_id=resource_id, response=response
    )
    if response == PENDING_RESPONSE:
        # Nothing reads it before the commit, which raises its Conflict like the INSERT.
        await uow.request_records.add_with_commit(answer)
    elif not await uow.request_records.complete(answer):
        await uow.request_records.add(answer)


def raise_recorded_decline(record: RequestRecord, payment_id: str) -> None:
    """Raise the decline the recorded answer was, if it was one."""
    if not record.response:
        return
    outcome = json.loads(record.response)
    if outcome.get("error") == _DECLINED:
        raise CardDeclined(
            outcome.get("message") or "the card was declined",
            code=outcome.get("code", ""),
            decline_code=outcome.get("decline_code", ""),
            payment_id=payment_id,
        )


def _encode_decline(error: CardDeclined) -> bytes:
    return json.dumps(
        {
            "error": _DECLINED,
            "message": error.message,
            "code": error.code,
            "decline_code": error.decline_code,
        }
    ).encode()
