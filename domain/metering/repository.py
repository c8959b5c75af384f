"""Set-based SQL of the ingestion hot path: one statement per step and transaction, whatever the
number of events.

* PostgreSQL: the rows travel as ONE JSON parameter (an array of row arrays) expanded by
  `jsonb_array_elements` with positional casts. The statement text never changes, so asyncpg's prepared
  statement cache always hits, and orjson-encoding the rows is far cheaper than asyncpg's per-element
  array encoding (measured: PostgreSQL spends the same or less time on this form than on unnest).
* SQLite: one multi-row `VALUES (?, …), (?, …)` statement per chunk (parameter limit 32,766).

Every function runs on the connection of the current transaction (`Tortoise.get_connection` returns it
inside `unit_of_work()`). Rows are written in sorted order so concurrent transactions lock idempotency
keys and counter rows in the same order and cannot deadlock on each other."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from domain.metering.models import scoped_key
from domain.metering.windows import Window

_SQLITE_MAX_PARAMS = 30_000


def _connection() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


class Dialect:
    """The little that differs between the backends: placeholders and the greatest/least functions."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.greatest = "GREATEST" if postgres else "max"
        self.least = "LEAST" if postgres else "min"

    def placeholder(self, index: int) -> str:
        """The placeholder of the 1-based `index`-th parameter."""
        return f"${index}" if self.postgres else "?"

    def values(self, rows: int, columns: int) -> str:
        """`(?, ?), (?, ?)` (numbered `$n` on PostgreSQL) for a multi-row VALUES list."""
        if not self.postgres:
            row = "(" + ", ".join("?" * columns) + ")"
            return ", ".join([row] * rows)
        return ", ".join(
            "(" + ", ".join(f"${r * columns + c + 1}" for c in range(columns)) + ")" for r in range(rows)
        )


POSTGRES, SQLITE = Dialect(True), Dialect(False)


def dialect() -> Dialect:
    return POSTGRES if _connection().capabilities.dialect == "postgres" else SQLITE


def _json(value: object) -> str:
    """JSON text of rows (tuples serialise as arrays; datetimes as RFC 3339)."""
    return orjson.dumps(value, default=str).decode()


def _chunks(rows: Sequence[Any], columns: int) -> Iterable[Sequence[Any]]:
    size = max(1, _SQLITE_MAX_PARAMS // columns)
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in names)


# --- (a) idempotency keys -------------------------------------------------------------------------

_PG_INSERT_KEYS = (
    'WITH ins AS (INSERT INTO "idempotency_key" ("id", "created_at") '
    "SELECT r, $2 FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS t(r, n) ORDER BY n "
    'ON CONFLICT ("id") DO NOTHING RETURNING "id") SELECT array_agg("id") AS ids FROM ins'
)


async def insert_idempotency_keys(keys: Sequence[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
    """Insert distinct `(environment_id, key)` pairs; returns the pairs that were new. A pair a
    concurrent, uncommitted transaction inserted makes this statement wait for it: if that transaction
    commits the pair is a duplicate here, if it rolls back the pair is ours."""
    if not keys:
        return set()
    pairs = {scoped_key(env, key): (env, key) for env, key in keys}
    ordered = sorted(pairs)  # one lock order for every writer
    conn = _connection()
    if dialect().postgres:
        _, rows = await conn.execute_query(_PG_INSERT_KEYS, [_json(ordered), now])
        return {pairs[found] for found in rows[0]["ids"] or ()}
    fresh: set[tuple[str, str]] = set()
    for chunk in _chunks(ordered, 2):
        sql = (
            'INSERT INTO "idempotency_key" ("id", "created_at") VALUES ' + SQLITE.values(len(chunk), 2)
            + ' ON CONFLICT ("id") DO NOTHING RETURNING "id"'
        )
        params: list[Any] = []
        for scoped in chunk:
            params += (scoped, now)
        _, found = await conn.execute_query(sql, params)
        fresh.update(pairs[row[0]] for row in found)
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


# Event rows are plain tuples (cheap to build, serialised natively by orjson) in this column order; the
# PostgreSQL type of each column casts the JSON value.
EVENT_COLUMNS = (
    ("id", "varchar"), ("environment_id", "varchar"), ("event_type", "varchar"), ("event_name", "varchar"),
    ("raw_event_name", "varchar"), ("company_id", "varchar"), ("user_id", "varchar"), ("quantity", "bigint"),
    ("body", "jsonb"), ("idempotency_key", "varchar"), ("source", "varchar"), ("status", "varchar"),
    ("error", "text"), ("backfill", "bool"), ("captured_at", "timestamptz"), ("received_at", "timestamptz"),
)
EventRow = tuple[Any, ...]
_EVENT_COLUMNS = _columns([name for name, _ in EVENT_COLUMNS])
_PG_INSERT_EVENTS = (
    f'INSERT INTO "event" ({_EVENT_COLUMNS}) SELECT '
    + ", ".join(f"r->{i}" if t == "jsonb" else f"(r->>{i})::{t}" for i, (_, t) in enumerate(EVENT_COLUMNS))
    + " FROM jsonb_array_elements($1::jsonb) AS r"
)


async def insert_events(rows: Sequence[EventRow]) -> None:
    """One INSERT of all event rows."""
    if not rows:
        return
    conn = _connection()
    if dialect().postgres:
        await conn.execute_query(_PG_INSERT_EVENTS, [_json(rows)])
        return
    width = len(EVENT_COLUMNS)
    for chunk in _chunks(rows, width):
        sql = f'INSERT INTO "event" ({_EVENT_COLUMNS}) VALUES ' + SQLITE.values(len(chunk), width)
        params: list[Any] = []
        for row in chunk:
            params += (*row[:8], _json(row[8]), *row[9:])
        await conn.execute_query(sql, params)


# --- (c) usage counters ---------------------------------------------------------------------------


@dataclass(slots=True)
class UsageDelta:
    """The change of usage of one event name by one entity whose events fall in the same windows,
    aggregated over a transaction."""

    environment_id: str
    value: int
    captured_min: datetime
    captured_max: datetime


# entity_id, event_name, the window start of each counted (period, month_reset)
UsageKey = tuple[str, str, tuple[datetime, ...]]

_COUNTER_FIELDS = (
    "environment_id", "entity_id", "event_name", "period", "month_reset", "window_start", "value",
    "captured_at_min", "captured_at_max",
)
_COUNTER_COLUMNS = _columns(_COUNTER_FIELDS)
_CONFLICT = '("entity_id", "period", "month_reset", "window_start", "event_name")'


def _counter_update(d: Dialect) -> str:
    return (
        'DO UPDATE SET "value" = "usage_counter"."value" + EXCLUDED."value", '
        f'"captured_at_min" = {d.least}(COALESCE("usage_counter"."captured_at_min", EXCLUDED."captured_at_min"), '
        'EXCLUDED."captured_at_min"), '
        f'"captured_at_max" = {d.greatest}(COALESCE("usage_counter"."captured_at_max", EXCLUDED."captured_at_max"), '
        'EXCLUDED."captured_at_max")'
    )


_PG_UPSERT_COUNTERS = (
    f'INSERT INTO "usage_counter" ({_COUNTER_COLUMNS}) SELECT '
    "r->>0, r->>1, r->>2, r->>3, r->>4, (r->>5)::timestamptz, (r->>6)::bigint, (r->>7)::timestamptz, "
    "(r->>8)::timestamptz FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(r, n) ORDER BY n "
    f"ON CONFLICT {_CONFLICT} " + _counter_update(POSTGRES)
)


def counter_rows(windows: Sequence[Window], deltas: Mapping[UsageKey, UsageDelta]) -> list[tuple[Any, ...]]:
    """One row per counter (`_COUNTER_FIELDS`), deltas sharing it summed, sorted by the unique key so
    that concurrent transactions lock counter rows in one order. A key's window starts may be fewer
    than `windows`: the trailing windows without one are not counted."""
    merged: dict[tuple[str, str, str, datetime, str], list[Any]] = {}
    for (entity_id, name, starts), d in deltas.items():
        for (period, reset), start in zip(windows, starts, strict=False):
            key = (entity_id, period, reset, start, name)
            row = merged.get(key)
            if row is None:
                merged[key] = [d.environment_id, d.value, d.captured_min, d.captured_max]
            else:
                row[1] += d.value
                row[2], row[3] = min(row[2], d.captured_min), max(row[3], d.captured_max)
    return [
        (env, entity_id, name, period, reset, start, value, low, high)
        for (entity_id, period, reset, start, name), (env, value, low, high) in sorted(merged.items())
    ]


async def upsert_counters(windows: Sequence[Window], deltas: Mapping[UsageKey, UsageDelta]) -> None:
    """Add `deltas` to the counters of every window in `windows` with ONE multi-row
    `INSERT … ON CONFLICT DO UPDATE` (per chunk on SQLite). Rows hold raw sums (readers floor window
    totals at 0, `domain.metering.windows`), so concurrent transactions commute."""
    rows = counter_rows(windows, deltas)
    if not rows:
        return
    conn = _connection()
    if dialect().postgres:
        await conn.execute_query(_PG_UPSERT_COUNTERS, [_json(rows)])
        return
    width = len(_COUNTER_FIELDS)
    for chunk in _chunks(rows, width):
        sql = (
            f'INSERT INTO "usage_counter" ({_COUNTER_COLUMNS}) VALUES ' + SQLITE.values(len(chunk), width)
            + f" ON CONFLICT {_CONFLICT} " + _counter_update(SQLITE)
        )
        await conn.execute_query(sql, [value for row in chunk for value in row])


# --- billing anchors --------------------------------------------------------------------------------


async def billing_periods(company_ids: Sequence[str]) -> dict[str, tuple[datetime | None, datetime | None]]:
    """`company_id -> (billing_period_start, billing_period_end)` for the companies that have one."""
    if not company_ids:
        return {}
    from domain.companies.models import Company

    found = await Company.filter(id__in=list(company_ids), billing_period_start__isnull=False).values_list(
        "id", "billing_period_start", "billing_period_end"
    )
    return {row[0]: (row[1], row[2]) for row in found}
