"""The rows a caller may see only for the accounts they may act for (``caller.may_access``)."""

from __future__ import annotations

from typing import Protocol


class AccountOwned(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
