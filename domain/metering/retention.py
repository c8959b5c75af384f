"""Retention of idempotency keys: a key is remembered for PLANGATE_IDEMPOTENCY_RETENTION_DAYS (35) days,
after which a repeat of the event would be counted again."""

import asyncio
import random
from datetime import datetime, timedelta

import structlog

from domain.metering import repository
from domain.settings import get_settings
from domain.timeutil import utcnow

log = structlog.get_logger(__name__)

PRUNE_BATCH = 10_000


async def prune_idempotency_keys(now: datetime | None = None, retention_days: int | None = None) -> int:
    """Forget idempotency keys older than the retention, in batches; returns how many were deleted."""
    days = retention_days if retention_days is not None else get_settings().idempotency_retention_days
    cutoff = (now or utcnow()) - timedelta(days=days)
    total = 0
    while True:
        deleted = await repository.delete_idempotency_keys_before(cutoff, PRUNE_BATCH)
        total += deleted
        if deleted < PRUNE_BATCH:
            return total


async def run_pruning(interval: float = 3600.0) -> None:
    """Background task of every server process: prune once an interval (first run after a random
    delay, so the processes of a deployment do not all start at once)."""
    await asyncio.sleep(random.uniform(30, 300))
    while True:
        try:
            deleted = await prune_idempotency_keys()
            if deleted:
                log.info("idempotency keys pruned", deleted=deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("idempotency key pruning failed", exc_info=True)
        await asyncio.sleep(interval)
