"""Schematic's event capture API (product model §7.5): `POST /batch` {"events": [...]} and `POST /e`.

Each event carries its own `api_key` (the header key is the fallback). Events whose key is invalid are
dropped and logged; the request fails with 401 only when no event has a valid key. Events are stored
and counted before the reply (a durable acknowledgement)."""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from tortoise.exceptions import IntegrityError

from api.http import JSONResponse, error_response, presented_key
from domain.db import unit_of_work
from domain.environments.service import authenticator
from domain.errors import InvalidInput, Unauthenticated
from domain.metering.ingest import (
    DUPLICATE,
    FAILED,
    Batch,
    EventResult,
    IncomingEvent,
    apply_usage_changes,
    prepare,
    write,
)
from domain.timeutil import utcnow

log = structlog.get_logger(__name__)

MAX_BATCH = 100
CAPTURE_KINDS = ("secret", "publishable")
_ATTEMPTS = 3


def _retryable(exc: BaseException) -> bool:
    """Deadlocks and serialization failures (PostgreSQL) and unique-key races: the transaction was
    rolled back as a whole, so running it again cannot double count."""
    if isinstance(exc, IntegrityError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        return False
    rollback = asyncpg.exceptions.TransactionRollbackError
    return isinstance(exc, rollback) or isinstance(exc.__cause__, rollback)


async def _write(batches: Sequence[Batch]) -> list[list[EventResult]]:
    """One unit of work for `batches`; run again when the database rolled it back for a race."""
    for attempt in range(_ATTEMPTS):
        try:
            async with unit_of_work():
                written = await write(batches)
            apply_usage_changes(written)  # committed: refresh this process's snapshots
            return written.results
        except Exception as exc:
            if attempt + 1 == _ATTEMPTS or not _retryable(exc):
                raise
            log.info("event ingestion retried", attempt=attempt + 1, error=str(exc))
    raise AssertionError("unreachable")


class Coalescer:
    """Writes the events of concurrent requests of this process together: a request arriving while a
    write is in flight joins the next one. Under load this turns many small transactions that fight
    over the same counter rows into few large ones (fewer lock waits, round trips and commits); an idle
    server writes each request at once. Every request is answered only after the transaction holding
    its events has committed. If a combined write fails, each request is written again on its own, so
    one bad request cannot fail the others."""

    def __init__(self, max_events: int = 2_000, max_concurrent: int = 1) -> None:
        self.max_events = max_events
        self.max_concurrent = max_concurrent
        self._queue: deque[tuple[Batch, asyncio.Future[list[EventResult]]]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, batch: Batch) -> list[EventResult]:
        future: asyncio.Future[list[EventResult]] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, future))
        if self._running < self.max_concurrent:
            self._running += 1
            task = asyncio.create_task(self._drain(), name="event-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                taken = [self._queue.popleft()]
                size = len(taken[0][0].works)
                while self._queue and size + len(self._queue[0][0].works) <= self.max_events:
                    taken.append(self._queue.popleft())
                    size += len(taken[-1][0].works)
                await self._run(taken)
        finally:
            self._running -= 1

    async def _run(self, taken: list[tuple[Batch, asyncio.Future[list[EventResult]]]]) -> None:
        try:
            results = await _write([batch for batch, _ in taken])
        except Exception as exc:
            if len(taken) == 1:
                _settle(taken[0][1], exception=exc)
                return
            log.warning("combined event write failed; writing its requests one by one", error=repr(exc))
            for batch, future in taken:
                try:
                    [result] = await _write([batch])
                except Exception as single:
                    _settle(future, exception=single)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(taken, results, strict=True):
            _settle(future, result)


def _settle(
    future: asyncio.Future[list[EventResult]], result: list[EventResult] | None = None,
    exception: BaseException | None = None,
) -> None:
    if future.done():  # the request was cancelled (client went away); its events are stored anyway
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result or [])


writer = Coalescer()


async def submit(events: Sequence[IncomingEvent], received_at: datetime | None = None) -> list[EventResult]:
    """Validate (raising `Forbidden` before anything is stored), then store and count `events`;
    returns once they are committed. Opens its own unit of work: call it outside one (code already in
    a unit of work uses `domain.metering.ingest.ingest`)."""
    return await writer.write(prepare(events, received_at or utcnow()))


def batch_too_large() -> JSONResponse:
    return error_response(400, "batch too large", max_size=MAX_BATCH)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


async def authenticate_events(request: Request, raw_events: Sequence[Any]) -> list[IncomingEvent | None]:
    """One IncomingEvent per raw capture event, None for events dropped for lack of a valid key."""
    header_key = presented_key(request)
    entries: dict[str, Any] = {}
    out: list[IncomingEvent | None] = []
    for position, raw in enumerate(raw_events):
        event = raw if isinstance(raw, dict) else {}
        key = event.get("api_key") or header_key
        if not isinstance(key, str) or not key:
            out.append(None)
            log.warning("capture event dropped", position=position, reason="no API key")
            continue
        entry = entries.get(key)
        if entry is None:
            try:
                entry = await authenticator.lookup(key)
                if entry.kind not in CAPTURE_KINDS:
                    raise Unauthenticated("this key cannot be used here")
            except Unauthenticated as exc:
                entry = exc
            entries[key] = entry
        if isinstance(entry, Exception):
            out.append(None)
            log.warning("capture event dropped", position=position, reason=str(entry))
            continue
        if not isinstance(raw, dict):
            out.append(IncomingEvent(entry.scope, None, {"event": raw}, source="capture"))
            continue
        out.append(IncomingEvent(
            entry.scope, event.get("type"), event.get("body"), event.get("idempotency_key"), event.get("sent_at"),
            event.get("trusted_client_clock"), event.get("backfill"), "capture",
        ))
    return out


def summary(results: Sequence[EventResult | None]) -> dict[str, Any]:
    counts = {"processed": 0, "failed": 0, "duplicate": 0, "dropped": 0}
    events = []
    for result in results:
        if result is None:
            counts["dropped"] += 1
            events.append({"status": "dropped", "error": "invalid or missing API key"})
            continue
        counts[result.status] += 1
        events.append(result.as_dict())
    return {**counts, "events": events}


async def _capture(request: Request, raw_events: list[Any]) -> Response:
    authenticated = await authenticate_events(request, raw_events)
    accepted = [event for event in authenticated if event is not None]
    if not accepted:
        if not raw_events and presented_key(request):
            await authenticator.authenticate(presented_key(request), kinds=CAPTURE_KINDS)
            return JSONResponse(summary([]))
        raise Unauthenticated("no event carries a valid API key")
    results = iter(await submit(accepted))
    merged = [next(results) if event is not None else None for event in authenticated]
    failed = sum(1 for r in merged if r is not None and r.status == FAILED)
    duplicates = sum(1 for r in merged if r is not None and r.status == DUPLICATE)
    if failed or duplicates:
        log.info("capture batch", events=len(merged), failed=failed, duplicates=duplicates)
    return JSONResponse(summary(merged))


async def capture_batch(request: Request) -> Response:
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidInput('send {"events": [...]}', field="events")
    events = body["events"]
    if len(events) > MAX_BATCH:
        return batch_too_large()
    return await _capture(request, events)


async def capture_one(request: Request) -> Response:
    body = await _body(request)
    if not isinstance(body, dict):
        raise InvalidInput("send one event object {api_key, type, body, ...}")
    return await _capture(request, [body])


def capture_routes() -> list[BaseRoute]:
    handlers: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        ("/batch", capture_batch), ("/e", capture_one),
    ]
    return [Route(path, handler, methods=["POST"]) for path, handler in handlers]
