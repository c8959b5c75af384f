"""Generated artefacts stay in step with the code."""

from pathlib import Path

from tortoise.context import tortoise_test_context
from tortoise.migrations.autodetector import MigrationAutodetector

from api.graphql.schema import schema
from domain.db import MODEL_MODULES, tortoise_config

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text().strip()
    assert committed == schema.as_str().strip(), "schema.graphql is stale: run `make schema` and commit it"


async def test_models_and_migrations_agree() -> None:
    apps = tortoise_config("sqlite://:memory:")["apps"]
    async with tortoise_test_context(MODEL_MODULES) as ctx:
        pending = await MigrationAutodetector(ctx.apps, apps).changes()
    assert pending == [], f"models changed without a migration: run `tortoise makemigrations` ({pending})"
