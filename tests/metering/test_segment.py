"""The Segment HTTP tracking API: mapping, write-key authentication, gzip, messageId deduplication — in
process, and with the real segment-analytics-python client against a live server."""

import asyncio
import base64
import gzip

import httpx
import orjson
import pytest
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError

from domain.companies import service as companies
from domain.companies.models import CompanyMembership
from domain.environments.models import Environment
from domain.environments.service import create_key
from domain.metering.models import Event
from domain.metering.parsing import snake_case
from tests.conftest import Keys
from tests.metering.conftest import WINDOWS, company, company_id, counter, counters, nothing_stored, user


async def write_key(settings: dict | None = None, environment: str = "development") -> str:
    env = await Environment.get(name=environment)
    return (await create_key(env, "segment", "segment", settings=settings)).plaintext


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def message(kind: str, message_id: str, **fields: object) -> dict:
    return {"type": kind, "messageId": message_id, "timestamp": "2026-03-18T14:05:00.000+00:00",
            "context": {"library": {"name": "analytics-python", "version": "2.4.0"}}, **fields}


async def test_batch_maps_identify_group_and_track(client: httpx.AsyncClient, keys: Keys) -> None:
    key = await write_key()
    batch = [
        message("group", "m1", userId="u1", groupId="org_1", traits={"name": "Acme", "plan": "pro", "seats": 4,
                                                                     "address": {"city": "Paris"}}),
        message("identify", "m2", userId="u1", traits={"name": "Ann", "role": "admin"},
                context={"groupId": "org_1"}),
        message("track", "m3", userId="u1", event="Seat Added", properties={"quantity": 3, "plan": "pro"},
                context={"groupId": "org_1"}),
        message("track", "m4", userId="u1", event="APICall", context={"groupId": "org_1"}),
        message("page", "m5", userId="u1", name="Home"),
    ]
    response = await client.post("/v1/batch", json={"batch": batch, "writeKey": key}, headers=basic(key))
    assert response.status_code == 200 and response.json() == {"success": True}
    acme, ann = await company("group_id", "org_1"), await user("user_id", "u1")
    assert (acme.name, ann.name) == ("Acme", "Ann")
    assert await CompanyMembership.exists(company_id=acme.id, user_id=ann.id)
    traits = (await companies.company_traits(keys.scope, [acme.id]))[acme.id]
    assert set(traits) == {"plan", "seats"}  # name became the company name; nested values are left out
    user_traits = (await companies.user_traits(keys.scope, [ann.id]))[ann.id]
    assert set(user_traits) == {"role"}
    assert await counters(acme.id, "seat_added") == dict.fromkeys(WINDOWS, 3)
    assert await counter(acme.id, "api_call") == 1 and await counter(ann.id, "seat_added") == 3
    stored = await Event.filter(source="segment").order_by("id")
    assert [(e.event_type, e.event_name, e.raw_event_name, e.idempotency_key) for e in stored] == [
        ("identify", None, None, "m1"), ("identify", None, None, "m2"),
        ("track", "seat_added", "Seat Added", "m3"), ("track", "api_call", "APICall", "m4"),
    ]  # the page call is acknowledged and ignored

    # messageId is the idempotency key: a retried batch is acknowledged and not counted again
    again = await client.post("/v1/batch", json={"batch": batch}, headers=basic(key))
    assert again.json() == {"success": True}
    assert await counter(acme.id, "seat_added") == 3 and await Event.all().count() == 4


async def test_single_message_endpoints_and_gzip(client: httpx.AsyncClient, keys: Keys) -> None:
    key = await write_key()
    for path, body in (
        ("/v1/group", message("ignored", "s1", userId="u9", groupId="g9", traits={"name": "Nine"})),
        ("/v1/identify", message("ignored", "s2", userId="u9", traits={"name": "Nina"})),
        ("/v1/track", message("ignored", "s3", userId="u9", event="Report Exported", context={"groupId": "g9"},
                              properties={"quantity": 2})),
    ):
        response = await client.post(path, json=body, headers=basic(key))
        assert response.json() == {"success": True}, path
    zipped = gzip.compress(orjson.dumps({"batch": [message("track", "s4", userId="u9", event="Report Exported",
                                                           context={"groupId": "g9"})]}))
    response = await client.post("/v1/batch", content=zipped, headers={
        **basic(key), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert response.json() == {"success": True}
    nine = await company("group_id", "g9")
    assert nine.name == "Nine" and (await user("user_id", "u9")).name == "Nina"
    assert await counter(nine.id, "report_exported") == 3


async def test_write_key_authentication(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"batch": [message("track", "a1", userId="u1", event="x", context={"groupId": "g"})]}
    assert (await client.post("/v1/batch", json=body, headers=basic("seg_wrong"))).status_code == 401
    assert (await client.post("/v1/batch", json=body, headers={"Authorization": ""})).status_code == 401
    assert (await client.post("/v1/batch", json=body, headers=basic(keys.secret))).status_code == 401  # not segment
    assert (await client.post("/v1/batch", json=body, headers={"Authorization": "Basic !!"})).status_code == 401
    await nothing_stored()
    key = await write_key()
    fallback = await client.post("/v1/batch", json={**body, "writeKey": key}, headers={"Authorization": ""})
    assert fallback.json() == {"success": True}  # the body's writeKey when no Basic header is sent
    assert (await client.post("/v1/batch", json={"batch": "nope"}, headers=basic(key))).status_code == 400


async def test_mapping_is_configurable_per_write_key(client: httpx.AsyncClient, keys: Keys) -> None:
    key = await write_key({"user_key": "segment_user", "company_key": "account", "quantity_property": "units",
                           "snake_case_events": False, "company_name_trait": "company_name",
                           "anonymous_key": "anon"})
    batch = [
        message("group", "c1", anonymousId="a-1", groupId="acc-1", traits={"company_name": "Initech"}),
        message("track", "c2", userId="u5", event="Seat-Added", properties={"units": 4}, context={"groupId": "acc-1"}),
    ]
    assert (await client.post("/v1/batch", json={"batch": batch}, headers=basic(key))).json() == {"success": True}
    initech = await company("account", "acc-1")
    assert initech.name == "Initech"
    assert await user("anon", "a-1") and await user("segment_user", "u5")
    assert await counter(initech.id, "Seat-Added") == 4


async def test_bad_messages_fail_alone(client: httpx.AsyncClient, keys: Keys) -> None:
    key = await write_key()
    batch = [
        message("track", "b1", userId="u1", event="Good Event", context={"groupId": "g1"}),
        message("track", "b2", userId="u1", event="Minus", properties={"quantity": -2}, context={"groupId": "g1"}),
        message("track", "b3", userId="u1", event="Half", properties={"quantity": 1.5}, context={"groupId": "g1"}),
        message("identify", "b4", traits={"name": "Nobody"}),  # no userId, no group: nothing to identify
        message("group", "b5", userId="u1", traits={"name": "No group id"}),
        "not a message",
    ]
    assert (await client.post("/v1/batch", json={"batch": batch}, headers=basic(key))).json() == {"success": True}
    stored = await Event.all().order_by("id")
    assert [e.status for e in stored] == ["processed", "failed", "failed", "failed", "failed", "failed"]
    assert "negative quantities need a secret API key" in (stored[1].error or "")
    g1 = await company_id("group_id", "g1")
    assert g1 is not None and await counter(g1, "good_event") == 1


@pytest.mark.parametrize(("raw", "converted"), [
    ("Seat Added", "seat_added"), ("seatAdded", "seat_added"), ("APICall", "api_call"),
    ("Order Completed v2", "order_completed_v_2"), ("already_snake", "already_snake"),
    ("Report-Exported", "report_exported"),
])
def test_snake_case(raw: str, converted: str) -> None:
    assert snake_case(raw) == converted


async def test_real_segment_client_against_a_live_server(live_server: str, keys: Keys) -> None:
    key = await write_key()
    analytics = SegmentClient(key, host=live_server, sync_mode=True, gzip=True)

    def send() -> None:
        analytics.group("u1", "org_42", {"name": "Globex", "employees": 120})
        analytics.identify("u1", {"name": "Hank", "email": "hank@globex.test"}, context={"groupId": "org_42"})
        analytics.track("u1", "Seat Added", {"quantity": 2}, context={"groupId": "org_42"}, message_id="fixed-id")
        analytics.track("u1", "Seat Added", {"quantity": 2}, context={"groupId": "org_42"}, message_id="fixed-id")
        analytics.track("u1", "Report Exported", context={"groupId": "org_42"})

    await asyncio.to_thread(send)
    globex, hank = await company("group_id", "org_42"), await user("user_id", "u1")
    assert (globex.name, hank.name) == ("Globex", "Hank")
    assert await CompanyMembership.exists(company_id=globex.id, user_id=hank.id)
    traits = (await companies.company_traits(keys.scope, [globex.id]))[globex.id]
    assert traits["employees"][1].value_number == 120
    assert (await companies.user_traits(keys.scope, [hank.id]))[hank.id]["email"][1].value_text == "hank@globex.test"
    assert await counters(globex.id, "seat_added") == dict.fromkeys(WINDOWS, 2)  # the retried message counted once
    assert await counter(globex.id, "report_exported") == 1 and await counter(hank.id, "seat_added") == 2
    with pytest.raises(APIError) as refused:
        await asyncio.to_thread(SegmentClient("seg_wrong", host=live_server, sync_mode=True, max_retries=0).track,
                                "u1", "Seat Added")
    assert refused.value.status == 401
