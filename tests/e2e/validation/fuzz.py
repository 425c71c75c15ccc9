"""Hypothesis strategies for any request of the four services, built from its descriptor.

A request is drawn near-valid (ids of rows the test seeded, a known request_id, "usd",
small amounts, times around now) with one or two fields made hostile, or hostile
throughout. Hostile values: arbitrary unicode with control characters, huge strings,
card numbers alone or glued to a valid value, every int of the field's type, unknown
enum numbers, timestamps out of range or with bad nanos. Any field may be left unset.
Now and then the body is raw bytes instead: random, or a drawn request with one byte
changed (bad UTF-8, a corrupt wire format, or by chance still a message).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from tests.e2e.validation.support import TIMESTAMP, is_map, request_class

PANS = (
    "4242424242424242",
    "4242 4242 4242 4242",
    "4242-4242-4242-4242",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
)
HUGE = ("x" * 5000, "é" * 3000, "\x00" * 4097, "😀" * 2500, "a" * 100_000, "7" * 20_000)
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
NOW = int(time.time())  # near-valid times are around it (and within the hour past)
TIMESTAMP_LIMITS = (-62_135_596_800, 253_402_300_799)
# Calls made by the fuzz test, by backend and status code, for the run's summary.
CALLS: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True)
class Pools:
    """Near-valid values per field name (seeded ids, a few reused request ids)."""

    by_field: Mapping[str, Sequence[str]]
    ids_by_method: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def strings(self, method: MethodDescriptor, name: str) -> Sequence[str]:
        if name == "id":
            return self.ids_by_method.get(method.name, ("",))
        return self.by_field.get(name, ("",))


def hostile_text(valid: Sequence[str]) -> st.SearchStrategy[str]:
    near = st.sampled_from(list(valid) or [""])
    return st.one_of(
        near,
        near,
        st.text(max_size=40),
        st.text(st.characters(codec="ascii"), max_size=80),
        st.text(st.characters(max_codepoint=0x1F), max_size=12),
        st.sampled_from(PANS),
        st.builds(lambda v, pan: v + pan, near, st.sampled_from(PANS)),
        st.sampled_from(HUGE),
    )


def _ints(f: FieldDescriptor, hostile: bool) -> st.SearchStrategy[int]:
    if not hostile:
        return st.integers(0, 2000)
    low, high = INT32 if f.type in (f.TYPE_INT32, f.TYPE_SINT32) else INT64
    return st.one_of(
        st.integers(-5, 2000), st.sampled_from([low, high, 100_000_000]), st.integers(low, high)
    )


def _enums(f: FieldDescriptor, hostile: bool) -> st.SearchStrategy[int]:
    assert f.enum_type is not None
    known = st.sampled_from(sorted(f.enum_type.values_by_number))
    return st.one_of(known, st.integers(*INT32)) if hostile else known


def _timestamps(hostile: bool) -> st.SearchStrategy[tuple[int, int]]:
    near = st.tuples(st.integers(NOW - 3000, NOW + 800 * 86400), st.integers(0, 999_999_999))
    if not hostile:
        return near
    edges = [*TIMESTAMP_LIMITS, -62_135_596_801, 253_402_300_800]
    return st.one_of(
        near,
        st.tuples(st.sampled_from(edges), st.integers(0, 999_999_999)),
        st.tuples(st.integers(*INT64), st.integers(*INT32)),
    )


@st.composite
def requests(draw: st.DrawFn, method: MethodDescriptor, pools: Pools) -> Message:
    request = request_class(method)()
    fields = list(method.input_type.fields)
    if draw(st.integers(0, 3)) == 0:
        bad = {f.name for f in fields}  # hostile throughout
    else:
        bad = draw(st.sets(st.sampled_from([f.name for f in fields]), max_size=2))
    for f in fields:
        if draw(st.integers(0, 4)) == 0:
            continue  # left unset now and then
        _set(draw, request, method, f, pools, f.name in bad)
    return request


@st.composite
def bodies(draw: st.DrawFn, method: MethodDescriptor, pools: Pools) -> Message | bytes:
    """A request (nine times in ten) or raw bytes that may be no message at all."""
    request = draw(requests(method, pools))
    if draw(st.integers(0, 9)):
        return request
    raw = bytearray(request.SerializeToString())
    if not raw or draw(st.booleans()):
        return draw(st.binary(max_size=64))
    raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


def _set(
    draw: st.DrawFn,
    request: Message,
    method: MethodDescriptor,
    f: FieldDescriptor,
    pools: Pools,
    hostile: bool,
) -> None:
    target = getattr(request, f.name)
    if is_map(f):
        _fill_map(draw, target, hostile)
    elif f.message_type is not None and f.message_type.full_name == TIMESTAMP:
        target.seconds, target.nanos = draw(_timestamps(hostile))
    elif f.type == FieldDescriptor.TYPE_STRING:
        near = pools.strings(method, f.name)
        text = hostile_text(near) if hostile else st.sampled_from(list(near))
        setattr(request, f.name, draw(text))
    elif f.type == FieldDescriptor.TYPE_ENUM:
        if f.is_repeated:
            target.extend(draw(st.lists(_enums(f, hostile), max_size=5)))
        else:
            setattr(request, f.name, draw(_enums(f, hostile)))
    elif f.type == FieldDescriptor.TYPE_BOOL:
        setattr(request, f.name, draw(st.booleans()))
    elif f.message_type is not None:  # a nested message (dispute evidence): some of its fields
        for inner in f.message_type.fields:
            if draw(st.booleans()):
                _set(draw, target, method, inner, pools, hostile)
    else:
        setattr(request, f.name, draw(_ints(f, hostile)))


def _fill_map(draw: st.DrawFn, target: Any, hostile: bool) -> None:
    keys, values = ["order", "note", "payment_id", "subscription_id"], ["42", "gift"]
    if not hostile:
        target.update(draw(st.dictionaries(st.sampled_from(keys), st.sampled_from(values))))
        return
    target.update(draw(st.dictionaries(hostile_text(keys), hostile_text(values), max_size=6)))
    if draw(st.integers(0, 9)) == 0:
        target.update({f"k{n}": "v" for n in range(60)})  # more keys than Stripe takes


def sent_pans(request: Message | bytes) -> list[str]:
    """The card numbers (as drawn) that ``request`` carries in any string, keys included."""
    if isinstance(request, bytes):
        return [pan for pan in PANS if pan.encode() in request]
    texts = _texts(request)
    return [pan for pan in PANS if any(pan in text for text in texts)]


def _texts(message: Message) -> list[str]:
    """Every string ``message`` carries, map keys and nested messages included."""
    texts: list[str] = []
    for f, value in message.ListFields():
        if is_map(f):
            texts.extend(str(item) for pair in value.items() for item in pair)
        elif f.type == FieldDescriptor.TYPE_STRING:
            texts.append(value)
        elif f.type == FieldDescriptor.TYPE_MESSAGE and not f.is_repeated:
            texts.extend(_texts(value))
    return texts
