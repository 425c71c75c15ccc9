"""The server span of an RPC: the caller's W3C ``traceparent`` as its parent, the gRPC
status as its outcome, current while the call runs so every span and log line of the
work (its task copies the context) belongs to the caller's trace.

Without a tracer provider (``tracing_exporter: none``) the span is OpenTelemetry's
no-op one: nothing is recorded, yet a caller's trace id still reaches log lines and
audit rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

PROPAGATED = frozenset({"traceparent", "tracestate", "baggage"})
_SERVER_ERRORS = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)


@dataclass(slots=True)
class ServerSpan:
    span: trace.Span
    token: Token[otel_context.Context]

    def end(self, code: str) -> None:
        self.span.set_attribute("rpc.grpc.status_code", code)
        if code in _SERVER_ERRORS:  # the semantic conventions: client errors are not ours
            self.span.set_status(Status(StatusCode.ERROR, code))
        otel_context.detach(self.token)
        self.span.end()


class _Untraced:
    """The call of a server that records no spans, from a caller that sent no trace."""

    def end(self, code: str) -> None:
        return None


UNTRACED = _Untraced()


class ServerSpans:
    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("payment_service.grpc", tracer_provider=tracer_provider)
        # No provider of ours: a span would record nothing unless the caller sent a trace
        # (whose id then still reaches log lines and audit rows).
        self._recording = tracer_provider is not None

    def start(
        self, method: str, metadata: Iterable[tuple[str, Any]] | None
    ) -> ServerSpan | _Untraced:
        """Start ``/pkg.Service/Method``'s span as a child of the caller's trace, if any."""
        carrier = {key: value for key, value in metadata or () if key in PROPAGATED}
        return self.start_from(method, carrier or None)

    def start_from(self, method: str, carrier: dict[str, Any] | None) -> ServerSpan | _Untraced:
        """``start`` with the trace headers already picked from the metadata (None: none)."""
        if not carrier and not self._recording:
            return UNTRACED  # the hot path of a service that traces nothing: no span, no attach
        parent = extract(carrier) if carrier else None
        service, _, name = method.lstrip("/").partition("/")
        span = self._tracer.start_span(
            method.lstrip("/"),
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )
        return ServerSpan(span, otel_context.attach(trace.set_span_in_context(span, parent)))
