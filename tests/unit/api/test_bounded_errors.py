"""Error answers stay small and never carry a card number, whatever an error holds."""

from __future__ import annotations

from google.rpc import error_details_pb2

from payment_service.api.grpc.errors import (
    MAX_DETAILS_BYTES,
    MAX_MESSAGE_BYTES,
    bounded_text,
    rich_status_for,
)
from payment_service.domain.errors import FieldViolation, InvalidArgument, NotFound

PAN = "4242424242424242"


def _unpacked(status: object, kind: type) -> object:
    for detail in status.details:  # type: ignore[attr-defined]
        message = kind()
        if detail.Unpack(message):
            return message
    raise AssertionError(f"no {kind.__name__}")


def test_a_huge_id_in_an_error_is_cut() -> None:
    status = rich_status_for(NotFound("customer", "é" * 5000))
    assert len(status.message.encode()) <= MAX_MESSAGE_BYTES
    assert status.message.endswith("...")
    info = _unpacked(status, error_details_pb2.ErrorInfo)
    assert all(len(v.encode()) <= 200 for v in info.metadata.values())  # type: ignore[attr-defined]
    assert status.ByteSize() <= MAX_DETAILS_BYTES


def test_a_card_number_in_an_error_is_blanked_everywhere() -> None:
    error = InvalidArgument(
        f"bad {PAN}",
        violations=[FieldViolation(f"metadata[{PAN}]", f"has {PAN}")],
        metadata={"id": PAN},
    )
    status = rich_status_for(error)
    assert PAN not in status.SerializeToString().decode("utf-8", errors="replace")
    assert status.message == "bad [card number removed]"


def test_violations_are_dropped_until_the_details_fit() -> None:
    violations = [FieldViolation("f" * 150 + str(n), "d" * 190) for n in range(10)]
    status = rich_status_for(InvalidArgument("invalid", violations=violations))
    bad = _unpacked(status, error_details_pb2.BadRequest)
    assert 0 < len(bad.field_violations) < 10  # type: ignore[attr-defined]
    assert status.ByteSize() <= MAX_DETAILS_BYTES


def test_short_texts_and_other_numbers_are_left_alone() -> None:
    assert bounded_text("refund of 1000 exceeds 500", 400) == "refund of 1000 exceeds 500"
    assert bounded_text("ts 1700000000000 ok", 400) == "ts 1700000000000 ok"
    assert bounded_text("x" * 500, 10) == "xxxxxxx..."
