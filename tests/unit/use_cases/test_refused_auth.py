"""Refused authentications are gathered per (peer, reason) and written a window at a time."""

from __future__ import annotations

from typing import Any

import pytest

from payment_service.app.common.refused_auth import OTHER_PEERS, RefusedAuthentications
from payment_service.domain.entities import AuditEntry
from tests.unit.fakes.storage import FakeUnitOfWorkFactory

METHOD = "/payments.v1.PaymentService/GetPayment"


async def _rows(factory: FakeUnitOfWorkFactory, peer: str) -> list[AuditEntry]:
    async with factory(read_only=True) as uow:
        return await uow.audit.list_for_object("peer", peer)


async def test_a_flood_from_one_peer_is_one_row_with_its_count() -> None:
    factory = FakeUnitOfWorkFactory()
    refusals = RefusedAuthentications(factory)
    read_certificate = []

    def certificate() -> str:
        read_certificate.append(1)
        return "CN=intruder"

    for _ in range(10_000):
        refusals.note("10.0.0.7", "TOKEN_INVALID", METHOD, certificate=certificate)

    assert await refusals.flush() == 1
    [row] = await _rows(factory, "10.0.0.7")
    assert (row.action, row.outcome, row.actor) == ("auth.refused", "TOKEN_INVALID", "anonymous")
    assert row.detail["count"] == "10000"
    assert (row.peer, row.certificate) == ("10.0.0.7", "CN=intruder")
    assert len(read_certificate) == 1  # read for the first refusal of the window only
    assert await refusals.flush() == 0  # nothing new: no row


async def test_peers_past_the_bound_are_counted_together() -> None:
    factory = FakeUnitOfWorkFactory()
    refusals = RefusedAuthentications(factory, max_peers=3)
    for n in range(50):
        refusals.note(f"10.0.1.{n}", "TOKEN_MISSING", METHOD)

    assert await refusals.flush() == 4
    [rest] = await _rows(factory, OTHER_PEERS)
    assert rest.detail["count"] == "47"


async def test_subjects_and_methods_are_sampled() -> None:
    factory = FakeUnitOfWorkFactory()
    refusals = RefusedAuthentications(factory)
    for n in range(8):
        refusals.note("10.0.0.8", "MISSING_SCOPE", f"/m/{n}", sub="svc-a" if n < 4 else "svc-b")

    await refusals.flush()
    [row] = await _rows(factory, "10.0.0.8")
    assert row.actor == "several"
    assert row.detail["subjects"] == "svc-a,svc-b"
    assert row.detail["methods"].split(",") == [f"/m/{n}" for n in range(5)]


class _Unwritable(FakeUnitOfWorkFactory):
    """The database away for the first flush (a stand-in no real part gives this cheaply)."""

    failing = True

    def __call__(self, *, read_only: bool = False) -> Any:
        if self.failing:
            raise ConnectionError("database unreachable")
        return super().__call__(read_only=read_only)


async def test_a_window_not_written_is_kept_for_the_next() -> None:
    factory = _Unwritable()
    refusals = RefusedAuthentications(factory)
    for _ in range(3):
        refusals.note("10.0.0.9", "TOKEN_EXPIRED", METHOD)
    with pytest.raises(ConnectionError):
        await refusals.flush()
    refusals.note("10.0.0.9", "TOKEN_EXPIRED", METHOD)
    assert refusals.pending == 4

    factory.failing = False
    assert await refusals.flush() == 1
    [row] = await _rows(factory, "10.0.0.9")
    assert row.detail["count"] == "4"
