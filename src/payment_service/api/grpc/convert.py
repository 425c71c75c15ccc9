"""Small proto <-> domain conversions shared by the servicers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp

from payment_service.domain.errors import InvalidArgument

E = TypeVar("E", bound=StrEnum)

# What a google.protobuf.Timestamp may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_TIMESTAMP_NANOS = 999_999_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)  # FromDatetime reads a naive time as UTC
TIMESTAMP_PROBLEM = "must be a valid time between years 1 and 9999 with nanos from 0 to 999999999"


def valid_timestamp(stamp: Timestamp) -> bool:
    """True when ``stamp`` is in the Timestamp range with nanos from 0 to 999,999,999."""
    return (
        MIN_TIMESTAMP_SECONDS <= stamp.seconds <= MAX_TIMESTAMP_SECONDS
        and 0 <= stamp.nanos <= MAX_TIMESTAMP_NANOS
    )


def timestamp(value: datetime | None) -> Timestamp | None:
    """A proto Timestamp, or None (field left unset) for None."""
    if value is None:
        return None
    # As Timestamp.FromDatetime (a naive time is UTC), without its time-tuple round trip.
    delta = value - (_EPOCH if value.tzinfo is not None else _NAIVE_EPOCH)
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def timestamp_fields(value: datetime) -> dict[str, int]:
    """``timestamp(value)`` as constructor arguments of a message's Timestamp field (the
    message builds it in place, no Timestamp built apart and copied in)."""
    delta = value - (_EPOCH if value.tzinfo is not None else _NAIVE_EPOCH)
    return {"seconds": delta.days * 86_400 + delta.seconds, "nanos": delta.microseconds * 1000}


# The API's name for an amount's currency (the domain's ``currency``).
CURRENCY_CODE: Mapping[str, str] = {"currency_code": "currency"}


class MessageFields:
    """How a message shows an object: the message's fields and the attributes they come from.

    ``values`` go in as they are (None leaves the field unset, so it reads as its
    default, as ``or ""`` would give); ``times`` go in as Timestamps (a None one: unset);
    ``enums`` (field -> its EnumMap) as the proto enum's numbers. Each comes from the
    attribute of its name; ``renamed`` (field -> attribute) adds the values the message
    names otherwise. The (field, attribute) pairs are worked out once, here.
    """

    __slots__ = ("_enums", "_times", "_values")

    def __init__(
        self,
        values: tuple[str, ...],
        times: tuple[str, ...] = ("create_time", "update_time"),
        *,
        enums: Mapping[str, EnumMap[Any]] | None = None,
        renamed: Mapping[str, str] | None = None,
    ) -> None:
        self._values = tuple((name, name) for name in values) + tuple((renamed or {}).items())
        self._times = times
        self._enums = tuple((enums or {}).items())

    def of(self, source: object) -> dict[str, Any]:
        """The fields as constructor arguments of the message."""
        fields = {name: getattr(source, attribute) for name, attribute in self._values}
        for name in self._times:  # built in place by the message (a missing one: unset)
            if (value := getattr(source, name)) is not None:
                fields[name] = timestamp_fields(value)
        for name, enum_map in self._enums:
            fields[name] = enum_map.to_proto(getattr(source, name))
        return fields


def optional_time(message: object, field: str, stamp: Timestamp) -> datetime | None:
    """The field as an aware datetime, or None when the caller did not set it."""
    has_field: Callable[[str], bool] = message.HasField  # type: ignore[attr-defined]
    if not has_field(field):
        return None
    if not valid_timestamp(stamp):
        raise InvalidArgument.field(field, TIMESTAMP_PROBLEM)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument.field(field, TIMESTAMP_PROBLEM) from None


class EnumMap(Generic[E]):
    """Maps a domain StrEnum to a proto enum whose values are ``PREFIX_<NAME>``."""

    def __init__(self, domain: type[E], proto: EnumTypeWrapper, prefix: str) -> None:
        self._to_proto = {member: proto.Value(prefix + member.name) for member in domain}
        self._from_proto = {number: member for member, number in self._to_proto.items()}

    def to_proto(self, value: E | None) -> Any:
        # The generated stubs type enum fields as the enum class; at runtime its values are ints.
        return 0 if value is None else self._to_proto[value]

    def from_proto(self, number: int, field: str) -> E | None:
        """None for the UNSPECIFIED zero value; INVALID_ARGUMENT for an unknown number."""
        if number == 0:
            return None
        member = self._from_proto.get(number)
        if member is None:
            raise InvalidArgument.field(field, f"unknown value {number}")
        return member

    def from_protos(self, numbers: Iterable[int], field: str) -> frozenset[E]:
        """A repeated enum filter as a set; UNSPECIFIED values are dropped."""
        found = (self.from_proto(number, field) for number in numbers)
        return frozenset(member for member in found if member is not None)
