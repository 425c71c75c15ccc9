"""Typed settings: environment (``PAYMENT_*``) over an optional YAML file over defaults.

Every key is documented in ``config.example.yaml`` and ``.env.example``. Secrets
are ``SecretStr`` so they are masked in every repr and log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "PAYMENT_"
# The HS256 secrets the repository hands to development setups (compose, make run).
DEVELOPMENT_HS256_SECRETS = frozenset(
    {
        "dev-only-hs256-secret-do-not-use-in-production",
        "dev-only-secret-change-me-0123456789abcdef",
        "change-me-to-at-least-32-random-bytes",
    }
)
MIN_HMAC_SECRET_BYTES = 32  # RFC 7518 3.2: a key of at least the hash size (HS256)
JwtAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"
]


class RateSetting(BaseModel):
    """A rate limit: calls per second, and how many may come at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_s: float = Field(gt=0)
    burst: int = Field(ge=1)


class ConfigError(Exception):
    """A one-line, key-naming description of an invalid configuration."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        case_sensitive=False,
        frozen=True,
    )

    # "production" refuses development shortcuts at start (see _production_is_strict).
    profile: Literal["development", "production"] = "development"

    # --- listeners -------------------------------------------------------
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(50051, ge=0, le=65535)
    grpc_max_receive_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    grpc_keepalive_time_s: float = Field(60.0, gt=0)
    grpc_keepalive_timeout_s: float = Field(20.0, gt=0)
    grpc_keepalive_min_ping_interval_s: float = Field(10.0, gt=0)
    grpc_reflection: bool = True
    # TLS for the gRPC listener (api/grpc/tls.py); a client CA makes it mutual TLS.
    grpc_tls_cert_file: str | None = None
    grpc_tls_key_file: str | None = None
    grpc_tls_client_ca_file: str | None = None
    grpc_tls_reload_s: float = Field(10.0, ge=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    shutdown_drain_s: float = Field(1.0, ge=0)
    shutdown_grace_s: float = Field(10.0, ge=0)

    # --- storage ---------------------------------------------------------
    database_url: str = Field("sqlite+aiosqlite:///./payment_service.db", repr=False)
    database_pool_size: int = Field(10, ge=1)
    database_max_overflow: int = Field(10, ge=0)
    database_pool_timeout_s: float = Field(5.0, gt=0)
    database_statement_timeout_ms: int = Field(5000, ge=0)
    database_echo: bool = False
    redis_url: SecretStr | None = None
    cache_ttl_s: float = Field(300.0, gt=0)

    # --- authentication --------------------------------------------------
    auth_issuer: str = "payment-service-dev"
    auth_audience: str = "payment-service"
    auth_algorithms: list[JwtAlgorithm] = Field(
        default_factory=lambda: list[JwtAlgorithm](["HS256"])
    )
    auth_hs256_secret: SecretStr | None = None
    auth_public_keys: list[str] = Field(default_factory=list)
    # RS*/ES* keys from a JWKS (security/jwks.py), beside or instead of auth_public_keys.
    auth_jwks_url: str | None = None
    auth_jwks_refresh_s: float = Field(300.0, gt=0)
    auth_jwks_unknown_kid_interval_s: float = Field(30.0, ge=0)
    auth_jwks_timeout_s: float = Field(5.0, gt=0)
    auth_jwks_key_lifespan_s: float = Field(86_400.0, gt=0)
    auth_leeway_s: float = Field(30.0, ge=0)
    auth_cache_size: int = Field(10_000, ge=0)

    # --- rate limits (security/rate_limits.py) -----------------------------
    # Per caller and method class, shared by replicas through Redis when configured;
    # "unauthenticated" is per peer address, for calls without a valid token.
    rate_limit_enabled: bool = True
    rate_limit_reads: RateSetting = Field(
        default_factory=lambda: RateSetting(per_s=5000, burst=10000)
    )
    rate_limit_writes: RateSetting = Field(
        default_factory=lambda: RateSetting(per_s=500, burst=1000)
    )
    rate_limit_refunds: RateSetting = Field(
        default_factory=lambda: RateSetting(per_s=50, burst=100)
    )
    rate_limit_unauthenticated: RateSetting = Field(
        default_factory=lambda: RateSetting(per_s=50, burst=200)
    )
    # Refused authentications are written to the audit trail once per peer per window.
    audit_refusals_window_s: float = Field(10.0, gt=0)

    # --- personal data at rest -----------------------------------------
    pii_encryption_keys: list[SecretStr] = Field(default_factory=list)
    pii_active_key_id: str | None = None

    # --- Stripe ----------------------------------------------------------
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_timeout_s: float = Field(20.0, gt=0)
    stripe_max_network_retries: int = Field(2, ge=0, le=10)
    # Our own budget below Stripe's limits (live: 100/s per account, 25/s per endpoint),
    # shared by replicas through Redis; a 429 is waited out within the caller's deadline.
    stripe_rate_limit_enabled: bool = True
    stripe_rate_limit: RateSetting = Field(default_factory=lambda: RateSetting(per_s=90, burst=90))
    stripe_endpoint_rate_limit: RateSetting = Field(
        default_factory=lambda: RateSetting(per_s=24, burst=24)
    )
    stripe_webhook_secrets: list[SecretStr] = Field(default_factory=list)
    stripe_webhook_tolerance_s: int = Field(300, ge=1)

    # --- payments --------------------------------------------------------
    currencies: list[str] = Field(
        default_factory=lambda: [
            "usd",
            "eur",
            "gbp",
            "jpy",
            "chf",
            "cad",
            "aud",
            "kwd",
            "bhd",
            "krw",
        ]
    )
    payment_refresh_after_s: float = Field(5.0, ge=0)

    # --- webhooks and the reconciler ------------------------------------
    # 2 s doubling to 600 s, then every 600 s: 450 attempts cover about 3 days (Stripe's window).
    webhook_max_attempts: int = Field(450, ge=1)
    webhook_retry_base_s: float = Field(2.0, gt=0)
    webhook_retry_max_delay_s: float = Field(600.0, gt=0)
    webhook_claim_lease_s: float = Field(0.0, ge=0)  # 0: derived from the Stripe timeout
    webhook_retry_poll_s: float = Field(5.0, gt=0)  # also: how often the backlog gauges refresh
    # Ingest/apply split: the endpoint stores (group commit), the appliers apply.
    webhook_apply_inline: bool = False  # True: apply within the request (the path before)
    webhook_appliers: int = Field(4, ge=1)  # applier tasks per process
    webhook_apply_batch: int = Field(50, ge=1)  # events claimed and applied per transaction
    webhook_apply_poll_s: float = Field(1.0, gt=0)  # for events other replicas stored
    webhook_ingest_max_batch: int = Field(64, ge=1)  # deliveries per INSERT and commit
    webhook_ingest_max_wait_s: float = Field(0.001, ge=0)  # a batch waits this long to fill
    reconcile_interval_s: float = Field(60.0, ge=0)
    reconcile_stuck_after_s: float = Field(300.0, ge=0)

    # --- events for callers (EventService, app/events) ---------------------
    events_heartbeat_s: float = Field(15.0, gt=0)
    events_stream_buffer: int = Field(1000, ge=1)
    events_poll_s: float = Field(1.0, gt=0)

    # --- event stream at scale (adapters/nats, docs/scaling.md) -----------
    # None: events are served from the outbox table (embedded); set: a relay publishes the
    # outbox to this NATS JetStream and WatchEvents on every replica reads from it.
    nats_url: SecretStr | None = None
    nats_stream: str = Field("PAYMENT_EVENTS", pattern=r"^[A-Za-z0-9_-]+$")
    nats_subject_prefix: str = Field(
        "payments.events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )
    nats_stream_storage: Literal["file", "memory"] = "file"
    nats_stream_replicas: int = Field(1, ge=1, le=5)
    nats_stream_max_age_s: float = Field(7 * 86_400.0, ge=0)  # 0: kept forever
    nats_stream_max_bytes: int = Field(0, ge=0)  # 0: no limit
    nats_duplicate_window_s: float = Field(120.0, gt=0)
    nats_connect_timeout_s: float = Field(5.0, gt=0)
    nats_publish_timeout_s: float = Field(5.0, gt=0)
    nats_relay_batch_size: int = Field(256, ge=1, le=10_000)

    # --- observability ---------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # OpenTelemetry (observability/tracing.py): where spans go; none keeps the SDK off.
    tracing_exporter: Literal["none", "console", "otlp-grpc", "otlp-http"] = "none"
    tracing_endpoint: str | None = None  # the exporter's default (or OTEL_* variables) if unset
    tracing_sample_ratio: float = Field(1.0, ge=0, le=1)
    # Recovery tests only: comma-separated crash points (bootstrap/failpoints.py).
    test_failpoints: str = ""

    @field_validator("currencies")
    @classmethod
    def _lowercase_currencies(cls, value: list[str]) -> list[str]:
        out = [c.strip().lower() for c in value]
        bad = [c for c in out if len(c) != 3 or not c.isalpha()]
        if bad:
            raise ValueError(f"not ISO 4217 codes: {bad}")
        return out

    @model_validator(mode="after")
    def _keys_for_algorithms(self) -> Settings:
        # Without any key the service still starts and rejects every token (fails closed).
        wants_public = any(not a.startswith("HS") for a in self.auth_algorithms)
        if wants_public and not (self.auth_public_keys or self.auth_jwks_url):
            raise ValueError(
                "auth_public_keys or auth_jwks_url: required when auth_algorithms has "
                "RS*/ES*/PS* entries"
            )
        return self

    @model_validator(mode="after")
    def _tls_files_pair(self) -> Settings:
        if (self.grpc_tls_cert_file is None) != (self.grpc_tls_key_file is None):
            raise ValueError("grpc_tls_cert_file and grpc_tls_key_file: set both or neither")
        if self.grpc_tls_client_ca_file is not None and self.grpc_tls_cert_file is None:
            raise ValueError("grpc_tls_client_ca_file: needs grpc_tls_cert_file and key_file")
        return self

    @model_validator(mode="after")
    def _production_is_strict(self) -> Settings:
        if self.profile != "production":
            return self
        problems = []
        secret = self.auth_hs256_secret.get_secret_value() if self.auth_hs256_secret else None
        if secret is not None and secret in DEVELOPMENT_HS256_SECRETS:
            problems.append("auth_hs256_secret: is a development secret")
        elif secret is not None and len(secret.encode()) < MIN_HMAC_SECRET_BYTES:
            problems.append(f"auth_hs256_secret: shorter than {MIN_HMAC_SECRET_BYTES} bytes")
        if self.grpc_reflection:
            problems.append("grpc_reflection: must be false (it hands out the whole schema)")
        if not self.stripe_webhook_secrets:
            problems.append("stripe_webhook_secrets: required (webhooks would not verify)")
        if problems:
            raise ValueError("profile production refuses: " + "; ".join(problems))
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield from super().__repr_args__()
        yield "database_url", re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then the YAML file's values (passed as init kwargs), then defaults.
        return (env_settings, init_settings)


def _one_line(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "config"
        env_name = ENV_PREFIX + key.split(".")[0].upper()
        parts.append(f"{key} ({env_name}): {item['msg']}")
    return "invalid configuration: " + "; ".join(parts)


def load_settings(config_file: Path | None = None) -> Settings:
    """Build and validate the settings; raise ConfigError with a one-line message."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"config file {config_file} is not valid YAML: {exc}".splitlines()[0]
            ) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping of keys to values")
        file_values = {str(k).lower(): v for k, v in loaded.items()}
    try:
        return Settings(**file_values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
