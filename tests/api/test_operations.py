"""Operations: health, readiness, request ids, body limits, bad JSON, logging."""

import gzip
import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest

from domain.settings import get_settings
from tests.conftest import Keys
from tests.live import free_port


async def test_request_id_is_echoed_and_generated(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert len(first) == 32 and first != second


async def test_oversized_body_is_refused_with_413(client: httpx.AsyncClient) -> None:
    limit = get_settings().max_body_bytes
    response = await client.post("/graphql", content=b"{" + b" " * limit + b"}",
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}


async def test_gzip_bomb_is_refused_with_413(client: httpx.AsyncClient) -> None:
    bomb = gzip.compress(b"0" * (get_settings().max_body_bytes * 4))
    assert len(bomb) < 20_000
    response = await client.post("/graphql", content=bomb,
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 413


async def test_gzip_body_is_accepted(client: httpx.AsyncClient) -> None:
    body = gzip.compress(json.dumps({"query": "{ environment { name } }"}).encode())
    response = await client.post("/graphql", content=body,
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.json()["data"]["environment"]["name"] == "development"


async def test_corrupt_gzip_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", content=b"not gzip at all",
                                 headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json()["error"]


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert "no route" in response.json()["error"]


async def test_revoked_and_unknown_keys_get_401(client: httpx.AsyncClient, keys: Keys, gql) -> None:
    query = "{ environment { name } }"
    unknown = await client.post("/graphql", json={"query": query}, headers={"X-Schematic-Api-Key": "sch_dev_nope"})
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid or revoked API key"
    bearer = await client.post("/graphql", json={"query": query},
                               headers={"X-Schematic-Api-Key": "", "Authorization": f"Bearer {keys.secret}"})
    assert bearer.status_code == 200
    data = await gql.ok("mutation($t: ApiKeyType!) { createApiKey(type: $t, name: \"tmp\") { secret apiKey { id } } }",
                        {"t": "SECRET"})
    secret, key_id = data["createApiKey"]["secret"], data["createApiKey"]["apiKey"]["id"]
    fresh = await client.post("/graphql", json={"query": query}, headers={"X-Schematic-Api-Key": secret})
    assert fresh.status_code == 200
    await gql.ok("mutation($id: String!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }", {"id": key_id})
    revoked = await client.post("/graphql", json={"query": query}, headers={"X-Schematic-Api-Key": secret})
    assert revoked.status_code == 401


async def test_keys_are_stored_hashed_and_never_returned(gql, keys: Keys) -> None:
    from domain.environments.models import ApiKey

    listed = await gql.ok("{ apiKeys { displayPrefix name } }")
    text = json.dumps(listed)
    assert keys.secret not in text and keys.publishable not in text
    stored = await ApiKey.all().values_list("key_hash", "display_prefix")
    assert all(keys.secret not in h and len(h) == 64 for h, _ in stored)


async def test_publishable_key_cannot_manage(gql, keys: Keys) -> None:
    body = await gql("{ apiKeys { id } }", key=keys.publishable)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_logs_are_json_lines_with_request_id(caplog: pytest.LogCaptureFixture) -> None:
    from api.logging import configure_logging

    configure_logging("info", json=True)
    import structlog

    handler = logging.getLogger().handlers[0]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    structlog.contextvars.bind_contextvars(request_id="rid-1")
    try:
        record.__dict__["_from_structlog"] = False
        line = handler.format(record)
    finally:
        structlog.contextvars.clear_contextvars()
    payload = json.loads(line)
    assert payload["event"] == "hello" and payload["request_id"] == "rid-1" and payload["level"] == "info"


@pytest.mark.slow
def test_readyz_is_503_when_the_database_is_unreachable_and_shutdown_is_graceful() -> None:
    port = free_port()
    env = {**os.environ, "PLANGATE_DATABASE_URL": "postgres://postgres@127.0.0.1:9/unreachable"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises the signal so the exit status reflects it.
    assert proc.returncode in (0, -15)
    assert "Application shutdown complete." in output


async def test_segment_write_key_mapping_via_graphql(gql, keys: Keys) -> None:
    from domain.environments.models import ApiKey

    create = ("mutation($m: JSON) { createApiKey(type: SEGMENT, name: \"seg\", segmentMapping: $m) "
              "{ secret apiKey { id } errors { code message field } } }")
    bad = (await gql(create, {"m": {"company_keys": "x"}}))["data"]["createApiKey"]
    assert bad["errors"][0]["code"] == "INVALID_INPUT"
    assert "unknown Segment mapping setting" in bad["errors"][0]["message"]
    wrong_type = (await gql(create, {"m": {"snake_case_events": "yes"}}))["data"]["createApiKey"]
    assert wrong_type["errors"][0]["code"] == "INVALID_INPUT"
    assert await ApiKey.filter(kind="segment").count() == 0  # nothing half-written
    made = await gql.ok(create, {"m": {"company_key": "account_id"}})
    key = await ApiKey.get(id=made["createApiKey"]["apiKey"]["id"])
    assert key.settings == {"company_key": "account_id"} and made["createApiKey"]["secret"].startswith("seg_")
    secret_with_mapping = await gql("mutation { createApiKey(type: SECRET, segmentMapping: {user_key: \"u\"}) "
                                    "{ errors { code } } }")
    assert secret_with_mapping["data"]["createApiKey"]["errors"][0]["code"] == "INVALID_INPUT"


async def test_background_tasks_run_while_the_app_serves(client: httpx.AsyncClient, keys: Keys) -> None:
    import asyncio

    from api.app import BACKGROUND_TASKS

    running = {task.get_name() for task in asyncio.all_tasks() if not task.done()}
    assert set(BACKGROUND_TASKS) <= running
