"""Cross-process cache invalidation.

Writers call `record_change` inside their transaction: it upserts a `cache_change` row and queues a
local invalidation that `unit_of_work` applies once the transaction has committed. Every process runs
a `ChangeFeedPoller` that reads rows changed recently and invalidates its own caches, so a write made
through one process reaches checks in every other within a poll interval or two."""

import asyncio
import contextvars
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

import structlog
from tortoise import Tortoise

from domain.cache.models import CacheChange, CacheChangeBatch
from domain.timeutil import utcnow

log = structlog.get_logger(__name__)

Listener = Callable[[str, str, str], None]  # (environment_id, scope, ref_id)

_Change = tuple[str, str, str]  # (environment_id, scope, ref_id)
_listeners: list[Listener] = []
_pending: contextvars.ContextVar[list[tuple[_Change, datetime]] | None] = contextvars.ContextVar(
    "pending_invalidations", default=None
)
# Changes this process applied itself once they committed, with the changed_at it wrote (and the ids of
# its own `cache_change_batch` rows): its poller does not apply them a second time when it reads them
# back (a needless cache miss per write otherwise).
_applied_here: dict[_Change, datetime] = {}
_applied_batches: dict[int, datetime] = {}

ENVIRONMENT = "environment"  # the catalog of an environment: flags, rules, plans, entitlements
COMPANY = "company"
USER = "user"
# Usage-only changes (tracked events): they refresh check snapshots without evicting key mappings, which
# usage cannot affect.
USAGE = "usage"
API_KEY = "api_key"


def subscribe(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def invalidate_locally(environment_id: str, scope: str, ref_id: str) -> None:
    for listener in _listeners:
        listener(environment_id, scope, ref_id)


async def record_change(environment_id: str, scope: str, ref_id: str) -> None:
    await record_changes(environment_id, scope, [ref_id])


async def record_changes(environment_id: str, scope: str, ref_ids: Iterable[str]) -> None:
    refs = sorted(set(ref_ids))
    if not refs:
        return
    now = utcnow()
    await CacheChange.bulk_create(
        [CacheChange(environment_id=environment_id, scope=scope, ref_id=ref, changed_at=now) for ref in refs],
        on_conflict=["environment_id", "scope", "ref_id"],
        update_fields=["changed_at"],
    )
    pending = _pending.get()
    if pending is None:  # no unit of work: the caller commits itself (or autocommit)
        for ref in refs:
            _apply_own((environment_id, scope, ref), now)
    else:
        pending.extend(((environment_id, scope, ref), now) for ref in refs)


def _apply_own(change: _Change, changed_at: datetime) -> None:
    invalidate_locally(*change)
    if len(_applied_here) > 100_000:  # no poller prunes it in this process: forget, at worst a re-apply
        _applied_here.clear()
    _applied_here[change] = changed_at


async def record_change_batches(scope: str, refs: Mapping[str, Iterable[str]], changed_at: datetime) -> list[int]:
    """For writers that change many refs of one scope per transaction (usage: hundreds of companies per
    ingestion transaction): one `cache_change_batch` row per environment listing them, where
    `record_changes` would take a row per ref. Returns the rows' ids; once the transaction has
    committed, the caller passes them to `apply_change_batches` (the unit of work does not collect them)."""
    batch_ids = []
    for environment_id, ref_ids in refs.items():
        if ref_ids:
            row = await CacheChangeBatch.create(
                environment_id=environment_id, scope=scope, ref_ids=sorted(ref_ids), changed_at=changed_at
            )
            batch_ids.append(row.id)
    return batch_ids


def apply_change_batches(
    scope: str, refs: Mapping[str, Iterable[str]], batch_ids: Iterable[int], changed_at: datetime
) -> None:
    """After the commit of `record_change_batches`: invalidate in this process, once."""
    for environment_id, ref_ids in refs.items():
        for ref_id in ref_ids:
            invalidate_locally(environment_id, scope, ref_id)
    if len(_applied_batches) > 100_000:  # no poller prunes it in this process
        _applied_batches.clear()
    for batch_id in batch_ids:
        _applied_batches[batch_id] = changed_at


def begin_collecting() -> contextvars.Token:
    return _pending.set([])


def finish_collecting(token: contextvars.Token, *, committed: bool) -> None:
    pending = _pending.get() or []
    _pending.reset(token)
    if committed:
        for change, changed_at in pending:
            _apply_own(change, changed_at)


class ChangeFeedPoller:
    """Polls the change feed. Rows are read with a lookback window so that a transaction that
    committed late (its changed_at older than the previous poll) is still seen; applying an
    invalidation twice is harmless."""

    def __init__(self, interval: float, lookback: float = 5.0) -> None:
        self.interval = interval
        self.lookback = timedelta(seconds=lookback)
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[_Change, object] = {}
        self._seen_batches: dict[int, datetime] = {}  # CacheChangeBatch id -> changed_at

    async def poll_once(self) -> int:
        since = utcnow() - self.lookback
        rows = await CacheChange.filter(changed_at__gte=since).values_list(
            "environment_id", "scope", "ref_id", "changed_at"
        )
        fresh = 0
        seen: dict[_Change, object] = {}
        for environment_id, scope, ref_id, changed_at in rows:
            key = (environment_id, scope, ref_id)
            seen[key] = changed_at
            if self._seen.get(key) != changed_at and _applied_here.get(key) != changed_at:
                invalidate_locally(environment_id, scope, ref_id)
                fresh += 1
        self._seen = seen
        for key in [key for key, changed_at in _applied_here.items() if changed_at < since]:
            del _applied_here[key]
        for batch_id in [i for i, changed_at in _applied_batches.items() if changed_at < since]:
            del _applied_batches[batch_id]
        # batch rows never change: read each once (by id), the lookback catches late commits
        self._seen_batches = {i: at for i, at in self._seen_batches.items() if at >= since}
        batches = CacheChangeBatch.filter(changed_at__gte=since)
        if self._seen_batches:
            batches = batches.exclude(id__in=list(self._seen_batches))
        for batch_id, environment_id, scope, ref_ids, changed_at in await batches.values_list(
            "id", "environment_id", "scope", "ref_ids", "changed_at"
        ):
            self._seen_batches[batch_id] = changed_at
            if batch_id in _applied_batches:
                continue
            for ref_id in ref_ids:
                invalidate_locally(environment_id, scope, ref_id)
                fresh += 1
        return fresh

    async def prune(self, older_than: timedelta = timedelta(hours=1)) -> None:
        await CacheChange.filter(changed_at__lt=utcnow() - older_than).delete()

    async def prune_batches(self, older_than: timedelta = timedelta(minutes=1)) -> None:
        await CacheChangeBatch.filter(changed_at__lt=utcnow() - older_than).delete()

    async def _run(self) -> None:
        polls = 0
        last_warning = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.poll_once()
                polls += 1
                if polls % 100 == 0:
                    await self.prune_batches()
                if polls % 10_000 == 0:
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly unreachable: keep polling, warn rarely
                if loop.time() - last_warning > 30:
                    last_warning = loop.time()
                    log.warning("change feed poll failed", error=str(exc))
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None and Tortoise._inited:
            self._task = asyncio.create_task(self._run(), name="change-feed-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
