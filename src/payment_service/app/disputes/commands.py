"""UpdateDisputeEvidence and CloseDispute: one Stripe call each on an existing dispute,
through the mutation runner (app/common/mutation.py: request recorded pending before
Stripe, replayed on a retry, the answer stored with an audit row)."""

from __future__ import annotations

from dataclasses import dataclass

from payment_service.app.common.mutation import Attempt, Mutations, PlainAnswers, Subject
from payment_service.app.common.replay import MutationRequest
from payment_service.app.common.validation import Violations, check_command
from payment_service.app.disputes.rules import check_evidence
from payment_service.app.disputes.sync import apply_dispute
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.disputes import DisputeProcessor
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.domain.caller import Caller
from payment_service.domain.clock import answer_time
from payment_service.domain.disputes import DisputeEvidence, RemoteDispute
from payment_service.domain.entities import Dispute
from payment_service.domain.errors import InvalidTransition, found
from payment_service.domain.states import DisputeState

_DISPUTES: Subject[Dispute] = Subject("dispute", "disputes", lambda uow: uow.disputes)


@dataclass
class DisputeCommands:
    uow_factory: UnitOfWorkFactory
    processor: DisputeProcessor
    cache: Cache
    failpoints: Failpoints = NO_FAILPOINTS

    def __post_init__(self) -> None:
        answers = DisputeAnswers(self.uow_factory, self.cache)
        self._mutations = Mutations(self.uow_factory, _DISPUTES, answers, self.failpoints)

    async def update_evidence(
        self,
        caller: Caller,
        request_id: str,
        dispute_id: str,
        evidence: DisputeEvidence,
        submit: bool,
    ) -> Dispute:
        check = Violations()
        check_evidence(evidence, submit, check)
        check_command(request_id, dispute_id, "dsp", check)

        def respondable(dispute: Dispute) -> None:
            if not dispute.takes_evidence:
                raise InvalidTransition("dispute", dispute.id, dispute.state.value, "evidence")

        async def call(dispute: Dispute, key: str) -> RemoteDispute:
            return await self.processor.update_dispute(
                dispute.stripe_dispute_id, evidence=evidence, submit=submit, idempotency_key=key
            )

        def reached(dispute: Dispute) -> bool:
            given = dispute.evidence.merged(evidence) == dispute.evidence
            return given and (dispute.evidence_submitted or not submit)

        fields = {"id": dispute_id, "evidence": evidence.given(), "submit": submit}
        request = MutationRequest.of(caller, "UpdateDisputeEvidence", request_id, fields)
        return await self._mutations.run(caller, request, dispute_id, call, reached, respondable)

    async def close(self, caller: Caller, request_id: str, dispute_id: str) -> Dispute:
        check_command(request_id, dispute_id, "dsp")

        def closable(dispute: Dispute) -> None:
            if dispute.is_final:
                raise InvalidTransition(
                    "dispute", dispute.id, dispute.state.value, DisputeState.LOST.value
                )

        async def call(dispute: Dispute, key: str) -> RemoteDispute:
            return await self.processor.close_dispute(
                dispute.stripe_dispute_id, idempotency_key=key
            )

        def lost(dispute: Dispute) -> bool:
            # Stripe closes an inquiry as warning_closed, a chargeback as lost.
            return dispute.state in (DisputeState.LOST, DisputeState.WARNING_CLOSED)

        request = MutationRequest.of(caller, "CloseDispute", request_id, {"id": dispute_id})
        return await self._mutations.run(caller, request, dispute_id, call, lost, closable)


@dataclass
class DisputeAnswers(PlainAnswers):
    """How Stripe's answer to a dispute command is kept."""

    uow_factory: UnitOfWorkFactory
    cache: Cache

    async def store(self, attempt: Attempt, remote: RemoteDispute) -> Dispute:
        async with self.uow_factory() as uow:
            synced = await apply_dispute(uow, remote, answer_time(), None)
            dispute = found(synced.dispute, "dispute", attempt.object_id)
            await attempt.answered(uow, dispute.state.value)
            await uow.commit()
        if synced.payment_cache_key:
            await self.cache.delete(synced.payment_cache_key)
        return dispute
