"""Every request checked at the edge, before its servicer runs, from its descriptor.

Whatever the field: a string holding a card number is refused (ids, request ids,
emails, page tokens, metadata keys and values alike), as is one far longer than any
field takes. Ids and tokens (``id``, ``*_id``, ``page_token``) are checked for a card
number as cards are written (``has_written_card_number``: a UUID never matches), every
other string with the free-text detector, which also finds one hidden in longer digit
runs; an enum must be one of its values (proto3 keeps unknown numbers); a
Timestamp must be one a Timestamp can hold. A field added to a proto is covered without
a change here. What each field means (id prefixes, lengths, ranges, what is required)
is the use cases' part, in ``app/common/validation.py``.

Violations name the field (``metadata[key]`` only for a plain key, see
``metadata_label``) and never repeat the value. A body that is no valid message at
all (bad UTF-8 in a string, a corrupt wire format) is INVALID_ARGUMENT too, instead of
gRPC's UNKNOWN with the parser's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from payment_service.api.grpc.convert import TIMESTAMP_PROBLEM, valid_timestamp
from payment_service.app.common.validation import Violations, metadata_label
from payment_service.domain.errors import InvalidArgument

# No request field takes more; a longer string is refused before it is even scanned.
MAX_STRING_LENGTH = 4096
_TOO_LONG = f"must not be over {MAX_STRING_LENGTH} characters"


@dataclass(frozen=True, slots=True)
class MalformedRequest:
    """What ``tolerant`` hands on in place of a body that did not parse."""

    method: str


def tolerant(
    deserialize: Callable[[bytes], Any] | None, method: str
) -> Callable[[bytes], Any] | None:
    """``deserialize``, answering a MalformedRequest where it would raise DecodeError
    (which gRPC would turn into UNKNOWN before the interceptor sees the call)."""
    if deserialize is None:
        return None

    def parse(body: bytes) -> Any:
        try:
            return deserialize(body)
        except DecodeError:
            return MalformedRequest(method)

    return parse


def check_request(request: object) -> None:
    """Raise InvalidArgument naming every field (up to the violation limit) that fails."""
    if isinstance(request, MalformedRequest):
        raise InvalidArgument(
            f"the request body is not a valid {request.method} request message"
            " (bad UTF-8 in a string field, or a corrupt wire format)"
        )
    if isinstance(request, Message):
        check = Violations()
        _check_message(request, "", check)
        check.raise_if_any()


def _check_message(message: Message, prefix: str, check: Violations) -> None:
    for field, value in message.ListFields():
        name = prefix + field.name
        if _is_map(field):
            _check_map(field, value, name, check)
        elif field.is_repeated:
            for item in value:
                if not _check_value(field, item, name, check):
                    break  # one violation per repeated field is enough
        else:
            _check_value(field, value, name, check)


def _check_value(field: FieldDescriptor, value: Any, name: str, check: Violations) -> bool:
    """False (with a violation) when ``value`` of ``field`` is refused."""
    if field.type == FieldDescriptor.TYPE_STRING:
        if _is_identifier(field.name):
            return _check_id(value, name, check)
        return _check_text(value, name, check)
    if field.type == FieldDescriptor.TYPE_ENUM:
        if field.enum_type is not None and value not in field.enum_type.values_by_number:
            check.add(name, f"unknown value {int(value)}")
            return False
    elif isinstance(value, Timestamp):
        if not valid_timestamp(value):
            check.add(name, TIMESTAMP_PROBLEM)
            return False
    elif isinstance(value, Message):
        _check_message(value, name + ".", check)
    return True


def _check_map(field: FieldDescriptor, entries: Any, name: str, check: Violations) -> None:
    entry = field.message_type
    if entry is None:  # never for a map field; keeps the types exact
        return
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    for key in entries:
        if key_field.type == FieldDescriptor.TYPE_STRING:
            _check_text(key, name, check, "keys ")
            label = metadata_label(name, key)
        else:
            label = f"{name}[{key}]"
        _check_value(value_field, entries[key], label, check)


def _check_text(value: str, name: str, check: Violations, what: str = "") -> bool:
    """``what`` says which part of the field is meant ("keys " for a map's keys)."""
    if len(value) > MAX_STRING_LENGTH:
        check.add(name, f"{what}{_TOO_LONG}")
        return False
    return check.no_card_number(value, name, what)


def _check_id(value: str, name: str, check: Violations) -> bool:
    if len(value) > MAX_STRING_LENGTH:
        check.add(name, _TOO_LONG)
        return False
    return check.no_card_number_in_id(value, name)


def _is_identifier(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name == "page_token"


def _is_map(field: FieldDescriptor) -> bool:
    message_type = field.message_type
    return message_type is not None and bool(message_type.GetOptions().map_entry)
