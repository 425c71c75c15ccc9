"""The client names every ErrorInfo reason the server can send (payments_client.reasons)."""

from __future__ import annotations

import ast
from pathlib import Path

from payments.v1 import common_pb2
from payments_client import reasons

from payment_service.adapters.stripe.errors import REFUND_STATE_CODES, STATE_CODES

SRC = Path(__file__).resolve().parents[3] / "src" / "payment_service"
REASON_KEYWORDS = {"reason", "busy_reason"}
# DomainError's own default; only its subclasses (each with its reason) are raised.
BASE_REASON = "DOMAIN_ERROR"


def _module_strings(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def server_reasons() -> set[str]:
    """Every reason literal in src/: ``reason=``/``busy_reason=`` arguments (constants
    resolved by name across modules), ``default_reason`` class attributes, Stripe's state
    codes upper-cased (adapters/stripe/errors.py sends those as the reason)."""
    trees = [ast.parse(path.read_text()) for path in SRC.rglob("*.py")]
    constants: dict[str, str] = {}
    for tree in trees:
        constants.update(_module_strings(tree))
    found = {code.upper() for code in STATE_CODES | REFUND_STATE_CODES}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in REASON_KEYWORDS:
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    found.add(node.value.value)
                elif isinstance(node.value, ast.Name) and node.value.id in constants:
                    found.add(constants[node.value.id])
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "default_reason" for t in node.targets
            ):
                assert isinstance(node.value, ast.Constant)
                found.add(str(node.value.value))
    return found - {BASE_REASON}


def test_every_reason_the_server_sends_is_known_to_the_client() -> None:
    sent = server_reasons()
    assert {"CARD_DECLINED", "TOKEN_EXPIRED", "OUTCOME_PENDING", "AMOUNT_TOO_LARGE"} <= sent
    assert sent - reasons.ALL_REASONS == set()


def test_the_protos_error_reasons_are_among_them() -> None:
    documented = {
        value.name.removeprefix("ERROR_REASON_")
        for value in common_pb2.DESCRIPTOR.enum_types_by_name["ErrorReason"].values
        if value.number
    }
    assert documented - reasons.ALL_REASONS == set()
