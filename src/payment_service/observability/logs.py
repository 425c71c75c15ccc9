"""JSON log lines on stdout: one object per line with time, level, logger, message and extras.

Callers add fields with ``logger.info("...", extra={"key": value})``. Never pass
request bodies, tokens or secrets as extras: every field is written as is.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; values JSON cannot encode are written with str()."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # the line belongs to a trace: say which, and where in it
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stdout by default) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter below WARNING is rarely useful and never carries our request context.
    for noisy in ("asyncio", "aiohttp.access", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The stripe library logs whole request and response bodies (emails, names, client
    # secrets) at DEBUG: never let them through, whatever our own level is.
    logging.getLogger("stripe").setLevel(max(logging.INFO, root.level))
    # The database drivers log every statement with its parameters at DEBUG, SQLAlchemy at
    # INFO (values of encrypted personal data, ids, amounts): only their warnings pass.
    for driver in ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "psycopg"):
        logging.getLogger(driver).setLevel(max(logging.WARNING, root.level))
