"""Companies, users, their keys and traits, memberships and trait definitions (product model §1.5-1.7).

The public API of the area; the shared key/upsert machinery lives in `entities`, trait definitions in
`definitions`, batch reads and lists in `queries` (re-exported here)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from domain.cache import changes
from domain.companies import entities, repository, validation
from domain.companies.definitions import (
    apply_trait_writes,
    delete_trait_definition,
    get_or_create_trait_definition,
    get_trait_definition,
    list_trait_definitions,
    plan_trait_writes,
    update_trait_definition,
)
from domain.companies.entities import Upsert, describe
from domain.companies.models import Company, CompanyMembership, TraitDefinition, User
from domain.companies.queries import (
    company_keys,
    company_list,
    company_traits,
    company_user_ids,
    member_counts,
    user_keys,
    user_list,
    user_traits,
)
from domain.companies.repository import COMPANY, USER, EntityKind
from domain.companies.traits import coerce_trait
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope

__all__ = [
    "MISSING", "CompanyUpsert", "UserUpsert", "company_keys", "company_list", "company_traits", "company_user_ids",
    "delete_company", "delete_membership", "delete_trait_definition", "delete_user", "ensure_membership", "get_company",
    "get_or_create_trait_definition", "get_trait_definition", "get_user", "list_trait_definitions",
    "member_counts", "resolve_company", "resolve_user", "set_company_trait", "set_user_trait", "touch_last_seen",
    "update_trait_definition", "upsert_company", "upsert_user", "user_keys", "user_list", "user_traits",
]


class _Missing(Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING


@dataclass
class CompanyUpsert:
    keys: dict[str, str]
    name: str | None = None
    traits: dict[str, object] | None = None
    id: str | None = None
    last_seen_at: datetime | None = None
    update_only: bool = False
    prevent_key_remap: bool = False
    remove_keys: list[str] | None = None


@dataclass
class UserUpsert:
    keys: dict[str, str]
    name: str | None = None
    traits: dict[str, object] | None = None
    id: str | None = None
    last_seen_at: datetime | None = None
    update_only: bool = False
    remove_keys: list[str] | None = None
    # Membership targets: `company` (keys, created when unknown) takes priority over `companies`;
    # `company_id` over `company_ids`. The keys group and the id group add up.
    company: dict[str, str] | None = None
    companies: list[dict[str, str]] | None = None
    company_id: str | None = None
    company_ids: list[str] | None = None


async def upsert_company(scope: Scope, data: CompanyUpsert) -> tuple[Company, bool]:
    upsert = Upsert.validated(
        data.keys, data.name, data.traits, data.id, data.last_seen_at, data.update_only, data.prevent_key_remap,
        data.remove_keys,
    )
    return await entities.upsert(scope, COMPANY, upsert)


async def upsert_user(scope: Scope, data: UserUpsert) -> tuple[User, bool]:
    upsert = Upsert.validated(
        data.keys, data.name, data.traits, data.id, data.last_seen_at, data.update_only, False, data.remove_keys
    )
    targets, to_create = await _membership_targets(scope, data)
    user, created = await entities.upsert(scope, USER, upsert)
    if to_create is not None:
        company, _ = await entities.upsert(scope, COMPANY, Upsert(keys=to_create))
        targets.append(company.id)
    if targets:
        await CompanyMembership.bulk_create(
            [CompanyMembership(environment_id=scope.environment_id, company_id=c, user_id=user.id)
             for c in dict.fromkeys(targets)],
            ignore_conflicts=True,
        )
    return user, created


async def _membership_targets(scope: Scope, data: UserUpsert) -> tuple[list[str], dict[str, str] | None]:
    """Company ids to join, and the keys of a `company` to create first. Read-only: unknown targets
    other than `company` fail before anything is written."""
    ids: list[str] = []
    to_create = None
    if data.company:
        keys = validation.keys(data.company, "company")
        company = await resolve_company(scope, keys)
        if company is None:
            to_create = keys
        else:
            ids.append(company.id)
    else:
        for item in data.companies or []:
            keys = validation.keys(item, "companies")
            company = await resolve_company(scope, keys)
            if company is None:
                raise NotFound(f"no company matches keys {describe(keys)}", field="companies")
            ids.append(company.id)
    wanted = [data.company_id] if data.company_id else list(data.company_ids or [])
    if wanted:
        found = set(await repository.companies(scope).filter(id__in=wanted).values_list("id", flat=True))
        missing = [c for c in wanted if c not in found]
        if missing:
            field = "company_id" if data.company_id else "company_ids"
            raise NotFound(f"no company with id {missing[0]!r}", field=field)
        ids.extend(wanted)
    return ids, to_create


async def resolve_company(scope: Scope, keys: Mapping[str, str]) -> Company | None:
    return await entities.resolve(scope, COMPANY, keys)


async def resolve_user(scope: Scope, keys: Mapping[str, str]) -> User | None:
    return await entities.resolve(scope, USER, keys)


async def get_company(scope: Scope, company_id: str) -> Company:
    return await entities.get(scope, COMPANY, company_id)


async def get_user(scope: Scope, user_id: str) -> User:
    return await entities.get(scope, USER, user_id)


async def delete_company(scope: Scope, company_id: str) -> Company:
    return await _delete(scope, COMPANY, company_id)


async def delete_user(scope: Scope, user_id: str) -> User:
    return await _delete(scope, USER, user_id)


async def _delete(scope: Scope, kind: EntityKind, entity_id: str) -> Any:
    entity = await entities.get(scope, kind, entity_id)
    await entity.delete()
    await changes.record_change(scope.environment_id, kind.change_scope, entity.id)
    return entity


async def set_company_trait(
    scope: Scope, keys: Mapping[str, str], trait: str, *, set_value: object = MISSING, incr: int | None = None,
    update_only: bool = False,
) -> Company:
    return await _set_trait(scope, COMPANY, keys, trait, set_value, incr, update_only)


async def set_user_trait(
    scope: Scope, keys: Mapping[str, str], trait: str, *, set_value: object = MISSING, incr: int | None = None,
    update_only: bool = False,
) -> User:
    return await _set_trait(scope, USER, keys, trait, set_value, incr, update_only)


async def _set_trait(
    scope: Scope, kind: EntityKind, keys: Mapping[str, str], trait: str, set_value: object, incr: int | None,
    update_only: bool,
) -> Any:
    """`set` overwrites the value; `incr` adds a signed integer atomically. An unknown entity is created
    from `keys` unless `update_only`."""
    if (set_value is MISSING) == (incr is None):
        raise InvalidInput("give exactly one of set or incr", field="set")
    validation.trait_name(trait)
    checked = validation.keys(keys)
    definition: TraitDefinition | None = None
    writes = []
    if incr is not None:
        if isinstance(incr, bool) or not isinstance(incr, int):
            raise InvalidInput("incr must be an integer", field="incr")
        definition = await repository.definitions(scope, kind.name).get_or_none(name=trait)
        trait_type = definition.trait_type if definition else "number"
        if trait_type not in ("number", "currency"):
            raise InvalidInput(f"trait {trait!r} is a {trait_type}; incr needs a number", field="incr")
        coerce_trait(trait_type, incr, trait)  # range check
    else:
        writes = await plan_trait_writes(scope, kind, {trait: set_value})
    entity = await entities.resolve(scope, kind, checked)
    if entity is None:
        if update_only:
            raise NotFound(f"no {kind.name} matches keys {describe(checked)} (update_only)", field="keys")
        entity, _ = await entities.upsert(scope, kind, Upsert(keys=checked))  # records the change
    else:
        # Before the trait row: the lock order of every entity write (see entities.upsert).
        await changes.record_change(scope.environment_id, kind.change_scope, entity.id)
    if incr is None:
        await apply_trait_writes(scope, kind, entity.id, writes)
    else:
        if definition is None:
            definition = await get_or_create_trait_definition(scope, kind.name, trait, "number")
        await _increment(scope, kind, entity.id, definition, incr)
    return entity


async def _increment(scope: Scope, kind: EntityKind, owner_id: str, definition: TraitDefinition, incr: int) -> None:
    """UPDATE … SET value_number = value_number + incr; on a miss insert the row, and if a
    concurrent writer inserted it first, fall back to the update (its row is committed by then)."""
    row = repository.trait_values(scope, kind).filter(**{kind.owner_field: owner_id}, definition_id=definition.id)
    plus = {"value_number": F("value_number") + incr}
    if await row.update(**plus):
        return
    try:
        async with in_transaction():
            await kind.trait_model.create(
                environment_id=scope.environment_id, definition_id=definition.id, value_number=incr,
                **{kind.owner_field: owner_id},
            )
    except IntegrityError:
        await row.update(**plus)


async def ensure_membership(scope: Scope, company_id: str, user_id: str) -> tuple[CompanyMembership, bool]:
    """Get-or-create the membership of a user in a company of this environment."""
    await get_company(scope, company_id)
    await get_user(scope, user_id)
    membership, created = await CompanyMembership.get_or_create(
        environment_id=scope.environment_id, company_id=company_id, user_id=user_id
    )
    if created:
        await changes.record_change(scope.environment_id, changes.USER, user_id)
    return membership, created


async def delete_membership(scope: Scope, membership_id: str) -> CompanyMembership:
    membership = await repository.memberships(scope).get_or_none(id=membership_id)
    if membership is None:
        raise NotFound(f"no company membership with id {membership_id!r}", field="id")
    await membership.delete()
    await changes.record_change(scope.environment_id, changes.USER, membership.user_id)  # type: ignore[attr-defined]
    return membership


async def touch_last_seen(scope: Scope, company_ids: Sequence[str], user_ids: Sequence[str], at: datetime) -> None:
    """Bump last_seen_at (identify/track). Not a change a check can see, so no cache invalidation."""
    if company_ids:
        await repository.companies(scope).filter(id__in=list(set(company_ids))).update(last_seen_at=at)
    if user_ids:
        await repository.users(scope).filter(id__in=list(set(user_ids))).update(last_seen_at=at)
