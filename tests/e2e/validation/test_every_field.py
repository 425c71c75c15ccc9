"""Validation at the edge, field by field, for every RPC of the four services: a card
number in any string (ids, request ids, emails, page tokens, metadata keys and values),
an unknown enum number, a timestamp out of range or with bad nanos, and a value far too
long are each INVALID_ARGUMENT naming the field, with small error details that never
echo the value; nothing is stored and no log line carries a card number."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError, Message
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.observability.logs import JsonFormatter
from tests.e2e.validation.support import (
    Answer,
    call,
    fields_of,
    methods,
    path,
    request_class,
    row_counts,
)
from tests.support.stack import Stack, auth

PAN = "4242424242424242"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Timestamps a google.protobuf.Timestamp may not hold (years 1 to 9999, nanos 0 to 1e9 - 1).
BAD_TIMESTAMPS = (
    {"seconds": 1_700_000_000, "nanos": -1},
    {"seconds": 1_700_000_000, "nanos": 1_000_000_000},
    {"seconds": -62_135_596_801, "nanos": 0},
    {"seconds": 253_402_300_800, "nanos": 0},
)

Case = tuple[MethodDescriptor, str, Message]


def _cases(
    kind: str, build: Callable[[Message, FieldDescriptor], list[tuple[str, Message]]]
) -> list[Case]:
    cases: list[Case] = []
    for method in methods():
        for field in fields_of(method.input_type, kind):
            for expected, request in build(request_class(method)(), field):
                cases.append((method, expected, request))
    return cases


def _with_pan(empty: Message, field: FieldDescriptor) -> list[tuple[str, Message]]:
    request = type(empty)()
    setattr(request, field.name, PAN)
    return [(field.name, request)]


def _map_with_pan(empty: Message, field: FieldDescriptor) -> list[tuple[str, Message]]:
    in_value, in_key = type(empty)(), type(empty)()
    getattr(in_value, field.name)["note"] = PAN
    getattr(in_key, field.name)[PAN] = "x"
    return [(f"{field.name}[note]", in_value), (field.name, in_key)]


def _unknown_enum(empty: Message, field: FieldDescriptor) -> list[tuple[str, Message]]:
    request = type(empty)()
    if field.is_repeated:
        getattr(request, field.name).extend([1, 999])
    else:
        setattr(request, field.name, 999)
    return [(field.name, request)]


def _bad_timestamps(empty: Message, field: FieldDescriptor) -> list[tuple[str, Message]]:
    built = []
    for values in BAD_TIMESTAMPS:
        request = type(empty)()
        getattr(request, field.name).CopyFrom(type(getattr(request, field.name))(**values))
        built.append((field.name, request))
    return built


async def _refusals(edge: Stack, cases: list[Case], description: str | None = None) -> list[str]:
    """What went wrong: each case must be INVALID_ARGUMENT naming the expected field."""
    wrong = []
    for method, expected, request in cases:
        answer = await call(edge.channel, method, request, auth())
        named = answer.code is INVALID and expected in answer.violations
        if not named or (description or "") not in answer.violations[expected]:
            wrong.append(f"{path(method)} {expected}: {answer.shown}")
        elif PAN in repr(answer) or answer.trailer_bytes > 2048:
            wrong.append(f"{path(method)} {expected}: echoes or too big: {answer.shown}")
    return wrong


async def test_a_card_number_in_any_string_is_refused_naming_the_field(
    edge: Stack, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = _cases("string", _with_pan) + _cases("map", _map_with_pan)
    assert len(cases) > 60  # every string field of every request
    before = await row_counts(engine)
    assert await _refusals(edge, cases, "card number") == []
    assert await row_counts(engine) == before
    formatter = JsonFormatter()
    assert not [r for r in caplog.records if PAN in formatter.format(r)]


async def test_an_unknown_enum_number_is_refused_naming_the_field(edge: Stack) -> None:
    cases = _cases("enum", _unknown_enum)
    assert len(cases) >= 10
    assert await _refusals(edge, cases, "unknown value") == []


async def test_a_timestamp_out_of_range_or_with_bad_nanos_is_refused_naming_the_field(
    edge: Stack,
) -> None:
    cases = _cases("timestamp", _bad_timestamps)
    assert len(cases) >= 4 * len(BAD_TIMESTAMPS)
    assert await _refusals(edge, cases) == []


async def test_no_answer_echoes_a_huge_value_or_outgrows_the_trailer_limit(edge: Stack) -> None:
    wrong = []
    for method in methods():
        for field in fields_of(method.input_type, "string") + fields_of(method.input_type, "map"):
            for huge in ("x" * 5000, "é" * 3000, "\x01" * 4000):
                request = request_class(method)()
                if field.type == FieldDescriptor.TYPE_STRING:
                    setattr(request, field.name, huge)
                else:
                    target = getattr(request, field.name)
                    target.update({f"{huge[0]}{n}" * 20: huge for n in range(200)})
                answer: Answer = await call(edge.channel, method, request, auth())
                if (
                    answer.code is not INVALID
                    or huge[:100] in answer.message
                    or answer.trailer_bytes > 4096
                ):
                    wrong.append(f"{path(method)} {field.name} {len(huge)}: {answer.shown}")
    assert wrong == []


async def test_a_body_that_is_no_valid_message_is_invalid_argument(edge: Stack) -> None:
    """Bad UTF-8 in a string, a corrupt wire format: refused like any bad field (it was
    UNKNOWN, with the parser's own words as the message)."""
    bodies = (b"\x0a\x02\xff\xfe", b"\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x01")
    wrong = []
    for method in methods():
        for body in bodies:
            try:
                request_class(method).FromString(body)
                continue  # e.g. a bool field 1 takes the bad-UTF-8 body as an unknown field
            except DecodeError:
                pass
            answer = await call(edge.channel, method, body, auth())
            if answer.code is not INVALID or "parsing" in answer.message:
                wrong.append(f"{path(method)} {body!r}: {answer.shown}")
    assert wrong == []
