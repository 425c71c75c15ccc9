"""Database spans: one client span per statement, from SQLAlchemy's cursor events.

OpenTelemetry's SQLAlchemy instrumentation declares ``sqlalchemy<2.1`` and does nothing
on 2.1 unless its check is skipped; these few listeners do what we need on any 2.x:
a span named ``SELECT transactions`` (operation and first table), the statement text
without its parameters (values may be personal data), the database system. The async
engine runs its sync events in a greenlet that carries the caller's contextvars, so each
span is a child of the span of the work that ran the statement.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_SPAN_KEY = "_payment_service_span"
_MAX_STATEMENT = 2_000
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def span_name(statement: str) -> str:
    """``SELECT transactions`` for a statement reading ``transactions``; the verb alone
    when no table shows (``BEGIN``, ``SELECT 1``)."""
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    table = _TABLE.search(statement)
    return f"{verb} {table.group(1)}" if table else verb


def trace_engine(engine: AsyncEngine, tracer_provider: trace.TracerProvider) -> None:
    """Add the listeners to ``engine``: every statement it runs from now on has a span."""
    tracer = trace.get_tracer("payment_service.db", tracer_provider=tracer_provider)
    system = engine.dialect.name  # "postgresql", "sqlite"
    sync_engine = engine.sync_engine

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        span = tracer.start_span(
            span_name(statement),
            kind=SpanKind.CLIENT,
            attributes={"db.system": system, "db.statement": statement[:_MAX_STATEMENT]},
        )
        if context is not None:
            setattr(context, _SPAN_KEY, span)

    def after(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, _SPAN_KEY, None)
        if span is not None:
            error = exception_context.original_exception
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)
