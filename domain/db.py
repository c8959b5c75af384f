"""Database configuration and the transaction boundary."""

from typing import Any

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
