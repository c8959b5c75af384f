"""Pure rules of event validation and the retention of idempotency keys."""

from datetime import timedelta

import httpx
import pytest

from domain.errors import InvalidInput
from domain.metering import parsing
from domain.metering.models import IdempotencyKey, scoped_key
from domain.metering.retention import prune_idempotency_keys
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


async def test_pruned_keys_are_forgotten(client: httpx.AsyncClient, keys: Keys) -> None:
    await client.post("/batch", json={"events": [track(quantity=1, key="old"), track(quantity=1, key="recent")]})
    now = utcnow()
    env = keys.scope.environment_id
    await IdempotencyKey.filter(id=scoped_key(env, "old")).update(created_at=now - timedelta(days=36))
    await IdempotencyKey.filter(id=scoped_key(env, "recent")).update(created_at=now - timedelta(days=34))
    assert await prune_idempotency_keys(now) == 1
    assert await IdempotencyKey.all().values_list("id", flat=True) == [scoped_key(env, "recent")]
    response = await client.post("/batch", json={"events": [track(quantity=1, key="old"),
                                                            track(quantity=1, key="recent")]})
    assert [e["status"] for e in response.json()["events"]] == ["processed", "duplicate"]
    assert await counter((await company("id", "acme")).id, "api-call") == 3
    assert await prune_idempotency_keys(utcnow() + timedelta(seconds=1), retention_days=0) == 2
