"""Key resolution and upsert, shared by companies and users (product model §1.5, §1.6)."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain.cache import changes
from domain.companies import repository, validation
from domain.companies.definitions import apply_trait_writes, plan_trait_writes
from domain.companies.repository import EntityKind
from domain.errors import InvalidInput, KeyConflict, NotFound
from domain.scope import Scope


@dataclass
class Upsert:
    """Normalised upsert input of either side."""

    keys: dict[str, str]
    name: str | None = None
    traits: dict[str, object] = field(default_factory=dict)
    id: str | None = None
    last_seen_at: datetime | None = None
    update_only: bool = False
    prevent_key_remap: bool = False
    remove_keys: list[str] = field(default_factory=list)

    @classmethod
    def validated(
        cls, keys: object, name: object = None, traits: object = None, id: str | None = None,
        last_seen_at: datetime | None = None, update_only: bool = False, prevent_key_remap: bool = False,
        remove_keys: Sequence[str] | None = None,
    ) -> "Upsert":
        checked = validation.keys(keys)
        return cls(
            keys=checked, name=validation.name(name), traits=validation.trait_map(traits), id=id,
            last_seen_at=validation.timestamp(last_seen_at), update_only=update_only,
            prevent_key_remap=prevent_key_remap, remove_keys=validation.remove_keys(remove_keys, checked),
        )


def pairs_filter(keys: Mapping[str, str]) -> Q:
    return Q(*(Q(key=k, value=v) for k, v in keys.items()), join_type="OR")


def describe(keys: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in keys.items())


@dataclass(frozen=True)
class Match:
    entity: Any  # Company | User | None
    keys: dict[str, str]  # all keys of the entity when matched by key; empty when matched by id


async def match(scope: Scope, kind: EntityKind, keys: Mapping[str, str]) -> Match:
    """§1.5 resolution: the pairs are looked up as keys whatever their names; only when none matches
    is a value with the id prefix taken as an id. Several entities matching is a KeyConflict.
    One query reads the matched entities with all their keys (the resolver caches them)."""
    matched = repository.keys(scope, kind).filter(pairs_filter(keys)).values(kind.owner_field)
    rows = await repository.keys(scope, kind).filter(
        **{f"{kind.owner_field}__in": Subquery(matched)}).select_related(kind.name)
    owners = {getattr(row, kind.owner_field) for row in rows}
    if len(owners) > 1:
        raise KeyConflict(f"keys match more than one {kind.name}: {', '.join(sorted(owners))}", field="keys")
    if rows:
        return Match(getattr(rows[0], kind.name), {row.key: row.value for row in rows})
    ids = sorted({v for v in keys.values() if v.startswith(kind.id_prefix)})
    if not ids:
        return Match(None, {})
    found = await repository.entities(scope, kind).filter(id__in=ids)
    if len(found) > 1:
        raise KeyConflict(f"keys match more than one {kind.name}: {', '.join(e.id for e in found)}", field="keys")
    return Match(found[0] if found else None, {})


async def resolve(scope: Scope, kind: EntityKind, keys: Mapping[str, str]) -> Any:
    return (await match(scope, kind, validation.keys(keys))).entity


async def get(scope: Scope, kind: EntityKind, entity_id: str) -> Any:
    entity = await repository.entities(scope, kind).get_or_none(id=entity_id)
    if entity is None:
        raise NotFound(f"no {kind.name} with id {entity_id!r}", field="id")
    return entity


async def upsert(scope: Scope, kind: EntityKind, data: Upsert) -> tuple[Any, bool]:
    """Create or update by keys. Everything is checked before the first write. A concurrent create of
    the same keys loses on the unique key constraint; the savepoint is then retried as an update."""
    for attempt in range(2):
        try:
            async with in_transaction():
                return await _upsert_once(scope, kind, data)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _upsert_once(scope: Scope, kind: EntityKind, data: Upsert) -> tuple[Any, bool]:
    target = await get(scope, kind, data.id) if data.id else await resolve(scope, kind, data.keys)
    if target is None and data.update_only:
        raise NotFound(f"no {kind.name} matches keys {describe(data.keys)} (update_only)", field="keys")
    # A pair that named the entity by its id is not a key of it.
    wanted = {k: v for k, v in data.keys.items() if target is None or v != target.id}
    plan = await _plan_keys(scope, kind, target, wanted, data) if target is not None else None
    trait_writes = await plan_trait_writes(scope, kind, data.traits)

    # Lock order, the same on every write path of an entity so concurrent writers cannot deadlock:
    # entity row, its cache_change row (record_changes), then its key and trait rows.
    created = target is None
    if target is None:
        target = await kind.model.create(
            environment_id=scope.environment_id, name=data.name or "", last_seen_at=data.last_seen_at
        )
        await kind.key_model.bulk_create([
            kind.key_model(environment_id=scope.environment_id, key=k, value=v, **{kind.owner_field: target.id})
            for k, v in wanted.items()
        ])
        await changes.record_change(scope.environment_id, kind.change_scope, target.id)
    else:
        if data.name is not None:
            target.name = data.name
        if data.last_seen_at is not None:
            target.last_seen_at = data.last_seen_at
        await target.save(update_fields=["name", "last_seen_at", "updated_at"])
        await changes.record_changes(scope.environment_id, kind.change_scope, [target.id, *plan.donors])  # type: ignore[union-attr]
        await plan.apply(scope, kind, target.id)  # type: ignore[union-attr]
    await apply_trait_writes(scope, kind, target.id, trait_writes)
    return target, created


@dataclass
class _KeyPlan:
    delete_ids: list[str]
    move_ids: list[str]
    donors: set[str]
    value_updates: list[Any]  # key rows with a new value
    create: dict[str, str]

    async def apply(self, scope: Scope, kind: EntityKind, owner_id: str) -> None:
        query = repository.keys(scope, kind)
        if self.delete_ids:
            await query.filter(id__in=self.delete_ids).delete()
        if self.move_ids:
            await query.filter(id__in=self.move_ids).update(**{kind.owner_field: owner_id})
        for row in self.value_updates:
            await row.save(update_fields=["value", "updated_at"])
        if self.create:
            await kind.key_model.bulk_create([
                kind.key_model(environment_id=scope.environment_id, key=k, value=v, **{kind.owner_field: owner_id})
                for k, v in self.create.items()
            ])


async def _plan_keys(scope: Scope, kind: EntityKind, target: Any, wanted: dict[str, str], data: Upsert) -> _KeyPlan:
    owner_filter = Q(**{kind.owner_field: target.id})
    rows = await repository.keys(scope, kind).filter(pairs_filter(wanted) | owner_filter if wanted else owner_filter)
    current = {row.key: row for row in rows if getattr(row, kind.owner_field) == target.id}
    moves = [row for row in rows if getattr(row, kind.owner_field) != target.id and wanted.get(row.key) == row.value]
    donors = {getattr(row, kind.owner_field) for row in moves}
    if moves and data.prevent_key_remap:
        row = moves[0]
        raise KeyConflict(
            f"key {row.key}={row.value!r} belongs to {kind.name} {getattr(row, kind.owner_field)}; "
            "prevent_key_remap refuses to move it", field="keys",
        )
    if donors:
        await _check_donors_keep_a_key(scope, kind, moves)
    moved = {row.key for row in moves}
    remaining = (set(current) - set(data.remove_keys)) | set(wanted)
    if not remaining:
        raise InvalidInput(f"a {kind.name} must keep at least one key", field="remove_keys")
    delete_ids = [current[k].id for k in data.remove_keys if k in current]
    delete_ids += [current[k].id for k in moved if k in current]
    value_updates = []
    for k, v in wanted.items():
        row = current.get(k)
        if row is not None and k not in moved and row.value != v:
            row.value = v
            value_updates.append(row)
    create = {k: v for k, v in wanted.items() if k not in current and k not in moved}
    return _KeyPlan(delete_ids, [row.id for row in moves], donors, value_updates, create)


async def _check_donors_keep_a_key(scope: Scope, kind: EntityKind, moves: Sequence[Any]) -> None:
    taken = Counter(getattr(row, kind.owner_field) for row in moves)
    counts = await (
        repository.keys(scope, kind).filter(**{f"{kind.owner_field}__in": list(taken)})
        .annotate(n=Count("id")).group_by(kind.owner_field).values_list(kind.owner_field, "n")
    )
    for donor, total in counts:
        if total - taken[donor] < 1:
            raise KeyConflict(
                f"moving its last key would leave {kind.name} {donor} without keys; add another key to it first",
                field="keys",
            )
