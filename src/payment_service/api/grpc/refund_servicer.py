"""RefundService: proto <-> domain mapping only; the rules live in app/refunds.py."""

from __future__ import annotations

import grpc.aio
from payments.v1 import refund_service_pb2 as pb
from payments.v1.refund_service_pb2_grpc import RefundServiceServicer

from payment_service.api.grpc.context import current_caller
from payment_service.api.grpc.convert import EnumMap, timestamp
from payment_service.app.refunds.rules import CreateRefund, ListRefunds
from payment_service.app.refunds.service import Refunds
from payment_service.domain.entities import Refund
from payment_service.domain.pagination import PageRequest
from payment_service.domain.states import RefundReason, RefundState

REFUND_STATES = EnumMap(RefundState, pb.RefundState, "REFUND_STATE_")
REFUND_REASONS = EnumMap(RefundReason, pb.RefundReason, "REFUND_REASON_")

_Context = grpc.aio.ServicerContext[object, object]


def refund_to_proto(refund: Refund) -> pb.Refund:
    return pb.Refund(
        id=refund.id,
        payment_id=refund.payment_id,
        account_id=refund.account_id,
        amount=refund.amount,
        currency_code=refund.currency,
        reason=REFUND_REASONS.to_proto(refund.reason),
        state=REFUND_STATES.to_proto(refund.state),
        failure_reason=refund.failure_reason or "",
        stripe_refund_id=refund.stripe_refund_id or "",
        metadata=refund.metadata,
        create_time=timestamp(refund.create_time),
        update_time=timestamp(refund.update_time),
    )


class RefundServicer(RefundServiceServicer):
    def __init__(self, refunds: Refunds) -> None:
        self._refunds = refunds

    async def CreateRefund(
        self, request: pb.CreateRefundRequest, context: _Context
    ) -> pb.CreateRefundResponse:
        command = CreateRefund(
            request_id=request.request_id,
            payment_id=request.payment_id,
            amount=request.amount if request.HasField("amount") else None,
            reason=REFUND_REASONS.from_proto(request.reason, "reason"),
            metadata=dict(request.metadata),
        )
        refund = await self._refunds.create(current_caller(), command)
        return pb.CreateRefundResponse(refund=refund_to_proto(refund))

    async def GetRefund(
        self, request: pb.GetRefundRequest, context: _Context
    ) -> pb.GetRefundResponse:
        refund = await self._refunds.get(current_caller(), request.id)
        return pb.GetRefundResponse(refund=refund_to_proto(refund))

    async def ListRefunds(
        self, request: pb.ListRefundsRequest, context: _Context
    ) -> pb.ListRefundsResponse:
        query = ListRefunds(
            page=PageRequest(request.page_size, request.page_token),
            payment_id=request.payment_id,
            account_id=request.account_id,
        )
        page = await self._refunds.list(current_caller(), query)
        return pb.ListRefundsResponse(
            refunds=[refund_to_proto(r) for r in page.items], next_page_token=page.next_page_token
        )
