"""Scoped querysets and lookups of the catalog. Every query is filtered by the caller's environment,
so an id from another environment is simply not found."""

from collections.abc import Iterable
from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from domain.catalog.models import Feature, Flag, Plan, PlanEntitlement
from domain.companies.models import Company, TraitDefinition
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope

M = TypeVar("M", bound=Model)

USAGE_TRAIT_TYPES = ("number", "currency")


def scoped(model: type[M], scope: Scope) -> QuerySet[M]:
    return model.filter(environment_id=scope.environment_id)


async def _get(model: type[M], scope: Scope, id: str, what: str, field: str) -> M:
    row = await scoped(model, scope).get_or_none(id=id) if isinstance(id, str) else None
    if row is None:
        raise NotFound(f"no {what} with id {id!r} in this environment", field=field)
    return row


async def get_feature(scope: Scope, id: str, field: str = "id") -> Feature:
    return await _get(Feature, scope, id, "feature", field)


async def get_flag(scope: Scope, id: str, field: str = "id") -> Flag:
    return await _get(Flag, scope, id, "flag", field)


async def get_plan(scope: Scope, id: str, field: str = "id") -> Plan:
    return await _get(Plan, scope, id, "plan", field)


async def get_plan_entitlement(scope: Scope, id: str, field: str = "id") -> PlanEntitlement:
    return await _get(PlanEntitlement, scope, id, "plan entitlement", field)


async def get_company(scope: Scope, id: str) -> Company:
    # Imported here: the companies area may import the catalog, never the other way round at import time.
    from domain.companies import service as companies

    return await companies.get_company(scope, id)


async def flag_of_feature(scope: Scope, feature_id: str) -> Flag:
    return await scoped(Flag, scope).get(feature_id=feature_id)


async def feature_by_key(scope: Scope, key: str) -> Feature | None:
    flag = await scoped(Flag, scope).filter(key=key, feature_id__isnull=False).first()
    return await scoped(Feature, scope).get_or_none(id=flag.feature_id) if flag else None  # type: ignore[attr-defined]


async def key_taken(scope: Scope, key: str, except_flag_id: str | None = None) -> bool:
    query = scoped(Flag, scope).filter(key=key)
    if except_flag_id:
        query = query.exclude(id=except_flag_id)
    return await query.exists()


async def plan_name_taken(scope: Scope, name: str, except_plan_id: str | None = None) -> bool:
    query = scoped(Plan, scope).filter(name=name)
    if except_plan_id:
        query = query.exclude(id=except_plan_id)
    return await query.exists()


async def missing_ids(model: type[Model], scope: Scope, ids: Iterable[str]) -> list[str]:
    """The ids among `ids` that are not rows of `model` in this environment (one query)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = set(await scoped(model, scope).filter(id__in=wanted).values_list("id", flat=True))
    return [i for i in wanted if i not in found]


async def get_trait_definition(scope: Scope, id: str, field: str) -> TraitDefinition:
    row = await scoped(TraitDefinition, scope).get_or_none(id=id) if isinstance(id, str) else None
    if row is None:
        raise InvalidInput(f"no trait definition with id {id!r} in this environment", field=field)
    return row


def require_usage_trait(trait: TraitDefinition, field: str) -> TraitDefinition:
    """A trait that holds a quantity (usage or limit) must be a company trait of a numeric type."""
    if trait.entity_type != "company":
        raise InvalidInput(
            f"trait {trait.name!r} is a {trait.entity_type} trait; a company trait is needed", field=field
        )
    if trait.trait_type not in USAGE_TRAIT_TYPES:
        raise InvalidInput(
            f"trait {trait.name!r} is of type {trait.trait_type}; a number trait is needed", field=field
        )
    return trait


async def company_trait_by_name(scope: Scope, name: str) -> TraitDefinition | None:
    return await scoped(TraitDefinition, scope).get_or_none(entity_type="company", name=name)


async def get_or_create_company_trait(scope: Scope, name: str) -> TraitDefinition:
    from domain.companies import service as companies

    return await companies.get_or_create_trait_definition(scope, "company", name, "number")


# ---------------------------------------------------------------- list queries (unevaluated, for pagination)


def features_query(scope: Scope, *, feature_type: str | None = None, search: str | None = None) -> QuerySet[Feature]:
    query = scoped(Feature, scope)
    if feature_type is not None:
        query = query.filter(feature_type=feature_type)
    return query.filter(name__icontains=search) if search else query


def flags_query(scope: Scope, *, feature_id: str | None = None, search: str | None = None) -> QuerySet[Flag]:
    query = scoped(Flag, scope)
    if feature_id is not None:
        query = query.filter(feature_id=feature_id)
    return query.filter(name__icontains=search) if search else query


def plans_query(scope: Scope, *, plan_type: str | None = None, search: str | None = None) -> QuerySet[Plan]:
    query = scoped(Plan, scope)
    if plan_type is not None:
        query = query.filter(plan_type=plan_type)
    return query.filter(name__icontains=search) if search else query


def plan_entitlements_query(
    scope: Scope, *, plan_id: str | None = None, feature_id: str | None = None
) -> QuerySet[PlanEntitlement]:
    query = scoped(PlanEntitlement, scope)
    if plan_id is not None:
        query = query.filter(plan_id=plan_id)
    return query.filter(feature_id=feature_id) if feature_id is not None else query
