"""What a company holds: its base plan and add-ons (replace-style, with first-time trials) and its
per-feature overrides (one per company and feature, surviving plan changes)."""

from datetime import datetime, timedelta
from typing import Unpack

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain import ids
from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.grants import GrantFields, GrantValue, clean_grant
from domain.catalog.models import Plan
from domain.catalog.validation import UNSET, Unset
from domain.companies.models import Company
from domain.entitlements.models import BASE_SLOT, CompanyOverride, CompanyPlan, CompanyTrial
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope
from domain.timeutil import isoformat, require_aware, utcnow

# ---------------------------------------------------------------- plan assignment


async def _plans(scope: Scope, base_plan_id: str | None, add_on_ids: list[str]) -> tuple[Plan | None, list[Plan]]:
    add_on_ids = v.id_list(add_on_ids, "add_on_ids")
    wanted = [*([base_plan_id] if base_plan_id else []), *add_on_ids]
    found = {p.id: p for p in await repo.scoped(Plan, scope).filter(id__in=wanted)} if wanted else {}
    base = None
    if base_plan_id:
        base = found.get(base_plan_id)
        if base is None:
            raise NotFound(f"no plan with id {base_plan_id!r} in this environment", field="base_plan_id")
        if base.plan_type != "plan":
            raise InvalidInput(f"{base.name!r} is an add-on, not a base plan", field="base_plan_id")
    add_ons = []
    for plan_id in add_on_ids:
        plan = found.get(plan_id)
        if plan is None:
            raise NotFound(f"no plan with id {plan_id!r} in this environment", field="add_on_ids")
        if plan.plan_type != "add_on":
            raise InvalidInput(f"{plan.name!r} is a base plan, not an add-on", field="add_on_ids")
        add_ons.append(plan)
    return base, add_ons


async def set_company_plans(scope: Scope, company_id: str, base_plan_id: str | None, add_on_ids: list[str]) -> Company:
    """Put the company on exactly this base plan (None: no base plan) and these add-ons. A trialable
    base plan starts a trial the first time the company gets it."""
    scope.require_write("assigning plans")
    company = await repo.get_company(scope, company_id)
    base, add_ons = await _plans(scope, base_plan_id, add_on_ids)
    current = {cp.slot: cp for cp in await repo.scoped(CompanyPlan, scope).filter(company_id=company.id)}
    wanted_slots = {a.id for a in add_ons} | ({BASE_SLOT} if base else set())
    stale = [cp.id for slot, cp in current.items() if slot not in wanted_slots]
    if stale:
        await CompanyPlan.filter(id__in=stale).delete()
    env = scope.environment_id
    for add_on in add_ons:
        if add_on.id not in current:
            await CompanyPlan.create(environment_id=env, company=company, plan=add_on, slot=add_on.id)
    current_base = current.get(BASE_SLOT)
    if base is not None and (current_base is None or current_base.plan_id != base.id):  # type: ignore[attr-defined]
        trial_ends_at = await _start_trial(scope, company, base)
        if current_base is None:
            await CompanyPlan.create(environment_id=env, company=company, plan=base, slot=BASE_SLOT,
                                     trial_ends_at=trial_ends_at)
        else:
            await current_base.update_from_dict({"plan_id": base.id, "trial_ends_at": trial_ends_at}).save()
    await changes.record_change(env, changes.COMPANY, company.id)
    return company


async def _start_trial(scope: Scope, company: Company, plan: Plan) -> datetime | None:
    if not plan.is_trialable or not plan.trial_days:
        return None
    if await repo.scoped(CompanyTrial, scope).filter(company_id=company.id, plan_id=plan.id).exists():
        return None
    ends_at = utcnow() + timedelta(days=plan.trial_days)
    await CompanyTrial.create(environment_id=scope.environment_id, company=company, plan=plan, trial_ends_at=ends_at)
    return ends_at


def company_plans(scope: Scope, company_id: str) -> QuerySet[CompanyPlan]:
    return repo.scoped(CompanyPlan, scope).filter(company_id=company_id)


# ---------------------------------------------------------------- overrides


def overrides_query(
    scope: Scope, *, company_id: str | None = None, feature_id: str | None = None, without_expired: bool = False
) -> QuerySet[CompanyOverride]:
    query = repo.scoped(CompanyOverride, scope)
    if company_id is not None:
        query = query.filter(company_id=company_id)
    if feature_id is not None:
        query = query.filter(feature_id=feature_id)
    if without_expired:
        query = query.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=utcnow()))
    return query


async def get_company_override(scope: Scope, override_id: str) -> CompanyOverride:
    override = await repo.scoped(CompanyOverride, scope).get_or_none(id=override_id)
    if override is None:
        raise NotFound(f"no company override with id {override_id!r} in this environment", field="id")
    return override


def _expiry(expires_at: datetime | None) -> datetime | None:
    return None if expires_at is None else require_aware(expires_at, "expires_at")


def _notes(scope: Scope, notes: list, note: str | None) -> list:
    """Notes are appended, shaped as Schematic's CompanyOverrideNoteResponseData."""
    if note is None or not note.strip():
        return notes
    now = isoformat(utcnow())
    return [*notes, {
        "id": ids.new_id("cnote"), "note": v.text(note, "note", 2000), "created_at": now, "updated_at": now,
        "external_user_id": scope.key_id or "", "external_user_name": "",
    }]


async def create_company_override(
    scope: Scope,
    *,
    company_id: str,
    feature_id: str,
    expires_at: datetime | None = None,
    note: str | None = None,
    **fields: Unpack[GrantFields],
) -> CompanyOverride:
    """Override what a company gets of one feature (same value model as plan entitlements)."""
    scope.require_write("creating a company override")
    company = await repo.get_company(scope, company_id)
    feature = await repo.get_feature(scope, feature_id, "feature_id")
    value = GrantValue(**fields)
    row = await clean_grant(scope, feature, value)
    row["expires_at"] = _expiry(expires_at)
    row["notes"] = _notes(scope, [], note)
    if await repo.scoped(CompanyOverride, scope).filter(company_id=company.id, feature_id=feature.id).exists():
        raise InvalidInput(
            "the company already has an override for this feature; update it instead", field="feature_id"
        )
    override = await CompanyOverride.create(
        environment_id=scope.environment_id, company=company, feature=feature, **row
    )
    await changes.record_change(scope.environment_id, changes.COMPANY, company.id)
    return override


async def update_company_override(
    scope: Scope,
    override_id: str,
    *,
    expires_at: datetime | Unset | None = UNSET,
    note: str | None = None,
    **fields: Unpack[GrantFields],
) -> CompanyOverride:
    """Replace the override's value; `expires_at` changes only when given; `note` is appended."""
    scope.require_write("updating a company override")
    override = await get_company_override(scope, override_id)
    feature = await repo.get_feature(scope, override.feature_id, "feature_id")  # type: ignore[attr-defined]
    value = GrantValue(**fields)
    row = await clean_grant(scope, feature, value)
    if expires_at is not UNSET:
        row["expires_at"] = _expiry(expires_at)
    row["notes"] = _notes(scope, list(override.notes or []), note)
    await override.update_from_dict(row).save()
    await changes.record_change(scope.environment_id, changes.COMPANY, override.company_id)  # type: ignore[attr-defined]
    return override


async def delete_company_override(scope: Scope, override_id: str) -> CompanyOverride:
    scope.require_write("deleting a company override")
    override = await get_company_override(scope, override_id)
    await override.delete()
    await changes.record_change(scope.environment_id, changes.COMPANY, override.company_id)  # type: ignore[attr-defined]
    return override
