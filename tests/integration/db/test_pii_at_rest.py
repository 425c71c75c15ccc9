"""Personal data is stored encrypted (AES-256-GCM) and read back in clear by the repositories."""

from __future__ import annotations

from sqlalchemy import select

from payment_service.adapters.db.tables import (
    customers,
    payment_methods,
    transactions,
    webhook_events,
)
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory

from . import builders as b


async def test_personal_data_is_ciphertext_in_the_database(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    customer = b.customer()
    method = b.payment_method(customer)
    method.billing_name = "Ada Lovelace"
    payment = b.payment(customer, receipt_email="ada@example.com")
    event = b.webhook_event(payload='{"object": {"email": "ada@example.com"}}')
    async with uow_factory() as uow:
        await uow.customers.add(customer)
        await uow.payment_methods.add(method)
        await uow.payments.add(payment)
        await uow.webhook_events.insert_if_new(event)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        raw = [
            *(await uow.connection.execute(select(customers.c.email, customers.c.name))).one(),
            (await uow.connection.execute(select(payment_methods.c.billing_name))).scalar_one(),
            (await uow.connection.execute(select(transactions.c.receipt_email))).scalar_one(),
            (await uow.connection.execute(select(webhook_events.c.payload))).scalar_one(),
        ]
        # Read without the column type: what the database really holds.
        stored = (await uow.connection.exec_driver_sql("SELECT email, name FROM customers")).one()
        assert raw[:2] == ["ada@example.com", "Ada"]
        assert all(value.startswith("pii1.test.") for value in stored)
        # The plaintext is nowhere in what is stored (the name is checked whole: three
        # letters turn up by chance in a ciphertext's base64 now and then).
        email, name = stored
        assert "ada@example.com" not in email.lower()
        assert name.rpartition(".")[2] != "Ada"
        receipt = (
            await uow.connection.exec_driver_sql("SELECT receipt_email FROM transactions")
        ).scalar_one()
        payload = (
            await uow.connection.exec_driver_sql("SELECT payload FROM webhook_events")
        ).scalar_one()
        billing = (
            await uow.connection.exec_driver_sql("SELECT billing_name FROM payment_methods")
        ).scalar_one()
        for value in (receipt, payload, billing):
            assert value.startswith("pii1.test.")
            # Whole words, not "ada": three letters turn up in base64 by chance.
            assert "example.com" not in value.lower()
            assert "lovelace" not in value.lower()

        assert (await uow.customers.get(customer.id)) == customer
        assert (await uow.payments.get(payment.id)).receipt_email == "ada@example.com"  # type: ignore[union-attr]
        assert raw[2:] == ["Ada Lovelace", "ada@example.com", event.payload]


async def test_webhook_payloads_stored_in_a_batch_are_ciphertext_too(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The ingest's many-row insert (on PostgreSQL one array per column) seals every
    payload as the one-row insert does, and reads each back whole."""
    events = [
        b.webhook_event(payload=f'{{"object": {{"email": "ada{n}@example.com"}}}}')
        for n in range(3)
    ]
    async with uow_factory() as uow:
        inserted = await uow.webhook_events.insert_many_if_new(events)
        await uow.commit()
    assert inserted == {event.stripe_event_id for event in events}
    async with uow_factory(read_only=True) as uow:
        stored = (
            await uow.connection.exec_driver_sql("SELECT payload FROM webhook_events")
        ).scalars()
        for value in stored:
            assert value.startswith("pii1.test.")
            assert "example.com" not in value.lower()  # "ada" may turn up in base64
        for event in events:
            found = await uow.webhook_events.find_by_stripe_event_id(event.stripe_event_id)
            assert found is not None
            assert (found.payload, found.created, found.state) == (
                event.payload,
                event.created,
                event.state,
            )
