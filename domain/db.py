"""Database configuration and the transaction boundary."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.transactions import in_transaction

from domain.cache import changes
from domain.settings import get_settings

MODEL_MODULES = [
    "domain.environments.models",
    "domain.companies.models",
    "domain.catalog.models",
    "domain.entitlements.models",
    "domain.metering.models",
    "domain.cache.models",
]


def tortoise_config(db_url: str | None = None) -> dict[str, Any]:
    return {
        "connections": {"default": db_url or get_settings().database_url},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "domain.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Read by the `tortoise` migration CLI (see [tool.tortoise] in pyproject.toml).
TORTOISE_ORM = tortoise_config()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    """The transaction boundary of one request or job. Services never commit; this does, and only
    after the commit are the in-memory caches of this process invalidated."""
    token = changes.begin_collecting()
    committed = False
    try:
        async with in_transaction():
            yield
        committed = True
    finally:
        changes.finish_collecting(token, committed=committed)
