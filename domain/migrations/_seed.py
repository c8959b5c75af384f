"""Creates the installation account and its development, staging and production environments.
Used by migration 0002 and by the test harness (which builds tables without running migrations)."""

from datetime import UTC, datetime
from typing import Any

from domain.ids import new_account_id, new_environment_id

ENVIRONMENTS = ("development", "staging", "production")


def _params(client: Any, count: int) -> str:
    if client.capabilities.dialect == "postgres":
        return ", ".join(f"${i}" for i in range(1, count + 1))
    return ", ".join("?" * count)


async def create_defaults(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    _, rows = await client.execute_query("SELECT id FROM account")
    if rows:
        return
    now = datetime.now(UTC)
    account_id = new_account_id()
    await client.execute_query(
        f"INSERT INTO account (id, name, created_at, updated_at) VALUES ({_params(client, 4)})",
        [account_id, "plangate", now, now],
    )
    for name in ENVIRONMENTS:
        await client.execute_query(
            "INSERT INTO environment (id, account_id, name, environment_type, require_context_signature,"
            f" created_at, updated_at) VALUES ({_params(client, 7)})",
            [new_environment_id(), account_id, name, name, False, now, now],
        )


async def remove_defaults(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_query("DELETE FROM environment")
    await schema_editor.client.execute_query("DELETE FROM account")
