"""GraphQL: the sendEvents mutation, eventUsage, usageTimeSeries and the events connection."""

from datetime import timedelta

from domain.metering.models import Event
from domain.periods import window_start_key
from domain.timeutil import isoformat, utcnow
from tests.conftest import GraphQL, Keys
from tests.metering.conftest import company, counter, nothing_stored

SEND = """
mutation Send($events: [EventInput!]!) {
  sendEvents(events: $events) { results { status idempotencyKey eventId error } errors { code message field } }
}"""


def track(event: str = "api-call", quantity: int | None = 1, company: str = "acme", **extra: object) -> dict:
    return {"type": "TRACK", "body": {"event": event, "company": {"id": company}, "quantity": quantity}, **extra}


async def test_send_events_returns_per_event_results(gql: GraphQL, keys: Keys) -> None:
    data = await gql.ok(SEND, {"events": [
        {"type": "IDENTIFY", "body": {"keys": {"user_id": "u1"}, "company": {"keys": {"id": "acme"}, "name": "Acme"}}},
        track(quantity=3, idempotencyKey="g1"),
        track(quantity=3, idempotencyKey="g1"),
        track("no spaces allowed"),
    ]})
    results = data["sendEvents"]["results"]
    assert [r["status"] for r in results] == ["PROCESSED", "PROCESSED", "DUPLICATE", "FAILED"]
    assert results[2]["eventId"] is None and "is invalid" in results[3]["error"]
    acme = await company("id", "acme")
    assert acme.name == "Acme" and await counter(acme.id, "api-call") == 3
    assert {e.source for e in await Event.all()} == {"graphql"}


async def test_send_events_publishable_key_and_limits(gql: GraphQL, keys: Keys) -> None:
    ok = await gql.ok(SEND, {"events": [track(quantity=2)]}, key=keys.publishable)
    assert ok["sendEvents"]["results"][0]["status"] == "PROCESSED"
    refused = await gql(SEND, {"events": [track(quantity=2), track(quantity=-1)]}, key=keys.publishable)
    payload = refused["data"]["sendEvents"]
    assert payload["results"] == [] and payload["errors"][0]["code"] == "FORBIDDEN"
    assert "negative quantities need a secret API key" in payload["errors"][0]["message"]
    backfill = await gql(SEND, {"events": [track(sentAt=isoformat(utcnow() - timedelta(days=1)), backfill=True)]},
                         key=keys.publishable)
    assert backfill["data"]["sendEvents"]["errors"][0]["code"] == "FORBIDDEN"
    too_many = await gql(SEND, {"events": [track()] * 101})
    assert too_many["data"]["sendEvents"]["errors"][0]["message"] == "batch too large: at most 100 events"
    naive = await gql(SEND, {"events": [track(sentAt="2026-01-01T00:00:00", trustedClientClock=True)]})
    assert naive["errors"]
    assert await Event.all().count() == 1


async def test_send_events_backfill_with_secret_key(gql: GraphQL, keys: Keys) -> None:
    past = utcnow() - timedelta(days=20)
    data = await gql.ok(SEND, {"events": [track(quantity=6, sentAt=isoformat(past), backfill=True)]})
    assert data["sendEvents"]["results"][0]["status"] == "PROCESSED"
    acme = await company("id", "acme")
    assert await counter(acme.id, "api-call", "current_day", at=past) == 6
    assert await counter(acme.id, "api-call", "current_day") == 0


USAGE = """
query Usage($name: String!, $company: String, $user: String, $period: MetricPeriod!, $reset: MonthReset!,
            $at: DateTime) {
  eventUsage(eventName: $name, companyId: $company, userId: $user, period: $period, monthReset: $reset, at: $at) {
    eventName entityId period monthReset windowStart resetAt value
  }
}"""


async def test_event_usage_for_any_period(gql: GraphQL, keys: Keys) -> None:
    past = utcnow() - timedelta(days=40)
    await gql.ok(SEND, {"events": [
        {"type": "TRACK", "body": {"event": "api-call", "company": {"id": "acme"}, "user": {"user_id": "u1"},
                                   "quantity": 4}},
        track(quantity=10, sentAt=isoformat(past), backfill=True),
    ]})
    acme = await company("id", "acme")
    now = utcnow()
    for period, expected in (("ALL_TIME", 14), ("CURRENT_DAY", 4), ("CURRENT_WEEK", 4), ("CURRENT_MONTH", 4)):
        usage = (await gql.ok(USAGE, {"name": "api-call", "company": acme.id, "period": period,
                                      "reset": "FIRST_OF_MONTH"}))["eventUsage"]
        assert usage["value"] == expected, period
    usage = (await gql.ok(USAGE, {"name": "api-call", "company": acme.id, "period": "CURRENT_MONTH",
                                  "reset": "BILLING_CYCLE", "at": isoformat(past)}))["eventUsage"]
    assert usage["value"] == 10
    assert usage["windowStart"] == isoformat(window_start_key("current_month", "billing_cycle", past))
    all_time = (await gql.ok(USAGE, {"name": "api-call", "company": acme.id, "period": "ALL_TIME",
                                     "reset": "BILLING_CYCLE"}))["eventUsage"]
    assert all_time["windowStart"] is None and all_time["resetAt"] is None
    assert all_time["monthReset"] == "FIRST_OF_MONTH"
    day = (await gql.ok(USAGE, {"name": "api-call", "company": acme.id, "period": "CURRENT_DAY",
                                "reset": "FIRST_OF_MONTH"}))["eventUsage"]
    assert day["resetAt"] == isoformat(window_start_key("current_day", None, now) + timedelta(days=1))
    from tests.metering.conftest import user

    u1 = await user("user_id", "u1")
    by_user = (await gql.ok(USAGE, {"name": "api-call", "user": u1.id, "period": "ALL_TIME",
                                    "reset": "FIRST_OF_MONTH"}))["eventUsage"]
    assert by_user["value"] == 4
    unknown = (await gql.ok(USAGE, {"name": "never", "company": acme.id, "period": "ALL_TIME",
                                    "reset": "FIRST_OF_MONTH"}))["eventUsage"]
    assert unknown["value"] == 0


async def test_event_usage_bad_input_and_permissions(gql: GraphQL, keys: Keys, other_keys: Keys) -> None:
    await gql.ok(SEND, {"events": [track(quantity=1)]})
    acme = await company("id", "acme")
    both = await gql(USAGE, {"name": "api-call", "company": acme.id, "user": "user_x", "period": "ALL_TIME",
                             "reset": "FIRST_OF_MONTH"})
    assert "exactly one of companyId and userId" in both["errors"][0]["message"]
    bad_name = await gql(USAGE, {"name": "bad name", "company": acme.id, "period": "ALL_TIME",
                                 "reset": "FIRST_OF_MONTH"})
    assert "is invalid" in bad_name["errors"][0]["message"]
    publishable = await gql(USAGE, {"name": "api-call", "company": acme.id, "period": "ALL_TIME",
                                    "reset": "FIRST_OF_MONTH"}, key=keys.publishable)
    assert publishable["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other_env = await gql(USAGE, {"name": "api-call", "company": acme.id, "period": "ALL_TIME",
                                  "reset": "FIRST_OF_MONTH"}, key=other_keys.secret)
    assert other_env["errors"][0]["extensions"]["code"] == "NOT_FOUND"


SERIES = """
query Series($name: String!, $company: String!, $from: DateTime!, $to: DateTime!) {
  usageTimeSeries(eventName: $name, companyId: $company, from: $from, to: $to) { day value }
}"""


async def test_usage_time_series_is_daily_and_zero_filled(gql: GraphQL, keys: Keys) -> None:
    now = utcnow()
    await gql.ok(SEND, {"events": [
        track(quantity=2),
        track(quantity=5, sentAt=isoformat(now - timedelta(days=2)), backfill=True),
        track(quantity=1, sentAt=isoformat(now - timedelta(days=2, hours=1)), backfill=True),
    ]})
    acme = await company("id", "acme")
    series = (await gql.ok(SERIES, {"name": "api-call", "company": acme.id,
                                    "from": isoformat(now - timedelta(days=3)), "to": isoformat(now)}))
    points = series["usageTimeSeries"]
    today = window_start_key("current_day", None, now)
    assert [p["day"] for p in points] == [isoformat(today - timedelta(days=d)) for d in (3, 2, 1, 0)]
    by_day = {p["day"]: p["value"] for p in points}
    two_days_ago = now - timedelta(days=2)
    assert by_day[isoformat(today)] == 2
    assert sum(by_day.values()) == 8
    assert by_day[isoformat(window_start_key("current_day", None, two_days_ago))] >= 1
    too_long = await gql(SERIES, {"name": "api-call", "company": acme.id,
                                  "from": isoformat(now - timedelta(days=400)), "to": isoformat(now)})
    assert "at most 366 days" in too_long["errors"][0]["message"]
    backwards = await gql(SERIES, {"name": "api-call", "company": acme.id, "from": isoformat(now),
                                   "to": isoformat(now - timedelta(days=1))})
    assert "to is before from" in backwards["errors"][0]["message"]


EVENTS = """
query Events($first: Int, $after: String, $status: EventStatus, $type: String, $name: String, $company: String) {
  events(first: $first, after: $after, status: $status, eventType: $type, eventName: $name, companyId: $company) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id eventType eventName rawEventName companyId quantity status error source idempotencyKey body
            capturedAt receivedAt backfill }
  }
}"""


async def test_events_connection_filters_and_pages(gql: GraphQL, keys: Keys, other_keys: Keys) -> None:
    await gql.ok(SEND, {"events": [
        {"type": "IDENTIFY", "body": {"company": {"keys": {"id": "acme"}}}},
        track(quantity=1), track("export", quantity=2), track(quantity=3, company="globex"), track("bad name"),
    ]})
    everything = (await gql.ok(EVENTS, {}))["events"]
    assert everything["totalCount"] == 5
    names = [n["eventName"] for n in everything["nodes"]]
    assert names == [None, "api-call", "export", "api-call", None]  # newest first
    failed = (await gql.ok(EVENTS, {"status": "FAILED"}))["events"]
    assert failed["totalCount"] == 1 and "is invalid" in failed["nodes"][0]["error"]
    assert failed["nodes"][0]["body"]["event"] == "bad name"
    acme = await company("id", "acme")
    by_company = (await gql.ok(EVENTS, {"company": acme.id, "type": "track"}))["events"]
    assert [n["quantity"] for n in by_company["nodes"]] == [2, 1]
    by_name = (await gql.ok(EVENTS, {"name": "api-call"}))["events"]
    assert by_name["totalCount"] == 2
    page = (await gql.ok(EVENTS, {"first": 2}))["events"]
    assert page["pageInfo"]["hasNextPage"] and len(page["nodes"]) == 2
    rest = (await gql.ok(EVENTS, {"first": 10, "after": page["pageInfo"]["endCursor"]}))["events"]
    assert len(rest["nodes"]) == 3 and not rest["pageInfo"]["hasNextPage"]
    assert {n["id"] for n in page["nodes"]}.isdisjoint({n["id"] for n in rest["nodes"]})
    assert (await gql.ok(EVENTS, {}, key=other_keys.secret))["events"]["totalCount"] == 0
    denied = await gql(EVENTS, {}, key=keys.publishable)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_send_events_with_no_events(gql: GraphQL, keys: Keys) -> None:
    data = await gql.ok(SEND, {"events": []})
    assert data["sendEvents"] == {"results": [], "errors": []}
    await nothing_stored()
