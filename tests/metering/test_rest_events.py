"""Schematic REST events (POST /events, POST /event-batch), driven by the unmodified SDK in process."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from schematic.client import AsyncSchematic, AsyncSchematicConfig
from schematic.core.api_error import ApiError
from schematic.types import CreateEventRequestBody, EventBodyIdentify, EventBodyIdentifyCompany, EventBodyTrack

from domain.metering.models import Event
from domain.timeutil import utcnow
from tests.conftest import Keys
from tests.metering.conftest import WINDOWS, company, counter, counters, nothing_stored, user

BASE = "http://plangate.test"


@pytest_asyncio.fixture
async def sdk(app: object, keys: Keys) -> AsyncIterator[AsyncSchematic]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)  # type: ignore[arg-type]
    client = AsyncSchematic(keys.secret, AsyncSchematicConfig(
        base_url=BASE, event_capture_url=BASE, httpx_client=http, cache_providers=[], event_buffer_period=60,
    ))
    yield client
    await client.shutdown()


async def test_create_event_through_the_sdk(sdk: AsyncSchematic, keys: Keys) -> None:
    response = await sdk.events.create_event(
        event_type="identify",
        body=EventBodyIdentify(keys={"user_id": "u1"}, name="Ann",
                               company=EventBodyIdentifyCompany(keys={"id": "acme"}, name="Acme")),
    )
    assert response.data.event_id.startswith("evt_")  # type: ignore[union-attr]
    assert response.data.remote_ip and response.data.user_agent.startswith("schematichq")
    response = await sdk.events.create_event(
        event_type="track", idempotency_key="rest-1",
        body=EventBodyTrack(event="api-call", company={"id": "acme"}, user={"user_id": "u1"}, quantity=4),
    )
    assert response.data.model_extra["status"] == "processed"  # type: ignore[index]
    acme, ann = await company("id", "acme"), await user("user_id", "u1")
    assert await counters(acme.id, "api-call") == dict.fromkeys(WINDOWS, 4)
    assert await counter(ann.id, "api-call") == 4
    again = await sdk.events.create_event(
        event_type="track", idempotency_key="rest-1", body=EventBodyTrack(event="api-call", company={"id": "acme"}),
    )
    assert again.data.model_extra["status"] == "duplicate"  # type: ignore[index]
    assert await counter(acme.id, "api-call") == 4
    assert {e.source for e in await Event.all()} == {"rest"}


async def test_create_event_batch_through_the_sdk(sdk: AsyncSchematic, keys: Keys) -> None:
    past = utcnow() - timedelta(days=2)
    response = await sdk.events.create_event_batch(events=[
        CreateEventRequestBody(event_type="track", body=EventBodyTrack(event="api-call", company={"id": "acme"},
                                                                      quantity=2)),
        CreateEventRequestBody(event_type="track", body=EventBodyTrack(event="bad name", company={"id": "acme"})),
        CreateEventRequestBody(event_type="track", sent_at=past, backfill=True,
                               body=EventBodyTrack(event="api-call", company={"id": "acme"}, quantity=5)),
    ])
    statuses = [e.model_extra["status"] for e in response.data.events]  # type: ignore[union-attr]
    assert statuses == ["processed", "failed", "processed"]
    acme = await company("id", "acme")
    assert await counter(acme.id, "api-call") == 7
    assert await counter(acme.id, "api-call", "current_day") == 2
    assert await counter(acme.id, "api-call", "current_day", at=past) == 5


async def test_rest_envelope_and_bad_input(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/events", json={"event_type": "track", "idempotency_key": "e1",
                                                   "body": {"event": "api-call", "company": {"id": "acme"}}})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"data", "params"} and body["params"] == {"event_type": "track", "idempotency_key": "e1"}
    assert {"captured_at", "remote_ip", "user_agent", "event_id"} <= set(body["data"])
    assert body["data"]["captured_at"].endswith("Z")

    bad = await client.post("/events", json={"body": {}})
    assert bad.status_code == 400 and "event_type is required" in bad.json()["error"]
    too_many = await client.post("/event-batch", json={"events": [{"event_type": "track"}] * 101})
    assert too_many.status_code == 400 and too_many.json() == {"error": "batch too large", "max_size": 100}
    unauthorised = await client.post("/events", json={"event_type": "track"}, headers={"X-Schematic-Api-Key": "x"})
    assert unauthorised.status_code == 401
    forbidden = await client.post("/events", headers={"X-Schematic-Api-Key": keys.publishable}, json={
        "event_type": "track", "body": {"event": "api-call", "company": {"id": "acme"}, "quantity": -2}})
    assert forbidden.status_code == 403
    assert await Event.all().count() == 1


async def test_publishable_key_errors_map_to_sdk_exceptions(app: object, keys: Keys) -> None:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)  # type: ignore[arg-type]
    client = AsyncSchematic(keys.publishable, AsyncSchematicConfig(
        base_url=BASE, event_capture_url=BASE, httpx_client=http, cache_providers=[], event_buffer_period=60,
    ))
    try:
        with pytest.raises(ApiError) as raised:
            await client.events.create_event(
                event_type="track", body=EventBodyTrack(event="api-call", company={"id": "acme"}, quantity=-1),
            )
        assert raised.value.status_code == 403
    finally:
        await client.shutdown()
    await nothing_stored()
