"""Wakeup: the ingest counts as busy only under a rate of deliveries, and not for long."""

from __future__ import annotations

import time

import pytest

from payment_service.app.webhooks import wakeup as wakeup_module
from payment_service.app.webhooks.wakeup import BUSY_EVENTS, BUSY_WINDOW_S, Wakeup


def test_a_few_deliveries_are_no_load() -> None:
    wakeup = Wakeup()
    assert not wakeup.ingest_busy()
    wakeup.stored(BUSY_EVENTS - 1)
    assert not wakeup.ingest_busy()


def test_a_stream_is_busy_until_two_quiet_windows_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(wakeup_module.time, "monotonic", lambda: now[0])
    wakeup = Wakeup()
    for _ in range(BUSY_EVENTS):
        wakeup.stored()
    assert wakeup.ingest_busy()
    now[0] += BUSY_WINDOW_S * 1.5  # the next window: the last one still counts
    assert wakeup.ingest_busy()
    now[0] += BUSY_WINDOW_S * 1.5
    assert not wakeup.ingest_busy()
    monkeypatch.setattr(wakeup_module.time, "monotonic", time.monotonic)


async def test_stored_wakes_an_idle_applier() -> None:
    wakeup = Wakeup()
    wakeup.stored(3)
    started = time.monotonic()
    await wakeup.wait(5)  # the missed wake-up lets it pass at once
    assert time.monotonic() - started < 1
