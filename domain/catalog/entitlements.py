"""Plan entitlements: what a plan or add-on grants of one feature. One per (plan, feature)."""

from typing import Unpack

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.grants import GrantFields, GrantValue, clean_grant
from domain.catalog.models import Feature, PlanEntitlement
from domain.errors import InvalidInput
from domain.scope import Scope


async def _clean(
    scope: Scope, feature: Feature, value: GrantValue, price_behavior: str | None, soft_limit: int | None
) -> dict[str, object]:
    row = await clean_grant(scope, feature, value, price_behavior)
    row["price_behavior"] = price_behavior
    row["soft_limit"] = v.optional_integer(soft_limit, "soft_limit", minimum=0)
    return row


async def create_plan_entitlement(
    scope: Scope,
    *,
    plan_id: str,
    feature_id: str,
    price_behavior: str | None = None,
    soft_limit: int | None = None,
    **fields: Unpack[GrantFields],
) -> PlanEntitlement:
    """Grant a feature on a plan. A `price_behavior` forces the value type (§1.13)."""
    scope.require_write("creating a plan entitlement")
    plan = await repo.get_plan(scope, plan_id, "plan_id")
    feature = await repo.get_feature(scope, feature_id, "feature_id")
    value = GrantValue(**fields)
    row = await _clean(scope, feature, value, price_behavior, soft_limit)
    if await repo.scoped(PlanEntitlement, scope).filter(plan_id=plan.id, feature_id=feature.id).exists():
        raise InvalidInput(f"plan {plan.name!r} already has an entitlement for this feature", field="feature_id")
    entitlement = await PlanEntitlement.create(environment_id=scope.environment_id, plan=plan, feature=feature, **row)
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return entitlement


async def update_plan_entitlement(
    scope: Scope,
    entitlement_id: str,
    *,
    price_behavior: str | None = None,
    soft_limit: int | None = None,
    **fields: Unpack[GrantFields],
) -> PlanEntitlement:
    """Replace the value of an entitlement (PUT semantics: omitted fields are cleared). Its plan,
    feature and compiled rule ids stay."""
    scope.require_write("updating a plan entitlement")
    entitlement = await repo.get_plan_entitlement(scope, entitlement_id)
    feature = await repo.get_feature(scope, entitlement.feature_id, "feature_id")  # type: ignore[attr-defined]
    value = GrantValue(**fields)
    row = await _clean(scope, feature, value, price_behavior, soft_limit)
    await entitlement.update_from_dict(row).save()
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return entitlement


async def delete_plan_entitlement(scope: Scope, entitlement_id: str) -> PlanEntitlement:
    scope.require_write("deleting a plan entitlement")
    entitlement = await repo.get_plan_entitlement(scope, entitlement_id)
    await entitlement.delete()
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return entitlement
