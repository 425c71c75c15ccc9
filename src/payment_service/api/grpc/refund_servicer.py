"""RefundService: proto <-> domain mapping only; the rules live in app/refunds.py."""

from __future__ import annotations

from payments.v1 import refund_service_pb2 as pb
from payments.v1.refund_service_pb2_grpc import RefundServiceServicer

from payment_service.api.grpc.convert import CURRENCY_CODE, EnumMap, MessageFields
from payment_service.api.grpc.rpc import answers, answers_page, page_of
from payment_service.app.refunds.rules import CreateRefund, ListRefunds
from payment_service.app.refunds.service import Refunds
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Refund
from payment_service.domain.pagination import Page
from payment_service.domain.states import RefundReason, RefundState

REFUND_STATES = EnumMap(RefundState, pb.RefundState, "REFUND_STATE_")
REFUND_REASONS = EnumMap(RefundReason, pb.RefundReason, "REFUND_REASON_")


_REFUND_FIELDS = MessageFields(
    values=(
        "id",
        "payment_id",
        "account_id",
        "amount",
        "failure_reason",
        "stripe_refund_id",
        "metadata",
    ),
    enums={"reason": REFUND_REASONS, "state": REFUND_STATES},
    renamed=CURRENCY_CODE,
)


def refund_to_proto(refund: Refund) -> pb.Refund:
    return pb.Refund(**_REFUND_FIELDS.of(refund))


class RefundServicer(RefundServiceServicer):
    def __init__(self, refunds: Refunds) -> None:
        self._refunds = refunds

    @answers(pb.CreateRefundResponse, "refund", refund_to_proto)
    async def CreateRefund(self, request: pb.CreateRefundRequest, caller: Caller) -> Refund:
        command = CreateRefund(
            request_id=request.request_id,
            payment_id=request.payment_id,
            amount=request.amount if request.HasField("amount") else None,
            reason=REFUND_REASONS.from_proto(request.reason, "reason"),
            metadata=dict(request.metadata),
        )
        return await self._refunds.create(caller, command)

    @answers(pb.GetRefundResponse, "refund", refund_to_proto)
    async def GetRefund(self, request: pb.GetRefundRequest, caller: Caller) -> Refund:
        return await self._refunds.get(caller, request.id)

    @answers_page(pb.ListRefundsResponse, "refunds", refund_to_proto)
    async def ListRefunds(self, request: pb.ListRefundsRequest, caller: Caller) -> Page[Refund]:
        query = ListRefunds(
            page=page_of(request), payment_id=request.payment_id, account_id=request.account_id
        )
        return await self._refunds.list(caller, query)
