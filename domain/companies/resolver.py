"""Hot-path key → id resolution for event ingestion and flag checks.

Positive results are cached per (environment, key name, value); a company or user change drops every
entry pointing at that entity, so a remapped key is re-resolved. Unknown keys are not cached: the
entity may be created at any moment."""

from collections.abc import Mapping

from domain.cache import changes
from domain.companies import entities, validation
from domain.companies.repository import COMPANY, USER, EntityKind
from domain.scope import Scope
from domain.settings import get_settings

_Entry = tuple[str, str, str, str]  # environment id, change scope, key name, value
_Owner = tuple[str, str, str]  # environment id, change scope, entity id


class KeyResolver:
    def __init__(self, max_entries: int | None = None) -> None:
        self.max_entries = max_entries or get_settings().company_cache_size * 4
        self._ids: dict[_Entry, str] = {}
        self._by_owner: dict[_Owner, set[_Entry]] = {}
        # Bumped by every invalidation of an environment: a lookup that raced with one does not store
        # what it read, since it may predate the change.
        self._generation: dict[str, int] = {}
        changes.subscribe(self._invalidate)

    async def company_id(self, scope: Scope, keys: Mapping[str, str]) -> str | None:
        return await self._lookup(scope, COMPANY, keys)

    async def user_id(self, scope: Scope, keys: Mapping[str, str]) -> str | None:
        return await self._lookup(scope, USER, keys)

    def clear(self) -> None:
        self._ids.clear()
        self._by_owner.clear()

    async def _lookup(self, scope: Scope, kind: EntityKind, keys: Mapping[str, str]) -> str | None:
        checked = validation.keys(keys)
        env = scope.environment_id
        hits = {self._ids.get((env, kind.change_scope, k, v)) for k, v in checked.items()}
        if len(hits) == 1 and None not in hits:
            return hits.pop()
        generation = self._generation.get(env, 0)
        found = await entities.match(scope, kind, checked)
        if found.entity is None:
            return None
        if generation == self._generation.get(env, 0):
            self._store(env, kind.change_scope, found.entity.id, found.keys)
        return found.entity.id

    def _store(self, env: str, scope: str, entity_id: str, keys: Mapping[str, str]) -> None:
        if not keys:
            return  # matched by id, not by keys
        if len(self._ids) >= self.max_entries:
            self.clear()
        entries = self._by_owner.setdefault((env, scope, entity_id), set())
        for key, value in keys.items():
            entry = (env, scope, key, value)
            previous = self._ids.get(entry)
            if previous is not None and previous != entity_id:
                self._by_owner.get((env, scope, previous), set()).discard(entry)
            self._ids[entry] = entity_id
            entries.add(entry)

    def _invalidate(self, environment_id: str, scope: str, ref_id: str) -> None:
        if scope not in (changes.COMPANY, changes.USER):
            return
        self._generation[environment_id] = self._generation.get(environment_id, 0) + 1
        for entry in self._by_owner.pop((environment_id, scope, ref_id), ()):
            self._ids.pop(entry, None)


resolver = KeyResolver()
