"""The subject scheme: ``<prefix>.<account>.<type tokens>``, e.g.
``payments.events.acct_42.payment.succeeded``.

A type's dots make subject tokens, so ``payments.events.*.payment.>`` is every
payment event of every account and ``payments.events.acct_42.>`` all of one
account's. A token keeps ``[A-Za-z0-9_-]`` as is; any other byte (a dot, ``*``,
``>``, a space, non-ASCII) becomes ``%XX`` of its UTF-8 bytes, and an empty value
``%``, so every account id and type makes a valid, unambiguous subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")
EMPTY_TOKEN = "%"


def encode_token(value: str) -> str:
    """One subject token for any string (reversible, readable for ordinary ids)."""
    if not value:
        return EMPTY_TOKEN
    if _SAFE.fullmatch(value):
        return value
    out = []
    for char in value:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def encode_type(event_type: str) -> str:
    """The type's dot-separated parts as subject tokens."""
    return ".".join(encode_token(part) for part in event_type.split("."))


def validate_prefix(prefix: str) -> str:
    if not _TOKEN.fullmatch(prefix):
        raise ValueError(f"subject prefix {prefix!r}: tokens of [A-Za-z0-9_-] joined by dots")
    return prefix


def event_subject(prefix: str, account_id: str, event_type: str) -> str:
    return f"{prefix}.{encode_token(account_id)}.{encode_type(event_type)}"


def all_events(prefix: str) -> str:
    return f"{prefix}.>"


def filter_subject(prefix: str, account_id: str | None, types: Iterable[str]) -> str:
    """The narrowest single subject filter covering the account and every type.

    ``types`` as WatchEvents takes them: exact, ``<kind>.*`` or ``<kind>``. One filter
    works on every JetStream server (several need 2.10+); when the types
    differ, it is their longest common token prefix and the feed drops the rest.
    """
    account = "*" if account_id is None else encode_token(account_id)
    names = set(types)
    if any(t.endswith(".*") or "." not in t for t in names):
        # ``payment.*`` and ``payment`` mean every payment event (WatchEvents' filter).
        kinds = {t.partition(".")[0] for t in names}
        if len(kinds) == 1:
            return f"{prefix}.{account}.{encode_token(kinds.pop())}.>"
        return f"{prefix}.{account}.>"
    encoded = sorted({encode_type(t) for t in names})
    if not encoded:
        return f"{prefix}.{account}.>"
    if len(encoded) == 1:
        return f"{prefix}.{account}.{encoded[0]}"
    split = [t.split(".") for t in encoded]
    shortest = min(len(parts) for parts in split)
    common: list[str] = []
    # ">" needs one token more, so the common part stays shorter than the shortest type.
    for parts in zip(*(p[: shortest - 1] for p in split), strict=True):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return ".".join([prefix, account, *common, ">"])
