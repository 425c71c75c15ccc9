"""Bytes through the field cipher (cached entities), and the process's one cipher."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_service.security import field_cipher as module
from payment_service.security.field_cipher import (
    FieldCipher,
    FieldCipherError,
    field_cipher,
    installed_field_cipher,
    use_field_cipher,
)

KEY = FieldCipher.new_key_spec("k1")


@given(st.binary())
def test_bytes_round_trip_under_their_context(data: bytes) -> None:
    cipher = FieldCipher.from_specs([KEY])
    stored = cipher.seal(data, context="cache.payment:pay_1")
    assert stored.startswith("pii1.k1.")
    assert cipher.unseal(stored, context="cache.payment:pay_1") == data
    with pytest.raises(FieldCipherError):
        cipher.unseal(stored, context="cache.payment:pay_2")


def test_text_and_bytes_are_the_same_values() -> None:
    cipher = FieldCipher.from_specs([KEY])
    stored = cipher.encrypt("pi_1_secret_2", context="transactions.client_secret")
    assert cipher.unseal(stored, context="transactions.client_secret") == b"pi_1_secret_2"


def test_the_key_id_of_a_value_needs_no_key() -> None:
    stored = FieldCipher.from_specs([KEY]).encrypt("x", context="c")
    assert FieldCipher.key_id_of(stored) == "k1"
    assert FieldCipher.key_id_of("pi_1_secret_2") is None


def test_no_process_cipher_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "_PROCESS_CIPHER", [])
    assert installed_field_cipher() is None
    with pytest.raises(RuntimeError, match="pii_encryption_keys"):
        field_cipher()
    cipher = FieldCipher.from_specs([KEY])
    use_field_cipher(cipher)
    assert field_cipher() is installed_field_cipher() is cipher
