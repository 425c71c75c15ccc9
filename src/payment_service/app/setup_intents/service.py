"""The SetupIntent capability as one object: create, get (with its refresh), the events
and the reconciler's tasks.

GetSetupIntent re-reads an unsettled SetupIntent not read for ``refresh_after_s`` (once,
however many concurrent Gets ask), and so attaches the saved card "on read" when the
``setup_intent.succeeded`` event has not arrived yet.
"""

from __future__ import annotations

from datetime import timedelta

from payment_service.app.common.locks import KeyedLocks
from payment_service.app.common.refreshing import refreshed_or_stored
from payment_service.app.common.repair import RepairTally
from payment_service.app.common.repair_pass import repair_each
from payment_service.app.common.validation import Violations
from payment_service.app.customers.accounts import Customers
from payment_service.app.ports.failpoints import NO_FAILPOINTS, Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import RepairReport, RepairTask
from payment_service.app.ports.setup_intents import SetupIntentProcessor
from payment_service.app.ports.storage import UnitOfWorkFactory
from payment_service.app.setup_intents.create import CreateSetupIntents
from payment_service.app.setup_intents.rules import UNSETTLED, SetupIntentRules
from payment_service.app.setup_intents.store import REFRESH, SetupIntentStore
from payment_service.domain.caller import Caller
from payment_service.domain.clock import api_read_time, utcnow
from payment_service.domain.entities import SetupIntent
from payment_service.domain.errors import NotFound
from payment_service.domain.states import SetupIntentState

_FAILURE = "setup intent repair failed"


class SetupIntents:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        processor: SetupIntentProcessor,
        payments: PaymentProcessor,
        customers: Customers,
        rules: SetupIntentRules,
        failpoints: Failpoints = NO_FAILPOINTS,
    ) -> None:
        self.store = SetupIntentStore(uow_factory, payments)
        self.rules = rules
        self._processor = processor
        self._creating = CreateSetupIntents(self.store, processor, customers, rules, failpoints)
        self._locks = KeyedLocks()
        self.create = self._creating.create

    async def get(self, caller: Caller, setup_intent_id: str) -> SetupIntent:
        check = Violations()
        check.object_id(setup_intent_id, "setup")
        check.raise_if_any()
        row = await self.store.load(setup_intent_id)
        if not caller.may_access(row.account_id):
            raise NotFound("setup_intent", setup_intent_id)
        if not self._read_due(row, self.rules.refresh_after_s):
            return row
        async with self._locks.hold(("refresh", row.id)):
            current = await self.store.load(row.id)
            if not self._read_due(current, self.rules.refresh_after_s):
                return current
            return await refreshed_or_stored(current, self.refresh, "setup_intent")

    async def refresh(self, row: SetupIntent) -> SetupIntent:
        """Read the SetupIntent now and store what it says; Stripe's errors are raised."""
        if row.stripe_setup_intent_id is None:
            return row
        remote = await self._processor.retrieve_setup_intent(row.stripe_setup_intent_id)
        return await self.store.store_remote(row.id, remote, api_read_time(), REFRESH)

    @staticmethod
    def _read_due(row: SetupIntent, after_s: float) -> bool:
        if row.stripe_setup_intent_id is None or row.state not in UNSETTLED:
            return False
        if row.state is SetupIntentState.SUCCEEDED and not row.awaits_attachment:
            return False
        return utcnow() - row.last_read >= timedelta(seconds=after_s)

    # --- the reconciler's tasks -----------------------------------------------------------
    def tasks(self) -> tuple[RepairTask, ...]:
        return (self.finish_pending_setup_intents, self.refresh_setup_intents)

    async def finish_pending_setup_intents(self) -> RepairReport:
        tally = RepairTally("finish_pending_setup_intents", utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.pending_grace_s)
        async with self.store.uow_factory(read_only=True) as uow:
            pending = await uow.setup_intents.list_pending(older_than, limit=self.rules.batch_size)
        await repair_each(
            tally,
            pending,
            self._creating.finish_pending,
            lambda row: row.state is SetupIntentState.PENDING,
            failure=_FAILURE,
            id_key="setup_intent_id",
        )
        return tally.report()

    async def refresh_setup_intents(self) -> RepairReport:
        """Unsettled SetupIntents not read lately, each on its backoff (a lost event)."""
        tally = RepairTally("refresh_setup_intents", utcnow())
        older_than = tally.now - timedelta(seconds=self.rules.stuck_after_s)
        async with self.store.uow_factory(read_only=True) as uow:
            stale = await uow.setup_intents.list_to_refresh(
                UNSETTLED, older_than, limit=self.rules.batch_size
            )
        due = [
            row
            for row in stale
            if self._read_due(row, 0)
            and row.refresh_due(
                tally.now,
                min_s=self.rules.stuck_after_s,
                max_s=self.rules.max_refresh_interval_s,
            )
        ]
        await repair_each(
            tally, due, self.refresh, lambda row: False, failure=_FAILURE, id_key="setup_intent_id"
        )
        return tally.report()
