"""In-process snapshot cache, kept fresh by the change feed (domain/cache/changes.py).

A load that overlaps an invalidation must not store what it read: each key has a generation that
invalidation bumps, and a loader stores its result only if the generation it started under is still
current. Company and user entries are LRU-bounded."""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from domain.cache import changes
from domain.checks.snapshot import (
    CompanySnapshot,
    EnvironmentSnapshot,
    UserSnapshot,
    load_company,
    load_environment,
    load_user,
)
from domain.settings import get_settings

T = TypeVar("T")


class _Generations:
    def __init__(self) -> None:
        self._gen: dict[str, int] = {}

    def current(self, key: str) -> int:
        return self._gen.get(key, 0)

    def bump(self, key: str) -> None:
        self._gen[key] = self._gen.get(key, 0) + 1


class _Lru(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, T] = OrderedDict()
        self.generations = _Generations()
        self._inflight: dict[str, asyncio.Future[T | None]] = {}

    def get(self, key: str) -> T | None:
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
        return item

    def drop(self, key: str) -> None:
        self.items.pop(key, None)
        self.generations.bump(key)

    def clear(self) -> None:
        for key in list(self.items):
            self.drop(key)

    async def get_or_load(self, key: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        item = self.get(key)
        if item is not None:
            return item
        pending = self._inflight.get(key)
        if pending is not None:  # collapse concurrent misses for the same key into one load
            return await asyncio.shield(pending)
        generation = self.generations.current(key)
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            item = await load()
            future.set_result(item)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._inflight[key]
        if item is not None and self.generations.current(key) == generation:
            self.items[key] = item
            if len(self.items) > self.capacity:
                self.items.popitem(last=False)
        return item


class SnapshotCache:
    def __init__(self, capacity: int | None = None) -> None:
        capacity = capacity or get_settings().company_cache_size
        self.environments: _Lru[EnvironmentSnapshot] = _Lru(10_000)
        self.companies: _Lru[CompanySnapshot] = _Lru(capacity)
        self.users: _Lru[UserSnapshot] = _Lru(capacity)
        changes.subscribe(self.invalidate)

    def invalidate(self, environment_id: str, scope: str, ref_id: str) -> None:
        if scope == changes.ENVIRONMENT:
            self.environments.drop(environment_id)
            # Company snapshots embed compiled catalog rules: drop this environment's.
            for key, snapshot in list(self.companies.items.items()):
                if snapshot.env.environment_id == environment_id:
                    self.companies.drop(key)
        elif scope == changes.COMPANY:
            self.companies.drop(ref_id)
        elif scope == changes.USER:
            self.users.drop(ref_id)
        elif scope == changes.USAGE:  # ref_id is a company or a user
            self.companies.drop(ref_id)
            self.users.drop(ref_id)

    async def environment(self, environment_id: str) -> EnvironmentSnapshot:
        snapshot = await self.environments.get_or_load(environment_id, lambda: load_environment(environment_id))
        assert snapshot is not None
        return snapshot

    async def company(self, env: EnvironmentSnapshot, company_id: str) -> CompanySnapshot | None:
        cached = self.companies.get(company_id)
        if cached is not None:
            if cached.env is env:
                return cached
            self.companies.drop(company_id)  # built against an older catalog
        return await self.companies.get_or_load(company_id, lambda: load_company(env, company_id))

    async def user(self, environment_id: str, user_id: str) -> UserSnapshot | None:
        return await self.users.get_or_load(user_id, lambda: load_user(environment_id, user_id))


snapshots = SnapshotCache()
