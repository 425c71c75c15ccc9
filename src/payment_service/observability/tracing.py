"""OpenTelemetry traces: the tracer provider the settings ask for, and the trace id for logs.

``tracing_exporter`` picks where spans go: ``none`` (the default: no SDK, no spans of
ours, yet a caller's ``traceparent`` still reaches logs and audit rows), ``console``,
``otlp-grpc`` or ``otlp-http`` (to ``tracing_endpoint``, or the exporter's own default /
``OTEL_EXPORTER_OTLP_*`` variables). Spans are exported by a batch processor with a
bounded queue on its own thread: an exporter that is slow or away drops spans, never
slows or fails an RPC. ``tracing_sample_ratio`` samples new traces; a caller's sampling
decision (its ``traceparent`` flags) is followed.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from payment_service.config import Settings

SERVICE_NAME = "payment-service"
_EXPORT_TIMEOUT_MS = 5_000
_QUEUE_SIZE = 4_096


def build_tracer_provider(settings: Settings) -> TracerProvider | None:
    """The SDK provider for ``settings.tracing_exporter``; None when tracing is off."""
    exporter = _exporter(settings)
    if exporter is None:
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}),
        sampler=ParentBased(TraceIdRatioBased(settings.tracing_sample_ratio)),
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter, max_queue_size=_QUEUE_SIZE, export_timeout_millis=_EXPORT_TIMEOUT_MS
        )
    )
    return provider


def _exporter(settings: Settings) -> SpanExporter | None:
    kind, endpoint = settings.tracing_exporter, settings.tracing_endpoint
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, timeout=_EXPORT_TIMEOUT_MS / 1000)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as OTLPHttpSpanExporter,
    )

    return OTLPHttpSpanExporter(endpoint=endpoint, timeout=_EXPORT_TIMEOUT_MS / 1000)
