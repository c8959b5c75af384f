import httpx

from domain.metering.models import Event, UsageCounter
from tests.conftest import Keys


async def test_smoke(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"events": [
        {"api_key": keys.secret, "type": "identify",
         "body": {"company": {"keys": {"id": "acme"}, "name": "Acme", "traits": {"seats": 3}},
                  "keys": {"user_id": "u1"}, "name": "Ann", "traits": {"role": "admin"}}},
        {"api_key": keys.secret, "type": "track", "idempotency_key": "k1",
         "body": {"company": {"id": "acme"}, "event": "api-call", "quantity": 7, "user": {"user_id": "u1"}, "traits": None}},
        {"api_key": keys.secret, "type": "track", "idempotency_key": "k1",
         "body": {"company": {"id": "acme"}, "event": "api-call", "quantity": 7}},
        {"api_key": keys.secret, "type": "track",
         "body": {"company": {"id": "newco"}, "event": "bad name"}},
    ]}
    r = await client.post("/batch", json=body)
    print(r.status_code, r.json())
    assert r.status_code == 200
    print(await Event.all().values("event_type", "status", "error", "company_id", "user_id", "quantity"))
    print(await UsageCounter.all().values("entity_id", "period", "month_reset", "window_start", "value"))
    r = await client.post("/batch", json=body)
    print(r.json())
