"""Channels to the payment service: retries, default deadlines, a token, TLS.

Both factories give a channel the generated stubs take as they are::

    channel = payments_client.aio_channel("payments:50051", token_provider=tokens.get)
    payments = payment_service_pb2_grpc.PaymentServiceStub(channel)
    reply = await payments.GetPayment(GetPaymentRequest(id=payment_id))

UNAVAILABLE is retried by gRPC itself with exponential backoff (``RetryPolicy``), writes
included: that is safe because every write carries a request_id, and the service answers
a repeated request_id with the first call's result (or finishes the first call's work)
instead of doing it twice. Keep the request_id when you retry by hand too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from payments.v1 import (
    invoice_service_pb2,
    payment_service_pb2,
    refund_service_pb2,
    subscription_service_pb2,
)

from payments_client.interceptors import (
    DEFAULT_TIMEOUT_S,
    AsyncPolicyInterceptor,
    CallPolicy,
    SyncPolicyInterceptor,
    SyncTokenProvider,
    TokenProvider,
)

SERVICES = tuple(
    service.full_name
    for module in (
        payment_service_pb2,
        refund_service_pb2,
        subscription_service_pb2,
        invoice_service_pb2,
    )
    for service in module.DESCRIPTOR.services_by_name.values()
)
USER_AGENT = "payments-client-python"
ChannelOptions = Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC's retry policy for UNAVAILABLE (at most 5 attempts; gRPC caps it there).

    Retries stop at the call's deadline, and gRPC's retry throttling stops them when most
    calls fail (tokens: ``throttle_max_tokens``, each success gives back ``throttle_token_ratio``).
    """

    max_attempts: int = 4
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    backoff_multiplier: float = 2.0
    throttle_max_tokens: int = 10
    throttle_token_ratio: float = 0.1

    def service_config(self) -> dict[str, Any]:
        """The gRPC service config (JSON object) for the payments.v1 services."""
        return {
            "methodConfig": [
                {
                    "name": [{"service": name} for name in SERVICES],
                    "retryPolicy": {
                        "maxAttempts": self.max_attempts,
                        "initialBackoff": f"{self.initial_backoff_s}s",
                        "maxBackoff": f"{self.max_backoff_s}s",
                        "backoffMultiplier": self.backoff_multiplier,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ],
            "retryThrottling": {
                "maxTokens": self.throttle_max_tokens,
                "tokenRatio": self.throttle_token_ratio,
            },
        }


@dataclass(frozen=True)
class TlsOptions:
    """TLS towards the service: ``root_certificates`` (PEM CA bundle; None: the system's),
    and for mutual TLS the client's ``certificate_chain`` and ``private_key``.
    ``server_name`` overrides the name the server's certificate is checked against."""

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError("mutual TLS needs both certificate_chain and private_key")

    @classmethod
    def from_files(
        cls,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        *,
        server_name: str | None = None,
    ) -> TlsOptions:
        def read(path: str | Path | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return cls(read(ca_file), read(cert_file), read(key_file), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def options(self) -> list[tuple[str, Any]]:
        return (
            []
            if self.server_name is None
            else [("grpc.ssl_target_name_override", self.server_name)]
        )


def channel_options(
    retry: RetryPolicy | None, tls: TlsOptions | None = None, extra: ChannelOptions = ()
) -> list[tuple[str, Any]]:
    """The channel arguments: retries on (with ``retry``'s config) or off, ``tls``'s, then
    ``extra``."""
    options: list[tuple[str, Any]] = [("grpc.primary_user_agent", USER_AGENT)]
    if retry is None:
        options.append(("grpc.enable_retries", 0))
    else:
        options.append(("grpc.enable_retries", 1))
        options.append(("grpc.service_config", json.dumps(retry.service_config())))
    return [*options, *(tls.options() if tls else []), *extra]


def aio_channel(
    target: str,
    *,
    token_provider: TokenProvider | None = None,
    default_timeout_s: float | None = DEFAULT_TIMEOUT_S,
    timeouts: Mapping[str, float] | None = None,
    tls: TlsOptions | None = None,
    retry: RetryPolicy | None = RetryPolicy(),
    options: ChannelOptions = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel to ``target`` ("host:port"), plaintext unless ``tls`` is given.

    ``token_provider`` (sync or async callable) gives the bearer token for each call;
    calls without a timeout get ``timeouts[method]`` or ``default_timeout_s``.
    Failed calls raise ``PaymentServiceError`` subclasses.
    """
    policy = CallPolicy(token_provider, default_timeout_s, dict(timeouts or {}))
    interceptors = [AsyncPolicyInterceptor(policy)]
    all_options = channel_options(retry, tls, options)
    if tls is None:
        return grpc.aio.insecure_channel(target, options=all_options, interceptors=interceptors)
    return grpc.aio.secure_channel(
        target, tls.credentials(), options=all_options, interceptors=interceptors
    )


def channel(
    target: str,
    *,
    token_provider: SyncTokenProvider | None = None,
    default_timeout_s: float | None = DEFAULT_TIMEOUT_S,
    timeouts: Mapping[str, float] | None = None,
    tls: TlsOptions | None = None,
    retry: RetryPolicy | None = RetryPolicy(),
    options: ChannelOptions = (),
) -> grpc.Channel:
    """The blocking counterpart of ``aio_channel`` (``token_provider`` must be sync)."""
    all_options = channel_options(retry, tls, options)
    if tls is None:
        raw = grpc.insecure_channel(target, options=all_options)
    else:
        raw = grpc.secure_channel(target, tls.credentials(), options=all_options)
    return intercept(raw, CallPolicy(token_provider, default_timeout_s, dict(timeouts or {})))


def intercept(raw: grpc.Channel, policy: CallPolicy) -> grpc.Channel:
    """``raw`` with ``policy`` applied to every call (for channels made elsewhere)."""
    return grpc.intercept_channel(raw, SyncPolicyInterceptor(policy))
