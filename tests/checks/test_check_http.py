"""The single-flag check served by the ASGI fast path, and its fallback through the Starlette route."""

import gzip

import httpx
import orjson

from domain.settings import get_settings
from tests.checks.conftest import Catalog
from tests.conftest import Keys

BODY = {"company": {"id": "acme"}, "user": None, "preflight": None}


async def test_fast_path_answers_with_request_id(client: httpx.AsyncClient, catalog: Catalog) -> None:
    response = await client.post("/flags/api-calls/check", json=BODY, headers={"X-Request-Id": "rid-7"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "rid-7"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["data"]["rule_type"] == "plan_entitlement"


async def test_gzip_body_takes_the_starlette_route_with_the_same_answer(client: httpx.AsyncClient,
                                                                       catalog: Catalog) -> None:
    plain = (await client.post("/flags/api-calls/check", json=BODY)).json()
    zipped = await client.post("/flags/api-calls/check", content=gzip.compress(orjson.dumps(BODY)),
                               headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert zipped.status_code == 200
    assert zipped.json() == plain


async def test_fast_path_errors(client: httpx.AsyncClient, keys: Keys, catalog: Catalog) -> None:
    too_big = await client.post("/flags/api-calls/check", content=b" " * (get_settings().max_body_bytes + 1))
    assert too_big.status_code == 413
    malformed = await client.post("/flags/api-calls/check", content=b"{nope")
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]
    not_object = await client.post("/flags/api-calls/check", json=[1])
    assert not_object.status_code == 400
    no_key = await client.post("/flags/api-calls/check", json=BODY, headers={"X-Schematic-Api-Key": ""})
    assert no_key.status_code == 401
    bad_key = await client.post("/flags/api-calls/check", json=BODY, headers={"X-Schematic-Api-Key": "api_wrong"})
    assert bad_key.status_code == 401 and bad_key.json()["error"] == "invalid or revoked API key"


async def test_other_methods_fall_through_to_the_router(client: httpx.AsyncClient, catalog: Catalog) -> None:
    response = await client.get("/flags/api-calls/check")
    assert response.status_code == 405
