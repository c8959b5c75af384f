"""Pure rules of event validation and the retention of idempotency keys."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain.errors import InvalidInput
from domain.metering import parsing
from domain.metering.ingest import COUNTED_WINDOWS, window_starts
from domain.metering.models import IdempotencyKey
from domain.metering.retention import prune_idempotency_keys
from domain.periods import EPOCH, BillingAnchor
from domain.timeutil import utcnow
from tests.conftest import Keys
from tests.metering.conftest import company, counter, track


@pytest.mark.parametrize("name", ["api-call", "seat_added", "report.export", "A1", "x" * 200])
def test_valid_event_names(name: str) -> None:
    assert parsing.event_name(name) == name


@pytest.mark.parametrize(("name", "message"), [
    (None, "needs an event name"), ("", "needs an event name"), (5, "must be a string; got int"),
    ("x" * 201, "longer than 200 characters"), ("seat added", "use only letters, digits"),
    ("café", "use only letters, digits"), ("a/b", "use only letters, digits"),
])
def test_invalid_event_names(name: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parsing.event_name(name)


@pytest.mark.parametrize(("raw", "quantity"), [(None, 1), (0, 0), (7, 7), (-3, -3), (4.0, 4), (10**12, 10**12)])
def test_quantities(raw: object, quantity: int) -> None:
    assert parsing.quantity(raw) == quantity


@pytest.mark.parametrize("raw", [2.5, "3", True, [1], 10**12 + 1, float("nan")])
def test_bad_quantities(raw: object) -> None:
    with pytest.raises(InvalidInput, match="quantity must be"):
        parsing.quantity(raw)


def test_derived_keys() -> None:
    now = utcnow()
    body = {"event": "a", "company": {"id": "x"}}
    reordered = {"company": {"id": "x"}, "event": "a"}
    with_sent_at = parsing.derived_key("track", body, "2026-01-01T00:00:00Z", now, "n1", 0)
    assert with_sent_at == parsing.derived_key("track", reordered, "2026-01-01T00:00:00Z", now, "n2", 5)
    assert with_sent_at != parsing.derived_key("identify", body, "2026-01-01T00:00:00Z", now, "n1", 0)
    without = parsing.derived_key("track", body, None, now, "n1", 0)
    assert without != parsing.derived_key("track", body, None, now, "n1", 1)
    assert without != parsing.derived_key("track", body, None, now, "n2", 0)
    assert without.startswith("auto:") and len(without) == 69
    assert parsing.stored_key("k" * 200) == "k" * 200
    assert parsing.stored_key("k" * 201).startswith("sha256:") and len(parsing.stored_key("k" * 201)) <= 200


def test_window_starts() -> None:
    at = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)  # a Wednesday
    assert [w for w, _ in COUNTED_WINDOWS] == ["all_time", "current_day", "current_week", "current_month",
                                               "current_month"]
    calendar = (
        EPOCH, datetime(2026, 3, 18, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert window_starts(at, None) == calendar  # the billing month is the calendar month: no row of its own
    anchor = BillingAnchor(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), datetime(2026, 4, 10, 9, 30, tzinfo=UTC))
    assert window_starts(at, anchor) == (*calendar, datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    on_the_first = BillingAnchor(datetime(2026, 1, 1, tzinfo=UTC), None)
    assert window_starts(at, on_the_first) == calendar
    # before the term starts the billing month ends early: it is not the calendar month
    later = BillingAnchor(datetime(2026, 3, 25, tzinfo=UTC), None)
    assert window_starts(at, later) == (*calendar, datetime(2026, 3, 1, tzinfo=UTC))


async def test_pruned_keys_are_forgotten(client: httpx.AsyncClient, keys: Keys) -> None:
    await client.post("/batch", json={"events": [track(quantity=1, key="old"), track(quantity=1, key="recent")]})
    now = utcnow()
    await IdempotencyKey.filter(key="old").update(created_at=now - timedelta(days=36))
    await IdempotencyKey.filter(key="recent").update(created_at=now - timedelta(days=34))
    assert await prune_idempotency_keys(now) == 1
    assert await IdempotencyKey.all().values_list("key", flat=True) == ["recent"]
    response = await client.post("/batch", json={"events": [track(quantity=1, key="old"),
                                                            track(quantity=1, key="recent")]})
    assert [e["status"] for e in response.json()["events"]] == ["processed", "duplicate"]
    assert await counter((await company("id", "acme")).id, "api-call") == 3
    assert await prune_idempotency_keys(utcnow() + timedelta(seconds=1), retention_days=0) == 2
