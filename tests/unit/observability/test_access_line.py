"""The access record's shortcut writes the very line the logging machinery would."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from payment_service.observability.logs import JsonFormatter, LineHandler, log_fields

FIELDS = {
    "method": "/payments.v1.PaymentService/GetPayment",
    "code": "OK",
    "duration_ms": 0.412,
    "peer": "ipv4:127.0.0.1:5555",
    "sub": "caller-é",
    "request_id": "req-1",
    "_hidden": "never written",
    "odd": object,
}


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """The root logger as configure_logging leaves it, writing to a string."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _by_record(name: str, message: str) -> dict[str, object]:
    record = logging.LogRecord(name, logging.INFO, "", 0, message, None, None)
    record.__dict__.update(FIELDS)
    return dict(json.loads(JsonFormatter().format(record)))


def test_shortcut_line_equals_the_formatted_record(root_stream: io.StringIO) -> None:
    logger = logging.getLogger("test.access.shortcut")
    log_fields(logger, logging.INFO, "rpc", FIELDS)
    [line] = root_stream.getvalue().splitlines()
    written = json.loads(line)
    expected = _by_record(logger.name, "rpc")
    assert written.keys() == expected.keys()  # same fields, same order
    assert list(written) == list(expected)
    assert {k: v for k, v in written.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    assert "_hidden" not in written
    assert written["odd"] == str(object)


def test_shortcut_line_carries_the_trace(root_stream: io.StringIO) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("call") as span:
        log_fields(logging.getLogger("test.access.traced"), logging.INFO, "rpc", FIELDS)
    written = json.loads(root_stream.getvalue())
    assert written["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert written["span_id"] == format(span.get_span_context().span_id, "016x")


def test_other_handlers_still_get_a_record(
    root_stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    log_fields(logging.getLogger("test.access.captured"), logging.INFO, "rpc", FIELDS)
    [record] = [r for r in caplog.records if r.name == "test.access.captured"]
    assert record.getMessage() == "rpc"
    assert record.__dict__["code"] == "OK"
    assert len(root_stream.getvalue().splitlines()) == 1  # and the plain handler its line


def test_a_filtered_handler_gets_the_record(root_stream: io.StringIO) -> None:
    handler = logging.getLogger().handlers[0]
    handler.addFilter(lambda record: record.__dict__.get("code") != "OK")
    log_fields(logging.getLogger("test.access.filtered"), logging.INFO, "rpc", FIELDS)
    assert root_stream.getvalue() == ""
    log_fields(logging.getLogger("test.access.filtered"), logging.INFO, "rpc", {"code": "X"})
    assert json.loads(root_stream.getvalue())["code"] == "X"


def test_below_the_handler_level_nothing_is_written(root_stream: io.StringIO) -> None:
    logging.getLogger().handlers[0].setLevel(logging.WARNING)
    log_fields(logging.getLogger("test.access.quiet"), logging.INFO, "rpc", FIELDS)
    assert root_stream.getvalue() == ""


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quote " and \\ and \n',
        "ünï ☃",
        "",
        None,
        True,
        False,
        0,
        -12,
        2**70,
        0.1,
        1e-7,
        1e300,
        float("nan"),
        float("inf"),
        float("-inf"),
        [1, "a"],
        {"k": 1},
        b"raw",
        3j,
    ],
)
def test_every_kind_of_value_is_written_as_the_encoder_would(value: object) -> None:
    formatter = JsonFormatter()
    fields = {"first": "x", "value": value, "last": 1}
    record = logging.LogRecord("n", logging.INFO, "", 0, "m", None, None)
    record.__dict__.update(fields)
    record.created = 1_700_000_000.25
    assert formatter.line(record.created, "INFO", "n", "m", fields) == formatter.format(record)


@pytest.mark.parametrize("key", ["time", "level", "logger", "trace_id", "span_id"])
def test_an_extra_named_as_a_line_key_takes_its_place(key: str) -> None:
    formatter = JsonFormatter()
    fields = {"a": 1, key: "extra"}
    record = logging.LogRecord("n", logging.INFO, "", 0, "m", None, None)
    record.__dict__.update(fields)
    assert formatter.line(record.created, "INFO", "n", "m", fields) == formatter.format(record)
