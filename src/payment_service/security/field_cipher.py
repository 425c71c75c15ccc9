"""AES-256-GCM for personal data and secrets at rest (emails, names, raw Stripe events,
PaymentIntent client secrets; cached entities in Redis).

A stored value is ``pii1.<key id>.<base64url(nonce || ciphertext+tag)>``. The key
id travels with every value, so keys rotate without downtime: add the new key,
make it active, and values written under older keys still decrypt while rows
are rewritten under the new one (``payment-service rotate-keys``). The column name is bound in as associated
data, so a value copied into another column does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pii1"
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class FieldCipherError(ValueError):
    """A key that cannot be used, or a stored value that does not decrypt."""


class FieldCipher:
    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise FieldCipherError("at least one key is needed")
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise FieldCipherError(f"key id {key_id!r}: use 1-32 of A-Z a-z 0-9 _ -")
            if len(key) != 32:
                raise FieldCipherError(f"key {key_id!r}: AES-256 needs 32 bytes, got {len(key)}")
        if active_key_id not in keys:
            raise FieldCipherError(f"active key {active_key_id!r} is not among the keys")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @classmethod
    def from_specs(cls, specs: Iterable[str], active_key_id: str | None = None) -> FieldCipher:
        """Keys as ``"<id>:<base64 of 32 bytes>"``; the active one defaults to the last listed."""
        keys: dict[str, bytes] = {}
        for spec in specs:
            key_id, sep, encoded = spec.partition(":")
            if not sep:
                raise FieldCipherError("each key is '<id>:<base64 of 32 random bytes>'")
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise FieldCipherError(f"key {key_id!r} is not valid base64") from None
        if not keys:
            raise FieldCipherError("at least one key is needed")
        return cls(keys, active_key_id or list(keys)[-1])

    @staticmethod
    def new_key_spec(key_id: str) -> str:
        return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"

    def encrypt(self, plaintext: str, *, context: str) -> str:
        return self.seal(plaintext.encode(), context=context)

    def decrypt(self, stored: str, *, context: str) -> str:
        return self.unseal(stored, context=context).decode()

    def seal(self, data: bytes, *, context: str) -> str:
        """``data`` as a stored value under the active key, ``context`` bound in."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.active_key_id].encrypt(nonce, data, context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}.{self.active_key_id}.{body}"

    def unseal(self, stored: str, *, context: str) -> bytes:
        """The bytes of a stored value; FieldCipherError unless it decrypts under ``context``."""
        prefix, _, rest = stored.partition(".")
        key_id, _, body = rest.partition(".")
        if prefix != PREFIX or not body:
            raise FieldCipherError(f"{context}: not an encrypted value")
        aead = self._aead.get(key_id)
        if aead is None:
            raise FieldCipherError(f"{context}: encrypted with unknown key {key_id!r}")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise FieldCipherError(
                f"{context}: value does not decrypt (tampered or wrong key)"
            ) from None

    @staticmethod
    def key_id_of(stored: str) -> str | None:
        """The key id a stored value names; None when it is no encrypted value."""
        prefix, _, rest = stored.partition(".")
        return rest.partition(".")[0] if prefix == PREFIX else None


# The process's cipher: the composition root installs it once, before any query runs.
_PROCESS_CIPHER: list[FieldCipher] = []


def use_field_cipher(cipher: FieldCipher) -> None:
    _PROCESS_CIPHER[:] = [cipher]


def installed_field_cipher() -> FieldCipher | None:
    return _PROCESS_CIPHER[0] if _PROCESS_CIPHER else None


def field_cipher() -> FieldCipher:
    """The process's cipher; RuntimeError when none is installed (never store in clear)."""
    if not _PROCESS_CIPHER:
        raise RuntimeError("no PII encryption key is configured (pii_encryption_keys)")
    return _PROCESS_CIPHER[0]
