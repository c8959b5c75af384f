"""Test harness: one database per run (SQLite file or a fresh PostgreSQL database), emptied after
every test; helpers for environments, keys, an in-process HTTP client and query counting.

Choose the database with PLANGATE_TEST_DATABASE_URL, e.g.
  PLANGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make test
The database named in the URL is only used to connect; the run creates `plangate_test_<random>`
beside it and drops it afterwards."""

import asyncio
import logging
import os
import secrets
import tempfile
import types
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from tortoise import Tortoise
from tortoise.context import tortoise_test_context
from tortoise.contrib.test import truncate_all_models

from api.app import BACKGROUND_TASKS
from domain.db import MODEL_MODULES
from domain.environments import service as environments
from domain.environments.models import Environment
from domain.scope import Scope

_BASE_URL = os.environ.get("PLANGATE_TEST_DATABASE_URL", "").strip()
IS_POSTGRES = _BASE_URL.startswith(("postgres://", "asyncpg://", "postgresql://"))


def _test_database_url() -> str:
    if IS_POSTGRES:
        parts = urlsplit(_BASE_URL)
        return urlunsplit(parts._replace(path=f"/plangate_test_{secrets.token_hex(4)}"))
    directory = tempfile.mkdtemp(prefix="plangate-test-")
    return f"sqlite://{directory}/test.db"


DATABASE_URL = _test_database_url()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set PLANGATE_TEST_DATABASE_URL")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


async def _drop_postgres_database(url: str) -> None:
    import asyncpg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def orm() -> AsyncIterator[None]:
    async with tortoise_test_context(MODEL_MODULES, db_url=DATABASE_URL):
        yield
    if IS_POSTGRES:
        await _drop_postgres_database(DATABASE_URL)


async def seed_installation() -> None:
    from domain.migrations import _seed as seed

    await seed.create_defaults(None, types.SimpleNamespace(client=Tortoise.get_connection("default")))


@pytest_asyncio.fixture
async def db(orm: None) -> AsyncIterator[None]:
    await seed_installation()
    yield
    await truncate_all_models()


@dataclass
class Keys:
    secret: str
    publishable: str
    scope: Scope


async def make_keys(environment: str = "development") -> Keys:
    env = await Environment.get(name=environment)
    secret = await environments.create_key(env, "secret", "test secret")
    publishable = await environments.create_key(env, "publishable", "test publishable")
    return Keys(secret.plaintext, publishable.plaintext, environments.scope_for(env, secret.key))


@pytest_asyncio.fixture
async def keys(db: None) -> Keys:
    return await make_keys("development")


@pytest_asyncio.fixture
async def other_keys(db: None) -> Keys:
    return await make_keys("staging")


@pytest_asyncio.fixture
async def scope(keys: Keys) -> Scope:
    return keys.scope


@pytest_asyncio.fixture(scope="session")
async def app(orm: None) -> AsyncIterator[object]:
    from api.app import create_app

    application = create_app()
    async with LifespanManager(application) as manager:
        yield manager.app


@pytest_asyncio.fixture
async def client(app: object, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://plangate.test", headers={"X-Schematic-Api-Key": keys.secret}
    ) as http:
        yield http


class GraphQL:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, query: str, variables: dict | None = None, *, key: str | None = None) -> dict:
        headers = {"X-Schematic-Api-Key": key} if key else {}
        payload = {"query": query, "variables": variables or {}}
        response = await self.http.post("/graphql", json=payload, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict | None = None, *, key: str | None = None) -> dict:
        """Run an operation that must succeed: no top-level errors, no mutation errors."""
        body = await self(query, variables, key=key)
        assert not body.get("errors"), body["errors"]
        for value in (body.get("data") or {}).values():
            if isinstance(value, dict) and value.get("errors"):
                raise AssertionError(value["errors"])
        return body["data"]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class QueryCounter(logging.Handler):
    """Counts SQL statements sent by Tortoise while active."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        task = asyncio.current_task() if _loop_running() else None
        if task is not None and task.get_name() in BACKGROUND_TASKS:  # the session app's background work
            return
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)

    @property
    def selects(self) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(("SELECT", "WITH")))


@pytest.fixture
def count_queries() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
