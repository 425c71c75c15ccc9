"""profile=production refuses to start with what only development may use."""

from __future__ import annotations

from typing import Any

import pytest

from payment_service.config import ConfigError, load_settings

STRONG = "k" * 48
STRICT: dict[str, Any] = {
    "PAYMENT_PROFILE": "production",
    "PAYMENT_AUTH_HS256_SECRET": STRONG,
    "PAYMENT_GRPC_REFLECTION": "false",
    "PAYMENT_STRIPE_WEBHOOK_SECRETS": '["whsec_live_rotating_0123456789"]',
}


def _load(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> None:
    for name, value in {**STRICT, **changes}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    load_settings(None)


def test_a_strict_production_configuration_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    _load(monkeypatch)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (
            {"PAYMENT_AUTH_HS256_SECRET": "dev-only-secret-change-me-0123456789abcdef"},
            "development",
        ),
        ({"PAYMENT_AUTH_HS256_SECRET": "short-but-not-dev"}, "shorter than 32 bytes"),
        ({"PAYMENT_GRPC_REFLECTION": "true"}, "grpc_reflection"),
        ({"PAYMENT_STRIPE_WEBHOOK_SECRETS": "[]"}, "stripe_webhook_secrets"),
    ],
)
def test_production_refuses_a_development_shortcut(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        _load(monkeypatch, **changes)

    assert named in str(refused.value)
    assert STRONG not in str(refused.value)


def test_development_keeps_its_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    _load(
        monkeypatch,
        PAYMENT_PROFILE="development",
        PAYMENT_AUTH_HS256_SECRET="dev-only-secret-change-me-0123456789abcdef",
        PAYMENT_GRPC_REFLECTION="true",
        PAYMENT_STRIPE_WEBHOOK_SECRETS="[]",
    )
