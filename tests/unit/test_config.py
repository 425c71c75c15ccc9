"""Settings: env over YAML over defaults, one-line key-naming errors, masked secrets, documented keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from payment_service.config import ConfigError, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PAYMENT_"):
            monkeypatch.delenv(name)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_file_or_env() -> None:
    settings = load_settings()
    assert settings.grpc_port == 50051
    assert settings.auth_algorithms == ["HS256"]


def test_yaml_overrides_defaults(tmp_path: Path) -> None:
    settings = load_settings(_yaml(tmp_path, "grpc_port: 6000\nlog_level: DEBUG\n"))
    assert settings.grpc_port == 6000
    assert settings.log_level == "DEBUG"
    assert settings.http_port == 8080  # untouched key keeps its default


def test_env_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_GRPC_PORT", "7000")
    monkeypatch.setenv("PAYMENT_AUTH_ALGORITHMS", '["HS256", "HS512"]')
    settings = load_settings(_yaml(tmp_path, "grpc_port: 6000\nhttp_port: 9000\n"))
    assert settings.grpc_port == 7000
    assert settings.http_port == 9000
    assert settings.auth_algorithms == ["HS256", "HS512"]


@pytest.mark.parametrize(
    ("yaml_text", "env", "key"),
    [
        ("grpc_port: 70000\n", {}, "grpc_port (PAYMENT_GRPC_PORT)"),
        ("", {"PAYMENT_SHUTDOWN_GRACE_S": "soon"}, "shutdown_grace_s (PAYMENT_SHUTDOWN_GRACE_S)"),
        ("log_level: LOUD\n", {}, "log_level (PAYMENT_LOG_LEVEL)"),
        ("no_such_key: 1\n", {}, "no_such_key (PAYMENT_NO_SUCH_KEY)"),
        ("auth_algorithms: [none]\n", {}, "auth_algorithms"),
    ],
)
def test_invalid_value_is_one_line_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_text: str, env: dict[str, str], key: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_yaml(tmp_path, yaml_text))
    message = str(raised.value)
    assert "\n" not in message
    assert key in message


def test_public_algorithms_need_public_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="auth_public_keys"):
        load_settings(_yaml(tmp_path, "auth_algorithms: [RS256]\n"))


def test_yaml_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(_yaml(tmp_path, "- a\n- b\n"))


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml")


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_AUTH_HS256_SECRET", "super-secret-value-1234567890")
    monkeypatch.setenv("PAYMENT_STRIPE_API_KEY", "sk_test_abcdef")
    settings = load_settings()
    assert "super-secret-value" not in repr(settings)
    assert "sk_test_abcdef" not in repr(settings)
    assert "sk_test_abcdef" not in str(settings.model_dump(mode="json"))
    assert settings.auth_hs256_secret is not None
    assert settings.auth_hs256_secret.get_secret_value() == "super-secret-value-1234567890"


def test_example_yaml_documents_every_key_with_its_default() -> None:
    text = (REPO_ROOT / "config.example.yaml").read_text(encoding="utf-8")
    documented = yaml.safe_load(text)
    assert set(documented) == set(Settings.model_fields)
    assert load_settings(REPO_ROOT / "config.example.yaml") == Settings()


def test_example_env_documents_every_key() -> None:
    text = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    documented = {
        m.lower() for m in re.findall(r"^#?\s*PAYMENT_([A-Z0-9_]+)=", text, flags=re.MULTILINE)
    }
    assert documented == set(Settings.model_fields)
