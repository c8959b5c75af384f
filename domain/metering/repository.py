"""Set-based SQL of the ingestion hot path. One statement per step and request, whatever the batch size:

* PostgreSQL: `INSERT … SELECT FROM unnest($1::…[], …)` — the statement text never changes, so asyncpg's
  prepared-statement cache always hits, and arrays carry the rows.
* SQLite: one multi-row `VALUES (?, …), (?, …)` statement per chunk (the parameter limit is 32,766).

Every function runs on the connection of the current transaction (`Tortoise.get_connection` returns it
inside `unit_of_work()`). Rows are written in a fixed, sorted order so concurrent transactions lock
idempotency keys and counter rows in the same order and cannot deadlock on each other."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

_SQLITE_MAX_PARAMS = 30_000


def _connection() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


class Dialect:
    """The little that differs between the two backends: placeholders and the floor function."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.floor = "GREATEST" if postgres else "max"
        self.least = "LEAST" if postgres else "min"

    def placeholder(self, index: int) -> str:
        """The placeholder of the 1-based `index`-th parameter."""
        return f"${index}" if self.postgres else "?"

    def values(self, rows: int, columns: int, start: int = 1) -> str:
        """`(?, ?), (?, ?)` (or numbered `$n` placeholders) for a multi-row VALUES list."""
        if not self.postgres:
            row = "(" + ", ".join("?" * columns) + ")"
            return ", ".join([row] * rows)
        out, n = [], start
        for _ in range(rows):
            out.append("(" + ", ".join(f"${n + i}" for i in range(columns)) + ")")
            n += columns
        return ", ".join(out)


def dialect() -> Dialect:
    return Dialect(_connection().capabilities.dialect == "postgres")


def _chunks(rows: Sequence[Any], columns: int) -> Iterable[Sequence[Any]]:
    size = max(1, _SQLITE_MAX_PARAMS // columns)
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


# --- (a) idempotency keys -------------------------------------------------------------------------

_PG_INSERT_KEYS = (
    'WITH ins AS (INSERT INTO "idempotency_key" ("environment_id", "key", "created_at") '
    "SELECT e, k, $3 FROM unnest($1::varchar[], $2::varchar[]) AS t(e, k) "
    'ON CONFLICT ("environment_id", "key") DO NOTHING RETURNING "environment_id", "key") '
    'SELECT "environment_id", "key" FROM ins'
)


async def insert_idempotency_keys(keys: Sequence[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
    """Insert `(environment_id, key)` pairs (distinct); returns the pairs that were new. A pair that a
    concurrent, uncommitted transaction inserted makes this statement wait for that transaction: if it
    commits the pair is a duplicate here, if it rolls back the pair is ours."""
    if not keys:
        return set()
    ordered = sorted(keys)
    conn = _connection()
    if dialect().postgres:
        rows = await conn.execute_query_dict(
            _PG_INSERT_KEYS, [[e for e, _ in ordered], [k for _, k in ordered], now]
        )
        return {(row["environment_id"], row["key"]) for row in rows}
    fresh: set[tuple[str, str]] = set()
    for chunk in _chunks(ordered, 3):
        sql = (
            'INSERT INTO "idempotency_key" ("environment_id", "key", "created_at") VALUES '
            + Dialect(False).values(len(chunk), 3)
            + ' ON CONFLICT ("environment_id", "key") DO NOTHING RETURNING "environment_id", "key"'
        )
        params: list[Any] = []
        for env, key in chunk:
            params += (env, key, now)
        _, rows = await conn.execute_query(sql, params)
        fresh.update((row[0], row[1]) for row in rows)
    return fresh


async def delete_idempotency_keys_before(cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` keys created before `cutoff` (short statements: no long-held locks)."""
    mark = dialect().placeholder(1)
    deleted, _ = await _connection().execute_query(
        'DELETE FROM "idempotency_key" WHERE "id" IN '
        f'(SELECT "id" FROM "idempotency_key" WHERE "created_at" < {mark} LIMIT {int(limit)})',
        [cutoff],
    )
    return deleted


# --- (b) events -----------------------------------------------------------------------------------

EVENT_COLUMNS = (
    "id", "environment_id", "event_type", "event_name", "raw_event_name", "company_id", "user_id", "quantity",
    "body", "idempotency_key", "source", "status", "error", "backfill", "captured_at", "received_at",
)
_PG_EVENT_TYPES = (
    "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "bigint",
    "text", "varchar", "varchar", "varchar", "text", "bool", "timestamptz", "timestamptz",
)
_PG_INSERT_EVENTS = (
    'INSERT INTO "event" (' + ", ".join(f'"{c}"' for c in EVENT_COLUMNS) + ") SELECT "
    + ", ".join("c8::jsonb" if i == 8 else f"c{i}" for i in range(len(EVENT_COLUMNS)))
    + " FROM unnest(" + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_PG_EVENT_TYPES)) + ") AS t("
    + ", ".join(f"c{i}" for i in range(len(EVENT_COLUMNS))) + ")"
)


async def insert_events(rows: Sequence[tuple[Any, ...]]) -> None:
    """One INSERT of event rows, each a tuple in `EVENT_COLUMNS` order with `body` already JSON text."""
    if not rows:
        return
    conn = _connection()
    if dialect().postgres:
        await conn.execute_query(_PG_INSERT_EVENTS, [list(column) for column in zip(*rows, strict=True)])
        return
    width = len(EVENT_COLUMNS)
    for chunk in _chunks(rows, width):
        sql = (
            'INSERT INTO "event" (' + ", ".join(f'"{c}"' for c in EVENT_COLUMNS) + ") VALUES "
            + Dialect(False).values(len(chunk), width)
        )
        await conn.execute_query(sql, [value for row in chunk for value in row])


# --- (c) usage counters ---------------------------------------------------------------------------


@dataclass(slots=True)
class CounterDelta:
    """The change of one counter row, aggregated over a request."""

    environment_id: str
    value: int
    captured_min: datetime
    captured_max: datetime


CounterKey = tuple[str, str, str, str, datetime]  # entity_id, event_name, period, month_reset, window_start

_COUNTER_COLUMNS = (
    "environment_id", "entity_id", "event_name", "period", "month_reset", "window_start", "value",
    "captured_at_min", "captured_at_max",
)
_CONFLICT = '("entity_id", "event_name", "period", "month_reset", "window_start")'


def _counter_update(d: Dialect) -> str:
    return (
        f'DO UPDATE SET "value" = {d.floor}(0, "usage_counter"."value" + EXCLUDED."value"), '
        f'"captured_at_min" = {d.least}(COALESCE("usage_counter"."captured_at_min", EXCLUDED."captured_at_min"), '
        'EXCLUDED."captured_at_min"), '
        f'"captured_at_max" = {d.floor}(COALESCE("usage_counter"."captured_at_max", EXCLUDED."captured_at_max"), '
        'EXCLUDED."captured_at_max")'
    )


_PG_UPSERT_COUNTERS = (
    'INSERT INTO "usage_counter" (' + ", ".join(f'"{c}"' for c in _COUNTER_COLUMNS) + ") "
    "SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], "
    "$6::timestamptz[], $7::bigint[], $8::timestamptz[], $9::timestamptz[]) "
    f"ON CONFLICT {_CONFLICT} " + _counter_update(Dialect(True))
)
_PG_FLOOR_NEW = 'UPDATE "usage_counter" SET "value" = 0 WHERE "entity_id" = ANY($1::varchar[]) AND "value" < 0'


async def upsert_counters(deltas: dict[CounterKey, CounterDelta]) -> None:
    """Apply aggregated deltas with ONE multi-row `INSERT … ON CONFLICT DO UPDATE`, floored at zero.

    A delta is added to the stored value and the sum floored at 0. A row that did not exist yet is
    inserted with its raw delta, so a correction (negative delta) arriving before any usage would
    leave a negative row; only then a second statement resets such rows of the affected entities to 0."""
    if not deltas:
        return
    ordered = sorted(deltas.items(), key=lambda item: item[0])
    rows = [(d.environment_id, *key, d.value, d.captured_min, d.captured_max) for key, d in ordered]
    conn = _connection()
    postgres = dialect().postgres
    if postgres:
        await conn.execute_query(_PG_UPSERT_COUNTERS, [list(column) for column in zip(*rows, strict=True)])
    else:
        width = len(_COUNTER_COLUMNS)
        for chunk in _chunks(rows, width):
            sql = (
                'INSERT INTO "usage_counter" (' + ", ".join(f'"{c}"' for c in _COUNTER_COLUMNS) + ") VALUES "
                + Dialect(False).values(len(chunk), width)
                + f" ON CONFLICT {_CONFLICT} " + _counter_update(Dialect(False))
            )
            await conn.execute_query(sql, [value for row in chunk for value in row])
    negative = sorted({key[0] for key, d in ordered if d.value < 0})
    if negative:
        if postgres:
            await conn.execute_query(_PG_FLOOR_NEW, [negative])
        else:
            marks = ", ".join("?" * len(negative))
            await conn.execute_query(
                f'UPDATE "usage_counter" SET "value" = 0 WHERE "entity_id" IN ({marks}) AND "value" < 0', negative
            )


# --- billing anchors --------------------------------------------------------------------------------


async def billing_periods(company_ids: Sequence[str]) -> dict[str, tuple[datetime | None, datetime | None]]:
    """`company_id -> (billing_period_start, billing_period_end)` for companies that have one."""
    if not company_ids:
        return {}
    conn = _connection()
    if dialect().postgres:
        rows = await conn.execute_query_dict(
            'SELECT "id", "billing_period_start", "billing_period_end" FROM "company" '
            'WHERE "id" = ANY($1::varchar[]) AND "billing_period_start" IS NOT NULL',
            [list(company_ids)],
        )
        return {row["id"]: (row["billing_period_start"], row["billing_period_end"]) for row in rows}
    from domain.companies.models import Company

    found = await Company.filter(id__in=list(company_ids), billing_period_start__isnull=False).values_list(
        "id", "billing_period_start", "billing_period_end"
    )
    return {row[0]: (row[1], row[2]) for row in found}
