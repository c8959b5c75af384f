"""The unmodified schematichq SDK, wired in-process to the test app (product model §7.1)."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from schematic.client import AsyncSchematic, AsyncSchematicConfig

from tests.conftest import Keys

BASE_URL = "http://plangate.test"


def sdk_client(app: object, key: str) -> AsyncSchematic:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)  # type: ignore[arg-type]
    return AsyncSchematic(key, AsyncSchematicConfig(
        base_url=BASE_URL, event_capture_url=BASE_URL, httpx_client=http, cache_providers=[],
    ))


@pytest_asyncio.fixture
async def sdk(app: object, keys: Keys) -> AsyncIterator[AsyncSchematic]:
    client = sdk_client(app, keys.secret)
    yield client
    await client.shutdown()


@pytest_asyncio.fixture
async def sdk_publishable(app: object, keys: Keys) -> AsyncIterator[AsyncSchematic]:
    client = sdk_client(app, keys.publishable)
    yield client
    await client.shutdown()
