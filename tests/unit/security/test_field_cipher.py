"""AES-256-GCM field encryption: round trips, key rotation, tampering, wrong column."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.security.field_cipher import FieldCipher, FieldCipherError

OLD = FieldCipher.new_key_spec("k2025")
NEW = FieldCipher.new_key_spec("k2026")


@given(st.text())
def test_round_trip(text: str) -> None:
    cipher = FieldCipher.from_specs([OLD])
    stored = cipher.encrypt(text, context="customers.email")
    assert stored.startswith("pii1.k2025.")
    assert cipher.decrypt(stored, context="customers.email") == text


def test_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher.from_specs([OLD])
    assert cipher.encrypt("a@b.example", context="c") != cipher.encrypt("a@b.example", context="c")


def test_rotation_reads_old_values_and_writes_with_the_new_key() -> None:
    before = FieldCipher.from_specs([OLD])
    stored = before.encrypt("Ada Lovelace", context="customers.name")
    after = FieldCipher.from_specs([OLD, NEW])
    assert after.active_key_id == "k2026"
    assert after.decrypt(stored, context="customers.name") == "Ada Lovelace"
    rewritten = after.encrypt("Ada Lovelace", context="customers.name")
    assert after.key_id_of(rewritten) == "k2026"
    with pytest.raises(FieldCipherError, match="unknown key"):
        FieldCipher.from_specs([NEW]).decrypt(stored, context="customers.name")


def test_tampering_and_another_column_do_not_decrypt() -> None:
    cipher = FieldCipher.from_specs([OLD])
    stored = cipher.encrypt("buyer@example.com", context="transactions.receipt_email")
    flipped = stored[:-3] + ("A" if stored[-3] != "A" else "B") + stored[-2:]
    with pytest.raises(FieldCipherError):
        cipher.decrypt(flipped, context="transactions.receipt_email")
    with pytest.raises(FieldCipherError):
        cipher.decrypt(stored, context="customers.email")
    with pytest.raises(FieldCipherError):
        cipher.decrypt("buyer@example.com", context="customers.email")


@pytest.mark.parametrize(
    "specs",
    [
        [],
        ["nokey"],
        ["k1:not-base64!"],
        [f"k1:{base64.b64encode(b'short').decode()}"],
        ["bad id:" + "A" * 44],
    ],
)
def test_bad_keys_are_refused(specs: list[str]) -> None:
    with pytest.raises(FieldCipherError):
        FieldCipher.from_specs(specs)
