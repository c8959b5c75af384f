"""The per-process writer that combines concurrent requests into one transaction, and inputs the database
cannot store."""

import asyncio
from typing import Any

import httpx
import pytest

from api.rest import capture
from domain.cache import changes
from domain.cache.changes import ChangeFeedPoller
from domain.cache.models import CacheChangeBatch
from domain.metering import repository
from domain.metering.ingest import IncomingEvent
from domain.metering.models import Event, IdempotencyKey
from domain.timeutil import utcnow
from tests.conftest import Keys
from tests.metering.conftest import company, counter


def tracks(keys: Keys, prefix: str, n: int, **body: Any) -> list[IncomingEvent]:
    return [IncomingEvent(keys.scope, "track", {"event": "api-call", "company": {"id": "acme"}, "quantity": 1, **body},
                          f"{prefix}-{i}") for i in range(n)]


async def test_concurrent_requests_share_one_transaction(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    original = capture.write

    async def spy(batches: Any, **kwargs: Any) -> Any:
        sizes.append(len(batches))
        return await original(batches, **kwargs)

    monkeypatch.setattr(capture, "write", spy)
    results = await asyncio.gather(*(capture.submit(tracks(keys, f"r{r}", 10)) for r in range(5)))
    assert [len(r) for r in results] == [10] * 5
    assert all(e.status == "processed" for r in results for e in r)
    assert sum(sizes) == 5 and max(sizes) > 1  # several requests were written together
    assert await counter((await company("id", "acme")).id, "api-call") == 50


async def test_a_failing_request_does_not_fail_the_others(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    original = repository.insert_events

    async def fragile(rows: Any) -> None:
        if any(isinstance(row[8], dict) and row[8].get("explode") for row in rows):
            raise RuntimeError("storage failed")
        await original(rows)

    monkeypatch.setattr(repository, "insert_events", fragile)
    good, bad, other = await asyncio.gather(
        capture.submit(tracks(keys, "good", 3)), capture.submit(tracks(keys, "bad", 3, explode=True)),
        capture.submit(tracks(keys, "other", 2)), return_exceptions=True,
    )
    assert isinstance(bad, RuntimeError)
    assert [e.status for e in good] == ["processed"] * 3 and [e.status for e in other] == ["processed"] * 2  # type: ignore[union-attr]
    assert await Event.all().count() == 5
    assert not await IdempotencyKey.filter(id__contains=":bad").exists()  # rolled back: a retry will count
    assert await counter((await company("id", "acme")).id, "api-call") == 5


async def test_nul_characters_fail_the_event_not_the_request(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/batch", json={"events": [
        {"type": "track", "idempotency_key": "fine", "body": {"event": "api-call", "company": {"id": "acme"}}},
        {"type": "track", "body": {"event": "api-call", "company": {"id": "acme"}, "traits": {"note": "a\x00b"}}},
        {"type": "track", "idempotency_key": "k\x00", "body": {"event": "api-call", "company": {"id": "acme"}}},
        {"type": "tr\x00ck", "body": {}},
    ]})
    assert response.status_code == 200
    results = response.json()["events"]
    assert [r["status"] for r in results] == ["processed", "failed", "failed", "failed"]
    assert "NUL characters" in results[1]["error"] and "without NUL characters" in results[2]["error"]
    stored = await Event.filter(status="failed").order_by("id")
    assert stored[0].body["traits"] == {"note": "ab"}
    assert await counter((await company("id", "acme")).id, "api-call") == 1


async def test_usage_changes_are_applied_once_in_the_writing_process(keys: Keys) -> None:
    """The writer refreshes this process's snapshots after the commit; its change-feed poller then skips
    the batch row it wrote, and applies batch rows of other processes."""
    applied: list[tuple[str, str]] = []

    def listener(environment_id: str, scope: str, ref_id: str) -> None:
        applied.append((scope, ref_id))

    changes.subscribe(listener)
    try:
        await capture.submit(tracks(keys, "own", 3))
        acme = (await company("id", "acme")).id
        assert (changes.USAGE, acme) in applied
        applied.clear()
        poller = ChangeFeedPoller(interval=0.25)  # a fresh poller: every row in its lookback is new to it
        await poller.poll_once()
        assert (changes.USAGE, acme) not in applied
        await CacheChangeBatch.create(  # another process's ingestion
            environment_id=keys.scope.environment_id, scope=changes.USAGE, ref_ids=[acme], changed_at=utcnow()
        )
        await poller.poll_once()
        assert applied.count((changes.USAGE, acme)) == 1
    finally:
        changes.unsubscribe(listener)
