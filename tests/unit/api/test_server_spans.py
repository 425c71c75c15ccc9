"""The server span without a tracer provider of ours: nothing at all for a caller that sent
no trace; the caller's trace made current (for log lines and audit rows) for one that did."""

from __future__ import annotations

from opentelemetry import trace

from payment_service.api.grpc.tracing import UNTRACED, ServerSpans

METHOD = "/payments.v1.PaymentService/GetPayment"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_no_provider_and_no_caller_trace_costs_no_span() -> None:
    assert ServerSpans().start(METHOD, [("authorization", "Bearer x")]) is UNTRACED


def test_a_callers_trace_is_current_while_the_call_runs_even_untraced() -> None:
    span = ServerSpans().start(METHOD, [("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01")])
    assert span is not UNTRACED
    current = trace.get_current_span().get_span_context()
    assert format(current.trace_id, "032x") == TRACE
    span.end("OK")
    assert not trace.get_current_span().get_span_context().is_valid
