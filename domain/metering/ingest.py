"""Event ingestion: the one domain service behind every surface (capture API, Schematic REST, GraphQL,
Segment). Surfaces authenticate and hand over `IncomingEvent`s; `prepare` validates them without I/O and
`write` (inside the caller's unit of work) keeps each idempotency key once, stores every new event
(processed or failed), applies identify upserts and updates the usage counters with set-based statements.
Several requests' batches may be written in one transaction (see `api.rest.capture.Coalescer`).

Order of work (also the lock order, so concurrent writers wait for each other but cannot deadlock):
idempotency keys → identify upserts → bare companies/users for unknown keys → events → last_seen_at →
change feed → counters (the most contended locks, held the shortest). See docs/metering.md."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from domain import ids
from domain.cache import changes
from domain.companies import validation
from domain.companies.resolver import resolver
from domain.companies.service import CompanyUpsert, UserUpsert, touch_last_seen, upsert_company, upsert_user
from domain.errors import DomainError, Forbidden, InvalidInput
from domain.metering import parsing, repository
from domain.metering.repository import UsageDelta, UsageKey
from domain.metering.windows import STORED_WINDOWS, stored_starts
from domain.periods import BillingAnchor
from domain.scope import Scope
from domain.timeutil import parse_timestamp, utcnow

PROCESSED, FAILED, DUPLICATE = "processed", "failed", "duplicate"
SOURCES = ("capture", "rest", "graphql", "segment")
SUPPORTED_TYPES = ("identify", "track", "flag_check")
MAX_FUTURE = timedelta(days=1)
MAX_PAST_TRUSTED = timedelta(days=34)
MAX_PAST_BACKFILL = timedelta(days=365)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

@dataclass(slots=True)
class IncomingEvent:
    """An authenticated event as a surface received it. Fields hold raw wire values; `prepare` validates."""

    scope: Scope
    type: object
    body: object = None
    idempotency_key: object = None
    sent_at: object = None
    trusted_client_clock: object = None
    backfill: object = None
    source: str = "capture"
    raw_event_name: str | None = None  # Segment: the event name before snake_casing


@dataclass(slots=True)
class EventResult:
    status: str  # processed | failed | duplicate
    idempotency_key: str
    event_id: str | None = None  # None for duplicates
    error: str | None = None
    captured_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "idempotency_key": self.idempotency_key}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class _Identify:
    user_keys: dict[str, str] | None
    name: str | None
    traits: dict[str, object]
    company_keys: dict[str, str] | None
    company_name: str | None
    company_traits: dict[str, object]


@dataclass(slots=True)
class _Work:
    """One event on its way through `prepare` and `write`."""

    event: IncomingEvent
    env: str
    key: str  # stored idempotency key
    shown_key: str  # the key as the client sent it (or the derived one)
    captured_at: datetime
    received_at: datetime
    backfill: bool = False
    error: str | None = None
    name: str | None = None
    quantity: int = 1
    company_keys: dict[str, str] | None = None
    user_keys: dict[str, str] | None = None
    identify: _Identify | None = None
    company_id: str | None = None
    user_id: str | None = None
    status: str = PROCESSED
    event_id: str | None = None
    forbidden: str | None = None
    invalid: str | None = None  # the validation error, kept across write attempts

    def fail(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    def reset(self) -> None:
        """Forget the outcome of a rolled-back write attempt."""
        self.status, self.event_id, self.error = PROCESSED, None, self.invalid
        if self.identify is not None or self.event.type == "track":
            self.company_id = self.user_id = None


def _keys_or_none(value: object, field: str) -> dict[str, str] | None:
    if value is None or (isinstance(value, Mapping) and not value):
        return None
    return validation.keys(value, field)


def _prepare(event: IncomingEvent, position: int, received_at: datetime, nonce: str) -> _Work:
    """Validate one event without I/O. A problem marks the event failed; it does not raise."""
    given = event.idempotency_key
    key_error = None
    if given is not None and (not isinstance(given, str) or not given or "\x00" in given):
        key_error, given = "idempotency_key must be a non-empty string without NUL characters", None
    shown = given if given is not None else parsing.derived_key(
        event.type, event.body, event.sent_at, received_at, nonce, position
    )
    work = _Work(event, event.scope.environment_id, parsing.stored_key(shown), shown, received_at, received_at)
    if key_error:
        work.fail(key_error)
    try:
        _validate(work, received_at)
    except DomainError as exc:
        work.fail(exc.message)
    work.invalid = work.error
    return work


def _validate(work: _Work, received_at: datetime) -> None:
    event, scope = work.event, work.event.scope
    trusted = parsing.flag(event.trusted_client_clock, "trusted_client_clock")
    backfill = parsing.flag(event.backfill, "backfill")
    if (trusted or backfill) and not scope.is_secret:
        work.forbidden = "backfill and trusted_client_clock events need a secret API key"
    if event.type not in SUPPORTED_TYPES:
        shown = event.type if isinstance(event.type, str) else type(event.type).__name__
        raise InvalidInput(f"event type {shown!r} is not supported; send identify or track", field="type")
    if parsing.has_nul(event.body) or parsing.has_nul(event.raw_event_name):
        event.body = parsing.strip_nul(event.body)  # stored without them, as a failed event
        event.raw_event_name = parsing.strip_nul(event.raw_event_name)  # type: ignore[assignment]
        raise InvalidInput("the event holds NUL characters (\\u0000), which cannot be stored", field="body")
    body = event.body if event.body is not None else {}
    if not isinstance(body, Mapping):
        raise InvalidInput("body must be a JSON object", field="body")

    sent_at = None if event.sent_at is None else parse_timestamp(event.sent_at, "sent_at")
    if trusted or backfill:
        if sent_at is None:
            raise InvalidInput("trusted_client_clock and backfill need sent_at", field="sent_at")
        if sent_at > received_at + MAX_FUTURE:
            raise InvalidInput("sent_at is more than a day in the future", field="sent_at")
        limit = MAX_PAST_BACKFILL if backfill else MAX_PAST_TRUSTED
        if sent_at < received_at - limit:
            raise InvalidInput(
                f"sent_at is more than {limit.days} days in the past"
                + ("" if backfill else "; older events need backfill"), field="sent_at",
            )
        work.captured_at = sent_at
        work.backfill = backfill

    if event.type == "track":
        work.name = parsing.event_name(body.get("event"))
        work.quantity = parsing.quantity(body.get("quantity"))
        if work.quantity < 0 and not scope.is_secret:
            work.forbidden = work.forbidden or "negative quantities need a secret API key"
        work.company_keys = _keys_or_none(body.get("company"), "company")
        work.user_keys = _keys_or_none(body.get("user"), "user")
        if work.company_keys is None and work.user_keys is None:
            raise InvalidInput("track event needs company keys or user keys", field="company")
    elif event.type == "identify":
        company = body.get("company")
        company_keys = company_name = None
        company_traits: dict[str, object] = {}
        if company is not None:
            if not isinstance(company, Mapping):
                raise InvalidInput("identify company must be an object {keys, name, traits}", field="company")
            company_keys = validation.keys(company.get("keys"), "company.keys")
            company_name = validation.name(company.get("name"), "company.name")
            company_traits = validation.trait_map(company.get("traits"), "company.traits")
        user_keys = _keys_or_none(body.get("keys"), "keys")
        if user_keys is None and company_keys is None:
            raise InvalidInput("identify needs keys (user) or company.keys", field="keys")
        work.identify = _Identify(
            user_keys, validation.name(body.get("name")), validation.trait_map(body.get("traits")),
            company_keys, company_name, company_traits,
        )
        work.user_keys, work.company_keys = user_keys, company_keys
    if scope.readonly:
        raise InvalidInput("this API key is read-only; its events are stored as failed")


def _authorize(works: Sequence[_Work]) -> None:
    """Publishable keys may not send backfill/trusted-clock events or negative quantities: the whole
    request is refused before anything is stored. Segment write keys only fail the event."""
    for position, work in enumerate(works):
        if work.forbidden is None:
            continue
        if work.event.scope.key_kind == "segment":
            work.fail(work.forbidden)
            work.invalid = work.error
            continue
        raise Forbidden(f"event {position}: {work.forbidden}")


# --- billing anchors -------------------------------------------------------------------------------


class _AnchorCache:
    """company id → billing anchor (or None). Company changes drop entries; usage changes do not."""

    def __init__(self) -> None:
        self._anchors: dict[str, BillingAnchor | None] = {}
        self._generation = 0
        changes.subscribe(self._invalidate)

    def _invalidate(self, environment_id: str, scope: str, ref_id: str) -> None:
        if scope == changes.COMPANY:
            self._generation += 1
            self._anchors.pop(ref_id, None)
        elif scope == changes.ENVIRONMENT:
            self._generation += 1

    async def get_many(self, company_ids: Iterable[str]) -> dict[str, BillingAnchor | None]:
        found: dict[str, BillingAnchor | None] = {}
        missing = []
        for company_id in company_ids:
            if company_id in self._anchors:
                found[company_id] = self._anchors[company_id]
            else:
                missing.append(company_id)
        if missing:
            generation = self._generation
            loaded = await repository.billing_periods(missing)
            fresh = generation == self._generation
            if fresh and len(self._anchors) > 200_000:
                self._anchors.clear()
            for company_id in missing:
                anchor = BillingAnchor.of(*loaded.get(company_id, (None, None)))
                found[company_id] = anchor
                if fresh:
                    self._anchors[company_id] = anchor
        return found


anchors = _AnchorCache()


# --- last_seen_at throttle --------------------------------------------------------------------------

_last_touched: dict[str, datetime] = {}


def _due_for_touch(entity_ids: Iterable[str], at: datetime) -> list[str]:
    """Entities whose last_seen_at this process has not written within the resolution (1 minute)."""
    if len(_last_touched) > 200_000:
        _last_touched.clear()
    due = []
    for entity_id in entity_ids:
        last = _last_touched.get(entity_id)
        if last is None or at - last >= LAST_SEEN_RESOLUTION:
            due.append(entity_id)
    return due


# --- the service ----------------------------------------------------------------------------------


def _identify_order(work: _Work) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    return (work.env, tuple(sorted((work.company_keys or {}).items())), tuple(sorted((work.user_keys or {}).items())))


def _first_value(keys: Mapping[str, str]) -> str:
    return next(iter(keys.values()))


async def _resolve(works: Sequence[_Work]) -> None:
    """Company and user ids of track events; unknown keys create bare entities (in sorted order, so
    concurrent creators take locks in one order). The upserts record their own change-feed entries."""
    companies: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Scope, dict[str, str], list[_Work]]] = {}
    users: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Scope, dict[str, str], list[_Work]]] = {}
    for work in works:
        if work.error is not None or work.event.type != "track":
            continue
        scope = work.event.scope
        if work.company_keys is not None:
            ident = (work.env, tuple(sorted(work.company_keys.items())))
            entry = companies.get(ident)
            if entry is None:
                companies[ident] = (scope, work.company_keys, [work])
            else:
                entry[2].append(work)
        if work.user_keys is not None:
            ident = (work.env, tuple(sorted(work.user_keys.items())))
            entry = users.get(ident)
            if entry is None:
                users[ident] = (scope, work.user_keys, [work])
            else:
                entry[2].append(work)

    missing = []
    for ident, (scope, keys, group) in companies.items():
        try:
            company_id = await resolver.company_id(scope, keys)
        except DomainError as exc:
            for work in group:
                work.fail(exc.message)
            continue
        if company_id is None:
            missing.append(ident)
        for work in group:
            work.company_id = company_id
    for ident in sorted(missing):
        scope, keys, group = companies[ident]
        try:
            company, _ = await upsert_company(scope, CompanyUpsert(keys=dict(keys), name=_first_value(keys)))
        except DomainError as exc:
            for work in group:
                work.fail(exc.message)
            continue
        for work in group:
            work.company_id = company.id

    missing = []
    for ident, (scope, keys, group) in users.items():
        try:
            user_id = await resolver.user_id(scope, keys)
        except DomainError as exc:
            for work in group:
                work.fail(exc.message)
            continue
        if user_id is None:
            missing.append(ident)
        for work in group:
            work.user_id = user_id
    for ident in sorted(missing):
        scope, keys, group = users[ident]
        group = [w for w in group if w.error is None]
        if not group:
            continue
        company_id = next((w.company_id for w in group if w.company_id), None)
        try:
            user, _ = await upsert_user(
                scope, UserUpsert(keys=dict(keys), name=_first_value(keys), company_id=company_id)
            )
        except DomainError as exc:
            for work in group:
                work.fail(exc.message)
            continue
        for work in group:
            work.user_id = user.id


async def _identify(work: _Work) -> None:
    """Upsert the company and/or user of an identify event and link the membership; a failure rolls
    back this event's writes only (savepoint) and marks it failed."""
    data = work.identify
    assert data is not None
    scope = work.event.scope
    try:
        async with in_transaction():
            if data.company_keys is not None:
                company, _ = await upsert_company(
                    scope, CompanyUpsert(keys=data.company_keys, name=data.company_name, traits=data.company_traits)
                )
                work.company_id = company.id
            if data.user_keys is not None:
                user, _ = await upsert_user(
                    scope, UserUpsert(keys=data.user_keys, name=data.name, traits=data.traits,
                                      company_id=work.company_id),
                )
                work.user_id = user.id
    except DomainError as exc:
        work.company_id = work.user_id = None
        work.fail(exc.message)


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def _event_ids(count: int) -> list[str]:
    """`evt_<ULID>` ids increasing within one write, so stored order is arrival order: one fresh ULID
    keeps its time and first 50 random bits; the last 30 bits count up from a random start."""
    head = ids.new_event_id()[:-6]
    start = secrets.randbits(29)
    pairs = _PAIRS
    return [
        head + pairs[(n >> 20) & 1023] + pairs[(n >> 10) & 1023] + pairs[n & 1023]
        for n in range(start, start + count)
    ]


@dataclass(slots=True)
class Batch:
    """The validated events of one request, ready to be written (possibly together with others)."""

    works: list[_Work]
    received_at: datetime


def prepare(events: Sequence[IncomingEvent], received_at: datetime | None = None) -> Batch:
    """Validate `events` without I/O. Invalid events are marked failed (they are stored as such).
    Raises `Forbidden` when a publishable key sends a backfill/trusted-clock event or a negative
    quantity: then nothing of the request may be stored."""
    received = received_at or utcnow()
    nonce = secrets.token_hex(8)
    works = [_prepare(event, position, received, nonce) for position, event in enumerate(events)]
    _authorize(works)
    return Batch(works, received)


@dataclass(slots=True)
class Written:
    results: list[list[EventResult]]  # per batch, per event
    usage_changes: dict[str, set[str]]  # environment id -> companies and users whose usage changed
    change_batch_ids: list[int]  # the change-feed rows listing them (`changes.record_change_batches`)
    changed_at: datetime


async def ingest(events: Sequence[IncomingEvent], *, received_at: datetime | None = None) -> list[EventResult]:
    """`prepare` and `write` one request's events inside the caller's unit of work, which applies the
    cache invalidations after its commit (the ordinary `changes.record_changes` path)."""
    written = await write([prepare(events, received_at)], deferred_invalidation=False)
    return written.results[0]


async def write(batches: Sequence[Batch], *, deferred_invalidation: bool = True) -> Written:
    """Deduplicate, store and count prepared batches in the caller's transaction, set-based: one
    statement per step whatever the number of events. Inside the transaction the first copy of an
    idempotency key wins (batch order, then position).

    The change-feed rows of the usage changes are written here. With `deferred_invalidation` (the hot
    path) they are one `cache_change_batch` row per environment and the caller, once the transaction has
    committed, passes the result to `apply_usage_changes` to refresh this process's caches; without it
    they go through `changes.record_changes`, which the unit of work applies itself. Other processes
    follow the change feed either way."""
    works = [work for batch in batches for work in batch.works]
    for work in works:
        work.reset()
    now = max(batch.received_at for batch in batches)

    # (a) idempotency keys: the first copy here, then the database decides.
    first: dict[tuple[str, str], _Work] = {}
    for work in works:
        ident = (work.env, work.key)
        if ident in first:
            work.status = DUPLICATE
        else:
            first[ident] = work
    fresh = await repository.insert_idempotency_keys(list(first), now)
    new: list[_Work] = []
    for ident, work in first.items():
        if ident in fresh:
            new.append(work)
        else:
            work.status = DUPLICATE
    usage, batch_ids = await _store(new, now, deferred_invalidation) if new else ({}, [])
    return Written([_results(batch.works) for batch in batches], usage, batch_ids, now)


def apply_usage_changes(written: Written) -> None:
    """After the commit: drop the check snapshots of the entities whose usage changed, in this process."""
    changes.apply_change_batches(changes.USAGE, written.usage_changes, written.change_batch_ids, written.changed_at)


async def _store(
    new: list[_Work], now: datetime, deferred_invalidation: bool
) -> tuple[dict[str, set[str]], list[int]]:
    # companies and users: identifies first (so a track in the same request finds what they create),
    # grouped by entity in a fixed order (concurrent writers lock alike), arrival order kept per entity
    identifies = [w for w in new if w.identify is not None and w.error is None]
    identifies.sort(key=_identify_order)
    for work in identifies:
        await _identify(work)
    await _resolve(new)

    # counter deltas, aggregated per (entity, event name, window starts); the repository expands them
    # to one row per counted window
    counted = [w for w in new if w.error is None and w.quantity != 0 and w.event.type == "track"]
    anchor_of = await anchors.get_many({w.company_id for w in counted if w.company_id})
    deltas: dict[UsageKey, UsageDelta] = {}
    starts_of: dict[tuple[datetime, BillingAnchor | None], tuple[datetime, ...]] = {}
    usage: dict[str, set[str]] = {}
    for work in counted:
        at, quantity = work.captured_at, work.quantity
        for entity_id in (work.company_id, work.user_id):
            if entity_id is None:
                continue
            anchor = anchor_of.get(entity_id) if entity_id == work.company_id else None
            starts = starts_of.get((at, anchor))
            if starts is None:
                starts = starts_of[(at, anchor)] = stored_starts(at, anchor)
            key = (entity_id, work.name, starts)
            delta = deltas.get(key)  # type: ignore[arg-type]
            if delta is None:
                deltas[key] = UsageDelta(work.env, quantity, at, at)  # type: ignore[index]
                changed = usage.get(work.env)
                if changed is None:
                    changed = usage[work.env] = set()
                changed.add(entity_id)
            else:
                delta.value += quantity
                if at < delta.captured_min:
                    delta.captured_min = at
                elif at > delta.captured_max:
                    delta.captured_max = at

    # (b) events
    seen: dict[str, tuple[Scope, set[str], set[str]]] = {}
    rows = []
    for work, event_id in zip(new, _event_ids(len(new)), strict=True):
        work.event_id = event_id
        event = work.event
        if work.error is not None:
            work.status = FAILED
        elif not work.backfill and event.type in ("track", "identify") and (work.company_id or work.user_id):
            entry = seen.get(work.env)
            if entry is None:
                entry = seen[work.env] = (event.scope, set(), set())
            if work.company_id:
                entry[1].add(work.company_id)
            if work.user_id:
                entry[2].add(work.user_id)
        event_type = event.type.replace("\x00", "") if isinstance(event.type, str) else type(event.type).__name__
        rows.append((  # repository.EVENT_COLUMNS
            event_id, work.env, event_type[:20], work.name, event.raw_event_name, work.company_id, work.user_id,
            work.quantity if event.type == "track" else 0, _body(event.body), work.key, event.source,
            work.status, work.error, work.backfill, work.captured_at, work.received_at,
        ))
    await repository.insert_events(rows)

    # (d) last_seen_at, at most once a minute per entity and process
    for scope, company_ids, user_ids in seen.values():
        received = max(w.received_at for w in new)
        due_companies = _due_for_touch(sorted(company_ids), received)
        due_users = _due_for_touch(sorted(user_ids), received)
        if due_companies or due_users:
            await touch_last_seen(scope, due_companies, due_users, received)
            for entity_id in (*due_companies, *due_users):
                _last_touched[entity_id] = received

    # change feed: usage refreshes check snapshots in every process (created entities were recorded by
    # their upsert). One `cache_change_batch` row per environment; `apply_usage_changes` after the commit.
    batch_ids: list[int] = []
    if deferred_invalidation:
        batch_ids = await changes.record_change_batches(changes.USAGE, usage, now)
    else:
        for env, entity_ids in sorted(usage.items()):
            await changes.record_changes(env, changes.USAGE, entity_ids)

    # (c) counters last: their row locks are the most contended, so hold them the shortest time
    await repository.upsert_counters(STORED_WINDOWS, deltas)
    return usage, batch_ids


def _body(body: object) -> object:
    return {} if body is None else body


def _results(works: Sequence[_Work]) -> list[EventResult]:
    return [
        EventResult(
            work.status, work.shown_key, work.event_id if work.status != DUPLICATE else None,
            work.error if work.status == FAILED else None, work.captured_at,
        )
        for work in works
    ]


__all__ = [
    "Batch", "EventResult", "IncomingEvent", "Written", "apply_usage_changes", "ingest", "prepare", "write",
]
