"""A fresh service over fresh fakes for every test: no database, no network, no sleeps."""

from __future__ import annotations

import pytest

from tests.unit.use_cases.support import Service


@pytest.fixture
def service() -> Service:
    return Service()
