"""JSON log lines on stdout: one object per line with time, level, logger, message and extras.

Callers add fields with ``logger.info("...", extra={"key": value})``. Never pass
request bodies, tokens or secrets as extras: every field is written as is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from opentelemetry import trace

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}

# ``json.dumps(entry, default=str, ensure_ascii=False)`` without making an encoder per line.
_ENCODE = json.JSONEncoder(default=str, ensure_ascii=False).encode
# A string as that encoder writes it (quoted, escaped, non-ASCII kept).
_encode_text: Callable[[str], str] = json.encoder.encode_basestring


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; values JSON cannot encode are written with str()."""

    _second = -1
    _second_text = ""

    def _time(self, created: float) -> str:
        """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``,
        the date and time part made once a second."""
        second = int(created)
        micro = round((created - second) * 1_000_000)
        if micro >= 1_000_000 or created < 0:
            return datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{micro // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
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
        return _ENCODE(entry)

    def line(
        self, created: float, level: str, name: str, message: str, fields: Mapping[str, Any]
    ) -> str:
        """What ``format`` makes of a record of these parts with ``fields`` as its extras
        (and no exception), without the record: the line put together from its parts
        when every value is a plain one (str, None, bool, int, float), else encoded whole."""
        head = (level, name, message)
        head_text = _HEADS.get(head)
        if head_text is None:
            head_text = (
                f'", "level": {_encode_text(level)}, "logger": {_encode_text(name)}, '
                f'"message": {_encode_text(message)}'
            )
            if len(_HEADS) < _KEEP_TEXTS:
                _HEADS[head] = head_text
        parts = ['{"time": "', self._time(created), head_text]
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            parts.append(f', "trace_id": "{span.trace_id:032x}", "span_id": "{span.span_id:016x}"')
        for key, value in fields.items():
            key_text = _KEYS.get(key)
            if key_text is None:
                if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                    continue
                if key in _LINE_KEYS or type(key) is not str:
                    return self._encoded(created, level, name, message, fields)
                key_text = f", {_encode_text(key)}: "
                if len(_KEYS) < _KEEP_TEXTS:
                    _KEYS[key] = key_text
            text = _plain_value(value)
            if text is None:
                return self._encoded(created, level, name, message, fields)
            parts += (key_text, text)
        parts.append("}")
        return "".join(parts)

    def _encoded(
        self, created: float, level: str, name: str, message: str, fields: Mapping[str, Any]
    ) -> str:
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": level,
            "logger": name,
            "message": message,
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in fields.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        return _ENCODE(entry)


# The written start of a line by (level, logger, message) and of an extra by its key (only
# keys that are written), as many as _KEEP_TEXTS of each (they come from code, not callers).
_HEADS: dict[tuple[str, str, str], str] = {}
_KEYS: dict[str, str] = {}
_KEEP_TEXTS = 1024

# The keys a line has before its extras (an extra of one of these names takes its place).
_LINE_KEYS = frozenset(("time", "level", "logger", "message", "trace_id", "span_id"))


def _plain_value(value: Any) -> str | None:
    """``value`` as the JSON encoder writes it, for the plain types; None for any other."""
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value in (_INFINITY, -_INFINITY):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return None


_INFINITY = float("inf")


# How long a written line may wait in the stream's buffer while the event loop is busy.
FLUSH_EVERY_S = 0.05


class LineHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler that, on the event loop, flushes at most every ``FLUSH_EVERY_S``
    (one write to the pipe for many lines under load, and a line written alone still
    goes out within that time); from other threads, and at close, at once."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flushed_at = 0.0
        self._flush_due = False

    def flush(self) -> None:
        if self._flush_due:
            return  # a flush is already on its way
        if time.monotonic() - self._flushed_at >= FLUSH_EVERY_S:
            self._flush_now()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush_now()
            return
        self._flush_due = True
        loop.call_later(FLUSH_EVERY_S, self._flush_now)

    def _flush_now(self) -> None:
        self._flush_due = False
        self._flushed_at = time.monotonic()
        super().flush()

    def close(self) -> None:
        self._flush_now()
        super().close()

    def write_fields(self, level: int, name: str, message: str, fields: Mapping[str, Any]) -> bool:
        """Write the line ``handle`` would write for a record of these parts with
        ``fields`` as its extras, without making the record; False (nothing written)
        when this handler's setup is not the plain one (filters, another formatter):
        then the caller hands it a record."""
        formatter = self.formatter
        if self.filters or type(formatter) is not JsonFormatter:
            return False
        created = time.time()
        try:
            text = formatter.line(created, logging.getLevelName(level), name, message, fields)
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(text + self.terminator)
                self.flush()
        except Exception:
            record = logging.LogRecord(name, level, "", 0, message, None, None)
            record.__dict__.update(fields)
            self.handleError(record)
        return True


def log_fields(logger: logging.Logger, level: int, message: str, fields: Mapping[str, Any]) -> None:
    """``logger.log(level, message, extra=fields)`` without looking up the caller's source
    line (which no JSON line shows): the access log's one record per RPC."""
    if not logger.isEnabledFor(level):
        return
    if logger.filters or logger.handlers or not logger.propagate or logger.disabled:
        logger.handle(_record(logger.name, level, message, fields))
        return
    # The access logger's own shape (no handlers or filters of its own): straight to
    # the handlers above it, as Logger.callHandlers would; a plain LineHandler writes
    # the line without a record, any other handler gets one.
    record: logging.LogRecord | None = None
    parent = logger.parent
    found = False
    while parent is not None:
        for handler in parent.handlers:
            found = True
            if level < handler.level:
                continue
            if type(handler) is LineHandler and handler.write_fields(
                level, logger.name, message, fields
            ):
                continue
            if record is None:
                record = _record(logger.name, level, message, fields)
            handler.handle(record)
        if not parent.propagate:
            break
        parent = parent.parent
    if not found:  # logging's last resort, as without this shortcut
        logger.handle(_record(logger.name, level, message, fields))


def _record(name: str, level: int, message: str, fields: Mapping[str, Any]) -> logging.LogRecord:
    record = logging.LogRecord(name, level, "", 0, message, None, None)
    record.__dict__.update(fields)
    return record


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stdout by default) as JSON lines."""
    handler = LineHandler(stream or sys.stdout)
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
