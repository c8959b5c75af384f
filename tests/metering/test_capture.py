"""Schematic's capture API (POST /batch, POST /e): identify, track, idempotency, backfills, corrections and
bad input, with assertions on the response and on what the database holds."""

import gzip
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from domain.companies import service as companies
from domain.companies.models import Company, CompanyMembership, User
from domain.environments.models import Environment
from domain.environments.service import create_key
from domain.metering.models import Event, IdempotencyKey, UsageCounter
from domain.periods import BillingAnchor
from domain.settings import get_settings
from domain.timeutil import utcnow
from tests.conftest import Keys, make_keys
from tests.metering.conftest import (
    WINDOWS,
    company,
    company_id,
    counter,
    counters,
    events,
    nothing_stored,
    track,
    user,
)


async def post(client: httpx.AsyncClient, *items: dict, **kwargs: object) -> httpx.Response:
    return await client.post("/batch", json={"events": list(items)}, **kwargs)  # type: ignore[arg-type]


def identify(keys: dict | None = None, company: dict | None = None, **body: object) -> dict:
    out: dict = {"type": "identify", "body": {**body}}
    if keys is not None:
        out["body"]["keys"] = keys
    if company is not None:
        out["body"]["company"] = company
    return out


async def test_identify_creates_company_user_membership_and_traits(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, identify(
        {"user_id": "u1", "email": "ann@acme.test"}, name="Ann", traits={"role": "admin"},
        company={"keys": {"id": "acme"}, "name": "Acme", "traits": {"seats": 3, "tier": "pro"}},
    ))
    assert response.status_code == 200, response.text
    assert response.json()["processed"] == 1
    acme, ann = await company("id", "acme"), await user("user_id", "u1")
    assert (acme.name, ann.name) == ("Acme", "Ann")
    assert await CompanyMembership.exists(company_id=acme.id, user_id=ann.id)
    traits = (await companies.company_traits(keys.scope, [acme.id]))[acme.id]
    assert {name: stored.value_number or stored.value_text for name, (_, stored) in traits.items()} == {
        "seats": 3, "tier": "pro"}
    assert acme.last_seen_at is not None and ann.last_seen_at is not None
    [event] = await events()
    assert (event.event_type, event.status, event.company_id, event.user_id, event.source) == (
        "identify", "processed", acme.id, ann.id, "capture")

    # identify again: traits update in place (trait-based features see them at once), name kept
    response = await post(client, identify({"user_id": "u1"}, company={"keys": {"id": "acme"}, "traits": {"seats": 5}}))
    assert response.json()["processed"] == 1
    traits = (await companies.company_traits(keys.scope, [acme.id]))[acme.id]
    assert traits["seats"][1].value_number == 5 and traits["tier"][1].value_text == "pro"
    assert (await company("id", "acme")).name == "Acme"
    assert await Company.all().count() == 1 and await User.all().count() == 1


async def test_identify_company_only_and_user_only(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, identify(company={"keys": {"id": "solo"}, "name": "Solo Inc"}),
                          identify({"user_id": "lonely"}, name="Lonely"))
    assert response.json()["processed"] == 2
    assert (await company("id", "solo")).name == "Solo Inc"
    assert (await user("user_id", "lonely")).name == "Lonely"
    assert await CompanyMembership.all().count() == 0


async def test_track_counts_in_every_period_for_company_and_user(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, identify({"user_id": "u1"}, company={"keys": {"id": "acme"}, "name": "Acme"}))
    response = await post(
        client,
        track(quantity=7, key="k1", user={"user_id": "u1"}),
        track(quantity=None, key="k2"),  # absent quantity counts 1
        {"type": "track", "idempotency_key": "k3",  # explicit nulls, as the SDK sends them
         "body": {"event": "api-call", "company": {"id": "acme"}, "quantity": None, "user": None, "traits": None}},
        track("export", quantity=2, key="k4"),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["processed"], body["failed"], body["duplicate"]) == (4, 0, 0)
    acme, u1 = await company("id", "acme"), await user("user_id", "u1")
    assert await counters(acme.id, "api-call") == dict.fromkeys(WINDOWS, 9)
    assert await counters(acme.id, "export") == dict.fromkeys(WINDOWS, 2)
    assert await counters(u1.id, "api-call") == dict.fromkeys(WINDOWS, 7)
    stored = await events(event_type="track")
    assert [(e.event_name, e.quantity, e.status, e.idempotency_key) for e in stored] == [
        ("api-call", 7, "processed", "k1"), ("api-call", 1, "processed", "k2"), ("api-call", 1, "processed", "k3"),
        ("export", 2, "processed", "k4"),
    ]
    assert stored[0].body == {"event": "api-call", "company": {"id": "acme"}, "quantity": 7, "user": {"user_id": "u1"}}
    assert stored[0].captured_at == stored[0].received_at


async def test_track_for_unknown_company_creates_a_bare_company(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, track(company={"org": "globex", "region": "eu"}, quantity=3),
                          track(company={"org": "globex"}, quantity=1))
    assert response.json()["processed"] == 2
    globex = await company("org", "globex")
    assert globex.name == "globex"
    assert await Company.all().count() == 1
    assert await counter(globex.id, "api-call") == 4


async def test_track_for_unknown_user_creates_a_user_member_of_the_company(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await post(client, track(company={"id": "acme"}, user={"user_id": "new-user"}, quantity=2))
    acme, new = await company("id", "acme"), await user("user_id", "new-user")
    assert new.name == "new-user"
    assert await CompanyMembership.exists(company_id=acme.id, user_id=new.id)
    assert await counter(new.id, "api-call") == 2


async def test_repeated_idempotency_key_is_acknowledged_not_counted(client: httpx.AsyncClient, keys: Keys) -> None:
    first = await post(client, track(quantity=5, key="once"), track(quantity=5, key="once"))
    assert [e["status"] for e in first.json()["events"]] == ["processed", "duplicate"]
    again = await post(client, track(quantity=5, key="once"))
    assert again.status_code == 200
    assert again.json()["duplicate"] == 1
    assert again.json()["events"][0] == {"status": "duplicate", "idempotency_key": "once"}
    acme = await company("id", "acme")
    assert await counter(acme.id, "api-call") == 5
    assert await Event.all().count() == 1 and await IdempotencyKey.all().count() == 1
    # another environment has its own keys
    staging = await make_keys("staging")
    other = await post(client, track(quantity=5, key="once", api_key=staging.secret))
    assert other.json()["processed"] == 1


async def test_events_without_key_dedupe_only_when_sent_at_is_given(client: httpx.AsyncClient, keys: Keys) -> None:
    sent_at = "2026-03-18T14:05:00Z"
    twice = track(quantity=1, sent_at=sent_at)
    first = await post(client, twice)
    second = await post(client, twice)
    derived = first.json()["events"][0]["idempotency_key"]
    assert derived.startswith("auto:")
    assert second.json()["events"][0] == {"status": "duplicate", "idempotency_key": derived}
    # without sent_at, every delivery is new, even identical ones in one request
    plain = await post(client, track(quantity=1), track(quantity=1))
    assert plain.json()["processed"] == 2
    assert await counter((await company("id", "acme")).id, "api-call") == 3


async def test_invalid_events_are_stored_failed_and_valid_ones_counted(client: httpx.AsyncClient, keys: Keys) -> None:
    bad = [
        ({"type": "track", "body": {"company": {"id": "acme"}}}, "needs an event name"),
        (track(quantity=2.5), "quantity must be an integer; got 2.5"),
        (track(quantity="3"), "quantity must be an integer; got '3'"),
        (track(quantity=True), "quantity must be an integer; got a boolean"),
        (track(company={"id": 5}), "company: key 'id' must be a string value; got int"),
        (track(company={}), "track event needs company keys or user keys"),
        (track("Seat Added"), "event name 'Seat Added' is invalid: use only letters, digits, '-', '_' and '.'"),
        (track("x" * 201), "event name is longer than 200 characters"),
        ({"type": "inference", "body": {}}, "event type 'inference' is not supported"),
        ({"type": "track", "body": "text"}, "body must be a JSON object"),
        (identify(), "identify needs keys (user) or company.keys"),
        (track(sent_at="yesterday", trusted_client_clock=True), "sent_at is not an RFC 3339 timestamp"),
    ]
    response = await post(client, track(quantity=4, key="good"), *(event for event, _ in bad))
    assert response.status_code == 200
    body = response.json()
    assert (body["processed"], body["failed"]) == (1, len(bad))
    for result, (_, reason) in zip(body["events"][1:], bad, strict=True):
        assert result["status"] == "failed" and reason in result["error"], (result, reason)
        assert result["event_id"].startswith("evt_")
    failed = await events(status="failed")
    assert [e.error for e in failed] == [r["error"] for r in body["events"][1:]]
    assert await counter((await company("id", "acme")).id, "api-call") == 4
    assert await UsageCounter.filter(event_name="Seat Added").count() == 0


async def test_quantity_zero_is_processed_and_counts_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, track(quantity=0), track(quantity=3.0))
    assert response.json()["processed"] == 2
    acme = await company("id", "acme")
    assert await counter(acme.id, "api-call") == 3
    assert acme.last_seen_at is not None


async def test_batch_of_more_than_100_events_is_refused(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, *[track(key=f"k{i}") for i in range(101)])
    assert response.status_code == 400
    assert response.json() == {"error": "batch too large", "max_size": 100}
    await nothing_stored()
    assert (await post(client, *[track(key=f"k{i}") for i in range(100)])).json()["processed"] == 100


async def test_oversized_body_and_gzip_bomb_get_413(client: httpx.AsyncClient, keys: Keys) -> None:
    limit = get_settings().max_body_bytes
    big = orjson.dumps({"events": [track(traits={"pad": "x" * (limit + 10)})]})
    response = await client.post("/batch", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    bomb = gzip.compress(b'{"events": [' + b" " * (limit * 4) + b"]}")
    assert len(bomb) < limit // 100
    response = await client.post("/batch", content=bomb,
                                 headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert response.status_code == 413
    await nothing_stored()


async def test_gzip_body_is_accepted(client: httpx.AsyncClient, keys: Keys) -> None:
    body = gzip.compress(orjson.dumps({"events": [track(quantity=2)]}))
    response = await client.post("/batch", content=body,
                                 headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert response.json()["processed"] == 1


async def test_wrong_keys_get_401_and_invalid_embedded_keys_are_dropped(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await post(client, track(api_key="sch_dev_nope"), headers={"X-Schematic-Api-Key": "sch_dev_wrong"})
    assert response.status_code == 401
    response = await post(client, track(), headers={"X-Schematic-Api-Key": "sch_dev_wrong"})
    assert response.status_code == 401
    await nothing_stored()
    # one event with a revoked/unknown key among valid ones: dropped, the rest stored
    response = await post(client, track(quantity=1, api_key=keys.secret), track(quantity=5, api_key="api_unknown"))
    assert response.status_code == 200
    body = response.json()
    assert (body["processed"], body["dropped"]) == (1, 1)
    assert body["events"][1] == {"status": "dropped", "error": "invalid or missing API key"}
    assert await Event.all().count() == 1


async def test_segment_write_key_cannot_use_the_capture_api(client: httpx.AsyncClient, keys: Keys) -> None:
    env = await Environment.get(name="development")
    segment = await create_key(env, "segment", "segment")
    response = await post(client, track(api_key=segment.plaintext), headers={"X-Schematic-Api-Key": segment.plaintext})
    assert response.status_code == 401
    await nothing_stored()


@pytest.mark.parametrize(("event", "message"), [
    (track(quantity=-1), "negative quantities need a secret API key"),
    (track(sent_at="2026-01-01T00:00:00Z", backfill=True), "backfill and trusted_client_clock"),
    (track(sent_at="2026-01-01T00:00:00Z", trusted_client_clock=True), "backfill and trusted_client_clock"),
])
async def test_publishable_key_sending_corrections_or_backfills_gets_403(
    client: httpx.AsyncClient, keys: Keys, event: dict, message: str
) -> None:
    headers = {"X-Schematic-Api-Key": keys.publishable}
    response = await post(client, track(quantity=3, key="fine"), event, headers=headers)
    assert response.status_code == 403
    assert message in response.json()["error"]
    await nothing_stored()
    # ordinary events from a publishable key are fine
    assert (await post(client, track(quantity=3), headers=headers)).json()["processed"] == 1


async def test_backfill_counts_in_the_period_of_its_timestamp(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, track(quantity=1))
    acme = await company("id", "acme")
    seen = acme.last_seen_at
    past = utcnow() - timedelta(days=100)
    response = await post(client, track(quantity=10, sent_at=past.isoformat(), backfill=True))
    assert response.json()["processed"] == 1
    assert await counters(acme.id, "api-call", at=past) == {
        ("all_time", "first_of_month"): 11, ("current_day", "first_of_month"): 10,
        ("current_week", "first_of_month"): 10, ("current_month", "first_of_month"): 10,
        ("current_month", "billing_cycle"): 10,
    }
    assert await counter(acme.id, "api-call", "current_day") == 1  # today's window is untouched
    [event] = await events(backfill=True)
    assert abs(event.captured_at - past) < timedelta(milliseconds=1)
    assert (await company("id", "acme")).last_seen_at == seen  # backfills do not move last_seen_at


async def test_week_and_month_add_up_the_days_they_contain(client: httpx.AsyncClient, keys: Keys) -> None:
    wednesday = (utcnow() - timedelta(days=60)).replace(hour=12, minute=0, second=0, microsecond=0)
    wednesday -= timedelta(days=(wednesday.weekday() - 2) % 7)
    sent = {  # days before that Wednesday -> quantity
        0: 1, 1: 2, 3: 4,  # Wednesday, Tuesday, Sunday: this week
        4: 8, 40: 16,  # Saturday of the week before, and a day of an earlier month
    }
    await post(client, *(
        track(quantity=q, sent_at=(wednesday - timedelta(days=d)).isoformat(), backfill=True, key=f"d{d}")
        for d, q in sent.items()
    ))
    acme = await company("id", "acme")
    this_month = sum(q for d, q in sent.items() if (wednesday - timedelta(days=d)).month == wednesday.month)
    assert await counters(acme.id, "api-call", at=wednesday) == {
        ("all_time", "first_of_month"): 31, ("current_day", "first_of_month"): 1,
        ("current_week", "first_of_month"): 1 + 2 + 4, ("current_month", "first_of_month"): this_month,
        ("current_month", "billing_cycle"): this_month,
    }
    rows = await UsageCounter.filter(entity_id=acme.id).values_list("period", flat=True)
    assert sorted(rows) == ["all_time"] + ["current_day"] * 5  # the week and month have no rows of their own


async def test_trusted_clock_limits_and_future_events(client: httpx.AsyncClient, keys: Keys) -> None:
    now = utcnow()
    response = await post(
        client,
        track(quantity=1, sent_at=(now - timedelta(days=3)).isoformat(), trusted_client_clock=True),
        track(quantity=1, sent_at=(now - timedelta(days=40)).isoformat(), trusted_client_clock=True),
        track(quantity=1, sent_at=(now - timedelta(days=400)).isoformat(), backfill=True),
        track(quantity=1, sent_at=(now + timedelta(hours=2)).isoformat(), trusted_client_clock=True),
        track(quantity=1, sent_at=(now + timedelta(days=2)).isoformat(), backfill=True),
        track(quantity=1, backfill=True),
    )
    results = response.json()["events"]
    assert [r["status"] for r in results] == ["processed", "failed", "failed", "processed", "failed", "failed"]
    assert "more than 34 days in the past; older events need backfill" in results[1]["error"]
    assert "more than 365 days in the past" in results[2]["error"]
    assert "more than a day in the future" in results[4]["error"]
    assert "need sent_at" in results[5]["error"]
    assert await counter((await company("id", "acme")).id, "api-call") == 2


async def test_negative_quantities_correct_usage_and_never_go_below_zero(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await post(client, track(quantity=10))
    acme = await company("id", "acme")
    await post(client, track(quantity=-4))
    assert await counters(acme.id, "api-call") == dict.fromkeys(WINDOWS, 6)
    await post(client, track(quantity=-50))
    assert await counters(acme.id, "api-call") == dict.fromkeys(WINDOWS, 0)
    await post(client, track("never-used", quantity=-3))  # a correction with no usage yet
    assert await counters(acme.id, "never-used") == dict.fromkeys(WINDOWS, 0)
    # window totals are floored, not the stored sums (as Stripe floors a meter's window total): the
    # over-correction still offsets later usage of the window, whatever order the events arrive in
    assert await UsageCounter.filter(event_name="api-call", period="all_time").values_list("value", flat=True) == [-44]
    await post(client, track(quantity=2))
    assert await counter(acme.id, "api-call") == 0
    await post(client, track(quantity=50))
    assert await counters(acme.id, "api-call") == dict.fromkeys(WINDOWS, 8)


async def test_billing_cycle_window_follows_the_subscription_anchor(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, track(quantity=1))
    acme = await company("id", "acme")
    now = utcnow()
    start = (now - timedelta(days=3)).replace(microsecond=0)
    acme.billing_period_start, acme.billing_period_end = start, start + timedelta(days=30)
    await acme.save(update_fields=["billing_period_start", "billing_period_end"])
    from domain.cache import changes

    changes.invalidate_locally(acme.environment_id, changes.COMPANY, acme.id)  # type: ignore[attr-defined]
    await post(client, track(quantity=4))
    anchor = BillingAnchor(start, start + timedelta(days=30))
    assert await counter(acme.id, "api-call", "current_month", "billing_cycle", anchor=anchor) == 4
    assert await counter(acme.id, "api-call", "current_month", "first_of_month") == 5


async def test_last_seen_moves_on_track_and_identify(client: httpx.AsyncClient, keys: Keys) -> None:
    before = utcnow()
    await post(client, identify({"user_id": "u2"}, company={"keys": {"id": "beta"}}))
    await post(client, track(company={"id": "gamma"}))
    for found in (await company("id", "beta"), await company("id", "gamma"), await user("user_id", "u2")):
        assert found.last_seen_at is not None and found.last_seen_at >= before - timedelta(seconds=1)


async def test_single_event_endpoint(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/e", json={**track(quantity=2, key="solo"), "api_key": keys.secret})
    assert response.status_code == 200
    assert response.json()["events"] == [{"status": "processed", "idempotency_key": "solo",
                                          "event_id": response.json()["events"][0]["event_id"]}]
    assert await counter((await company("id", "acme")).id, "api-call") == 2
    assert (await client.post("/e", json=[1, 2])).status_code == 400


async def test_readonly_key_events_are_stored_as_failed(client: httpx.AsyncClient, keys: Keys) -> None:
    env = await Environment.get(name="development")
    readonly = await create_key(env, "secret", "ro", readonly=True)
    response = await post(client, track(quantity=1, api_key=readonly.plaintext))
    assert response.json()["failed"] == 1 and "read-only" in response.json()["events"][0]["error"]
    assert await UsageCounter.all().count() == 0 and await company_id("id", "acme") is None


async def test_events_of_two_environments_in_one_batch(client: httpx.AsyncClient, keys: Keys) -> None:
    staging = await make_keys("staging")
    response = await post(client, track(quantity=1, api_key=keys.secret), track(quantity=2, api_key=staging.secret))
    assert response.json()["processed"] == 2
    dev, stag = (await Environment.get(name="development")).id, (await Environment.get(name="staging")).id
    rows = {c.environment_id: c for c in await Company.all()}  # type: ignore[attr-defined]
    assert set(rows) == {dev, stag}
    assert await counter(rows[dev].id, "api-call") == 1 and await counter(rows[stag].id, "api-call") == 2


async def test_key_matching_two_companies_fails_the_event(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, identify(company={"keys": {"id": "a"}}), identify(company={"keys": {"org": "b"}}))
    response = await post(client, track(company={"id": "a", "org": "b"}, quantity=1))
    assert response.json()["failed"] == 1 and "more than one company" in response.json()["events"][0]["error"]
    assert await UsageCounter.all().count() == 0


async def test_flag_checks_see_new_usage_at_once(client: httpx.AsyncClient, keys: Keys) -> None:
    from domain.catalog import entitlements, features, plans
    from domain.checks import service as checks
    from domain.db import unit_of_work
    from domain.entitlements.service import set_company_plans

    scope = keys.scope
    async with unit_of_work():
        feature = await features.create_feature(scope, name="API calls", key="api-calls", feature_type="event",
                                                event_subtype="api-call")
        pro = await plans.create_plan(scope, name="Pro")
        await entitlements.create_plan_entitlement(
            scope, plan_id=pro.id, feature_id=feature.id, value_type="numeric", value_numeric=5,
            metric_period="current_month", metric_period_month_reset="first_of_month",
        )
        acme, _ = await companies.upsert_company(scope, companies.CompanyUpsert(keys={"id": "acme"}, name="Acme"))
        await set_company_plans(scope, acme.id, pro.id, [])
    assert (await checks.check_flag(scope, "api-calls", {"id": "acme"}, None)).value is True  # snapshot cached
    await post(client, track(quantity=5))
    result = await checks.check_flag(scope, "api-calls", {"id": "acme"}, None)
    assert result.value is False and result.entitlement.usage == 5  # type: ignore[union-attr]


async def test_timestamps_are_utc_and_received_at_is_shared(client: httpx.AsyncClient, keys: Keys) -> None:
    await post(client, track(quantity=1), track(quantity=1))
    first, second = await events()
    assert first.received_at == second.received_at
    assert first.captured_at.utcoffset() == timedelta(0)
    assert first.id < second.id  # ids follow arrival order
    assert datetime.now(UTC) - first.received_at < timedelta(seconds=30)
