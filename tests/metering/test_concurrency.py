"""Exactly-once under concurrency (PostgreSQL): several server processes, concurrent clients, overlapping
batches, every event delivered up to three times — some copies at the same moment to different
processes. Every counter must equal the sum of the distinct events: nothing lost, nothing doubled."""

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from domain.companies.models import Company, CompanyKey
from domain.metering.models import Event, IdempotencyKey, UsageCounter
from domain.metering.windows import WINDOWS
from domain.timeutil import isoformat, utcnow
from tests.conftest import Keys
from tests.metering.conftest import counters

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

COMPANIES = 40  # the first 30 are identified up front; tracks create the other 10 concurrently
EVENT_NAMES = ("api-call", "export", "seat_added")
DISTINCT = 4000
CLIENTS = 8


def distinct_events(rng: random.Random) -> list[dict]:
    sent_at = isoformat(utcnow())
    out = []
    for n in range(DISTINCT):
        body = {"event": rng.choice(EVENT_NAMES), "company": {"id": f"co-{rng.randrange(COMPANIES)}"},
                "quantity": rng.randint(1, 5)}
        if n % 10 == 0:  # no idempotency key: the key derived from body + sent_at must dedupe the copies
            out.append({"type": "track", "body": {**body, "traits": {"n": n}}, "sent_at": sent_at})
        else:
            out.append({"type": "track", "body": body, "idempotency_key": f"evt-{n}"})
    return out


async def test_every_event_counted_exactly_once(
    live_server_factory: Callable[..., AbstractContextManager[str]], keys: Keys
) -> None:
    rng = random.Random(20260318)
    events = distinct_events(rng)
    deliveries = [event for event in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    batches = [deliveries[i:i + 100] for i in range(0, len(deliveries), 100)]
    # some batches go to two different processes at the same moment
    simultaneous = set(rng.sample(range(len(batches)), len(batches) // 4))

    with live_server_factory(workers=2) as server_a, live_server_factory(workers=1) as server_b:
        async with httpx.AsyncClient(timeout=60, headers={"X-Schematic-Api-Key": keys.secret}) as http:
            setup = await http.post(f"{server_a}/batch", json={"events": [
                {"type": "identify", "body": {"company": {"keys": {"id": f"co-{i}"}, "name": f"Company {i}"}}}
                for i in range(30)
            ]})
            assert setup.json()["processed"] == 30
            queue: asyncio.Queue[int] = asyncio.Queue()
            for index in range(len(batches)):
                queue.put_nowait(index)
            statuses: Counter[str] = Counter()

            async def send(url: str, batch: list[dict]) -> None:
                response = await http.post(f"{url}/batch", json={"events": batch})
                assert response.status_code == 200, response.text
                for result in response.json()["events"]:
                    statuses[result["status"]] += 1

            async def client(number: int) -> None:
                while not queue.empty():
                    index = queue.get_nowait()
                    batch = batches[index]
                    if index in simultaneous:
                        await asyncio.gather(send(server_a, batch), send(server_b, batch))
                    else:
                        await send(server_a if (index + number) % 2 else server_b, batch)

            await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    delivered = len(deliveries) + sum(len(batches[i]) for i in simultaneous)
    assert statuses["processed"] == DISTINCT
    assert statuses["duplicate"] == delivered - DISTINCT
    assert statuses["failed"] == 0

    expected: Counter[tuple[str, str]] = Counter()
    for event in events:
        expected[(event["body"]["company"]["id"], event["body"]["event"])] += event["body"]["quantity"]
    ids = dict(await CompanyKey.filter(key="id").values_list("value", "company_id"))
    assert await Company.all().count() == COMPANIES  # the 10 unknown companies were created once each
    rows = await UsageCounter.all().values_list("entity_id", "event_name", "period", "month_reset", "value")
    by_window: dict[tuple[str, str], Counter[tuple[str, str]]] = {}
    for entity_id, name, period, reset, value in rows:
        by_window.setdefault((period, reset), Counter())[(entity_id, name)] += value
    wanted = Counter({(ids[company], name): total for (company, name), total in expected.items()})
    # all events are today's; no subscriptions, so no billing-month rows (domain.metering.windows)
    assert set(by_window) == {("all_time", "first_of_month"), ("current_day", "first_of_month")}
    for window, found in by_window.items():
        assert found == wanted, window
    for (entity_id, name), total in wanted.items():  # and every window read back
        assert await counters(entity_id, name) == dict.fromkeys(WINDOWS, total)
    assert await Event.filter(status="processed", event_type="track").count() == DISTINCT
    assert await IdempotencyKey.all().count() == DISTINCT + 30
