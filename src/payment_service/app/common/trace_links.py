"""The trace a row came from, kept with it (W3C ``traceparent``), so work done for it later
(a retry, a repair) links its span to the request or delivery that caused the work."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_W3C = TraceContextTextMapPropagator()


def current_trace_parent() -> str | None:
    """The active span as a ``traceparent`` value; None outside a (valid) span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def links_to(trace_parent: str | None) -> list[Link]:
    """A link to the span ``trace_parent`` names, for the span of work it caused."""
    if not trace_parent:
        return []
    context = trace.get_current_span(_W3C.extract({"traceparent": trace_parent}))
    span_context = context.get_span_context()
    return [Link(span_context)] if span_context.is_valid else []
