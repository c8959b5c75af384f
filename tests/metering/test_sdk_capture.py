"""The unmodified schematichq SDK (1.4.6) sending identify and track through its own event buffer to a
plangate server on a loopback port (the sync client needs a real network address)."""

import asyncio
from datetime import timedelta

from schematic.client import Schematic, SchematicConfig, TrackOptions
from schematic.types import EventBodyIdentifyCompany

from domain.companies import service as companies
from domain.companies.models import CompanyMembership
from domain.metering.models import Event, IdempotencyKey
from domain.timeutil import utcnow
from tests.conftest import Keys
from tests.metering.conftest import WINDOWS, company, counter, counters, user


async def test_sdk_identify_and_track_through_the_event_buffer(live_server: str, keys: Keys) -> None:
    client = Schematic(keys.secret, SchematicConfig(
        base_url=live_server, event_capture_url=live_server, event_buffer_period=1, cache_providers=[],
    ))
    past = utcnow() - timedelta(days=3)

    def use() -> None:
        client.identify(
            keys={"user_id": "u1", "email": "ann@acme.test"}, name="Ann", traits={"role": "admin"},
            company=EventBodyIdentifyCompany(keys={"id": "acme"}, name="Acme", traits={"seats": 3}),
        )
        client.track("api-call", company={"id": "acme"}, user={"user_id": "u1"}, quantity=7)
        client.track("api-call", company={"id": "acme"})  # quantity None counts 1
        for _ in range(2):  # the same idempotency key twice: counted once
            client.track("export", company={"id": "acme"}, quantity=2, options=TrackOptions(idempotency_key="sdk-1"))
        client.track("api-call", company={"id": "acme"}, quantity=5,
                     options=TrackOptions(sent_at=past, trusted_client_clock=True))
        client.shutdown()  # final flush of the buffer

    await asyncio.to_thread(use)

    acme, ann = await company("id", "acme"), await user("user_id", "u1")
    assert (acme.name, ann.name) == ("Acme", "Ann")
    assert await CompanyMembership.exists(company_id=acme.id, user_id=ann.id)
    assert (await companies.company_traits(keys.scope, [acme.id]))[acme.id]["seats"][1].value_number == 3
    assert (await companies.user_traits(keys.scope, [ann.id]))[ann.id]["role"][1].value_text == "admin"
    assert await counter(acme.id, "api-call") == 13
    assert await counter(acme.id, "api-call", "current_day") == 8
    assert await counter(acme.id, "api-call", "current_day", at=past) == 5
    assert await counters(acme.id, "export") == dict.fromkeys(WINDOWS, 2)
    assert await counter(ann.id, "api-call") == 7
    stored = await Event.all()
    assert len(stored) == 5 and {e.status for e in stored} == {"processed"} and {e.source for e in stored} == {
        "capture"}
    assert await IdempotencyKey.filter(id__endswith=":sdk-1").count() == 1
    assert acme.last_seen_at is not None and ann.last_seen_at is not None
