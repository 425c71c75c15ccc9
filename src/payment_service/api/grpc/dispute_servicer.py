"""DisputeService: proto <-> domain mapping only; the rules live in app/disputes."""

from __future__ import annotations

from payments.v1 import dispute_service_pb2 as pb
from payments.v1.dispute_service_pb2_grpc import DisputeServiceServicer

from payment_service.api.grpc.convert import CURRENCY_CODE, EnumMap, MessageFields, timestamp
from payment_service.api.grpc.rpc import answers, answers_page, page_of
from payment_service.app.disputes.rules import ListDisputes
from payment_service.app.disputes.service import Disputes
from payment_service.domain.caller import Caller
from payment_service.domain.disputes import DisputeEvidence
from payment_service.domain.entities import Dispute
from payment_service.domain.pagination import Page
from payment_service.domain.states import DisputeState

DISPUTE_STATES = EnumMap(DisputeState, pb.DisputeState, "DISPUTE_STATE_")
_EVIDENCE_FIELDS = DisputeEvidence.field_names()


def evidence_from_proto(message: pb.DisputeEvidence) -> DisputeEvidence:
    return DisputeEvidence(**{name: getattr(message, name) or None for name in _EVIDENCE_FIELDS})


_DISPUTE_FIELDS = MessageFields(
    values=(
        "id",
        "payment_id",
        "account_id",
        "amount",
        "reason",
        "evidence_submitted",
        "funds_withdrawn",
        "funds_reinstated",
        "payment_refundable",
        "stripe_dispute_id",
        "stripe_charge_id",
    ),
    enums={"state": DISPUTE_STATES},
    renamed=CURRENCY_CODE,
)


def dispute_to_proto(dispute: Dispute) -> pb.Dispute:
    return pb.Dispute(
        **_DISPUTE_FIELDS.of(dispute),
        evidence_due_time=timestamp(dispute.evidence_due_by),
        evidence=pb.DisputeEvidence(**dispute.evidence.given()),
    )


class DisputeServicer(DisputeServiceServicer):
    def __init__(self, disputes: Disputes) -> None:
        self._disputes = disputes

    @answers(pb.GetDisputeResponse, "dispute", dispute_to_proto)
    async def GetDispute(self, request: pb.GetDisputeRequest, caller: Caller) -> Dispute:
        return await self._disputes.get(caller, request.id)

    @answers_page(pb.ListDisputesResponse, "disputes", dispute_to_proto)
    async def ListDisputes(self, request: pb.ListDisputesRequest, caller: Caller) -> Page[Dispute]:
        query = ListDisputes(
            page=page_of(request),
            account_id=request.account_id,
            payment_id=request.payment_id,
            states=DISPUTE_STATES.from_protos(request.states, "states"),
        )
        return await self._disputes.list(caller, query)

    @answers(pb.UpdateDisputeEvidenceResponse, "dispute", dispute_to_proto)
    async def UpdateDisputeEvidence(
        self, request: pb.UpdateDisputeEvidenceRequest, caller: Caller
    ) -> Dispute:
        return await self._disputes.update_evidence(
            caller,
            request.request_id,
            request.id,
            evidence_from_proto(request.evidence),
            request.submit,
        )

    @answers(pb.CloseDisputeResponse, "dispute", dispute_to_proto)
    async def CloseDispute(self, request: pb.CloseDisputeRequest, caller: Caller) -> Dispute:
        return await self._disputes.close(caller, request.request_id, request.id)
