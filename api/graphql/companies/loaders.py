"""Batch loaders of the companies area: one query per relation per request, scoped to the environment."""

from collections import defaultdict
from collections.abc import Sequence

from domain.companies import repository, service
from domain.companies.models import Company, CompanyMembership, User
from domain.companies.traits import trait_json
from domain.entitlements.models import BASE_SLOT, CompanyOverride, CompanyPlan
from domain.scope import Scope


def _json_traits(found: dict[str, dict], ids: Sequence[str]) -> list[dict[str, object]]:
    return [{name: trait_json(d.trait_type, stored) for name, (d, stored) in found[i].items()} for i in ids]


async def load_company_keys(scope: Scope, ids: Sequence[str]) -> list[dict[str, str]]:
    found = await service.company_keys(scope, ids)
    return [found[i] for i in ids]


async def load_user_keys(scope: Scope, ids: Sequence[str]) -> list[dict[str, str]]:
    found = await service.user_keys(scope, ids)
    return [found[i] for i in ids]


async def load_company_traits(scope: Scope, ids: Sequence[str]) -> list[dict[str, object]]:
    return _json_traits(await service.company_traits(scope, ids), ids)


async def load_user_traits(scope: Scope, ids: Sequence[str]) -> list[dict[str, object]]:
    return _json_traits(await service.user_traits(scope, ids), ids)


async def load_member_counts(scope: Scope, ids: Sequence[str]) -> list[int]:
    counts = await service.member_counts(scope, ids)
    return [counts[i] for i in ids]


async def load_companies(scope: Scope, ids: Sequence[str]) -> list[Company | None]:
    found = {c.id: c for c in await repository.companies(scope).filter(id__in=list(ids))}
    return [found.get(i) for i in ids]


async def load_users(scope: Scope, ids: Sequence[str]) -> list[User | None]:
    found = {u.id: u for u in await repository.users(scope).filter(id__in=list(ids))}
    return [found.get(i) for i in ids]


async def load_company_users(scope: Scope, keys: Sequence[tuple[str, int]]) -> list[list[User]]:
    """(company id, first) → the newest `first` members: member ids in one query, the users in another."""
    by_first: dict[int, list[str]] = defaultdict(list)
    for company_id, first in keys:
        by_first[first].append(company_id)
    member_ids: dict[tuple[str, int], list[str]] = {}
    for first, company_ids in by_first.items():
        found = await service.company_user_ids(scope, company_ids, first)
        member_ids.update({(c, first): found.get(c, []) for c in company_ids})
    wanted = {u for ids in member_ids.values() for u in ids}
    users = {u.id: u for u in await repository.users(scope).filter(id__in=list(wanted))} if wanted else {}
    return [[users[u] for u in member_ids[key] if u in users] for key in keys]


async def load_user_memberships(scope: Scope, ids: Sequence[str]) -> list[list[CompanyMembership]]:
    found: dict[str, list[CompanyMembership]] = defaultdict(list)
    for membership in await repository.memberships(scope).filter(user_id__in=list(ids)).order_by("id"):
        found[membership.user_id].append(membership)  # type: ignore[attr-defined]
    return [found[i] for i in ids]


async def load_company_plans(scope: Scope, ids: Sequence[str]) -> list[list[CompanyPlan]]:
    """Plan assignments with their plans: slot "base" is the base plan, other slots are add-ons."""
    found: dict[str, list[CompanyPlan]] = defaultdict(list)
    rows = await CompanyPlan.filter(environment_id=scope.environment_id, company_id__in=list(ids)).select_related(
        "plan").order_by("created_at", "id")
    for row in rows:
        found[row.company_id].append(row)  # type: ignore[attr-defined]
    return [found[i] for i in ids]


def split_plans(assignments: Sequence[CompanyPlan]) -> tuple[CompanyPlan | None, list[CompanyPlan]]:
    base = next((a for a in assignments if a.slot == BASE_SLOT), None)
    return base, [a for a in assignments if a.slot != BASE_SLOT]


async def load_company_overrides(scope: Scope, ids: Sequence[str]) -> list[list[CompanyOverride]]:
    found: dict[str, list[CompanyOverride]] = defaultdict(list)
    rows = await CompanyOverride.filter(environment_id=scope.environment_id, company_id__in=list(ids)).order_by(
        "created_at", "id")
    for row in rows:
        found[row.company_id].append(row)  # type: ignore[attr-defined]
    return [found[i] for i in ids]
