"""Read side of companies and users: batch reads for loaders and check snapshots, filtered lists."""

from collections import defaultdict
from collections.abc import Sequence

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from domain.companies import repository
from domain.companies.definitions import stored_of
from domain.companies.models import Company, TraitDefinition, User
from domain.companies.repository import COMPANY, USER, EntityKind
from domain.companies.traits import StoredTrait, coerce_trait
from domain.entitlements.models import CompanyPlan
from domain.scope import Scope


async def _traits(
    scope: Scope, kind: EntityKind, ids: Sequence[str]
) -> dict[str, dict[str, tuple[TraitDefinition, StoredTrait]]]:
    result: dict[str, dict[str, tuple[TraitDefinition, StoredTrait]]] = {i: {} for i in ids}
    if ids:
        rows = await repository.trait_values(scope, kind).filter(
            **{f"{kind.owner_field}__in": list(ids)}).select_related("definition")
        for row in rows:
            result[getattr(row, kind.owner_field)][row.definition.name] = (row.definition, stored_of(row))
    return result


async def _keys(scope: Scope, kind: EntityKind, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {i: {} for i in ids}
    if ids:
        rows = await repository.keys(scope, kind).filter(**{f"{kind.owner_field}__in": list(ids)}).order_by(
            "created_at", "key").values_list(kind.owner_field, "key", "value")
        for owner, key, value in rows:
            result[owner][key] = value
    return result


async def company_traits(
    scope: Scope, company_ids: Sequence[str]
) -> dict[str, dict[str, tuple[TraitDefinition, StoredTrait]]]:
    """company id → trait name → (definition, value), one query; every requested id is present."""
    return await _traits(scope, COMPANY, company_ids)


async def user_traits(
    scope: Scope, user_ids: Sequence[str]
) -> dict[str, dict[str, tuple[TraitDefinition, StoredTrait]]]:
    return await _traits(scope, USER, user_ids)


async def company_keys(scope: Scope, company_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """company id → key name → value, one query; every requested id is present."""
    return await _keys(scope, COMPANY, company_ids)


async def user_keys(scope: Scope, user_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    return await _keys(scope, USER, user_ids)


async def member_counts(scope: Scope, company_ids: Sequence[str]) -> dict[str, int]:
    rows = await repository.memberships(scope).filter(company_id__in=list(company_ids)).annotate(
        n=Count("id")).group_by("company_id").values_list("company_id", "n")
    counts = dict.fromkeys(company_ids, 0)
    counts.update(dict(rows))
    return counts


async def company_list(
    scope: Scope, search: str | None = None, key: tuple[str, str] | None = None,
    trait: tuple[str, object] | None = None, plan_id: str | None = None,
) -> QuerySet[Company]:
    """Companies filtered by name (contains, case-insensitive), a key pair, a trait value or a plan
    (base or add-on). A trait that does not exist matches nothing; a value not fitting its type is refused."""
    query = repository.companies(scope)
    if search:
        query = query.filter(name__icontains=search)
    if key is not None:
        query = query.filter(id__in=Subquery(
            repository.keys(scope, COMPANY).filter(key=key[0], value=key[1]).values("company_id")))
    if trait is not None:
        query = await _trait_filter(scope, query, trait[0], trait[1])
    if plan_id:
        query = query.filter(id__in=Subquery(
            CompanyPlan.filter(environment_id=scope.environment_id, plan_id=plan_id).values("company_id")))
    return query


async def _trait_filter(scope: Scope, query: QuerySet, name: str, value: object) -> QuerySet:
    definition = await repository.definitions(scope, "company").get_or_none(name=name)
    if definition is None:
        return query.filter(id__in=[])
    stored = coerce_trait(definition.trait_type, value, name)
    column, wanted = next((f, v) for f, v in vars(stored).items() if v is not None)
    return query.filter(id__in=Subquery(
        repository.trait_values(scope, COMPANY).filter(definition_id=definition.id, **{column: wanted})
        .values("company_id")))


async def user_list(scope: Scope, search: str | None = None, company_id: str | None = None) -> QuerySet[User]:
    query = repository.users(scope)
    if search:
        query = query.filter(name__icontains=search)
    if company_id:
        query = query.filter(id__in=Subquery(repository.memberships(scope).filter(company_id=company_id)
                                             .values("user_id")))
    return query


async def company_user_ids(scope: Scope, company_ids: Sequence[str], first: int) -> dict[str, list[str]]:
    """The newest `first` member ids of each company (two narrow columns, sliced here)."""
    result: dict[str, list[str]] = defaultdict(list)
    rows = await repository.memberships(scope).filter(company_id__in=list(company_ids)).order_by(
        "-user_id").values_list("company_id", "user_id")
    for company_id, user_id in rows:
        if len(result[company_id]) < first:
            result[company_id].append(user_id)
    return result
