"""Who is calling: the verified token reduced to what use cases need."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified caller. ``account_id`` set means the caller acts for that account only."""

    sub: str
    scopes: frozenset[str]
    account_id: str | None = None

    def may_access(self, account_id: str) -> bool:
        return self.account_id is None or self.account_id == account_id

    def require_account(self, account_id: str, resource: str = "account") -> None:
        """Raise NotFound (never PermissionDenied) so other accounts' ids leak nothing."""
        if not self.may_access(account_id):
            raise NotFound(resource, account_id)
