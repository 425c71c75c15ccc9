"""AIP-155 request ids: a stable hash of a request's meaningful fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def request_hash(method: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the method and the canonical JSON of the fields (sorted keys)."""
    canonical = json.dumps(
        {"method": method, "fields": fields}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
