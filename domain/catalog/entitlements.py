"""Plan entitlements: what a plan or add-on grants of one feature. One per (plan, feature)."""

from decimal import Decimal

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.grants import GrantValue, clean_grant
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
    value_type: str,
    value_bool: bool | None = None,
    value_numeric: int | None = None,
    value_trait_id: str | None = None,
    value_credit_id: str | None = None,
    consumption_rate: str | Decimal | None = None,
    metric_period: str | None = None,
    metric_period_month_reset: str | None = None,
    price_behavior: str | None = None,
    soft_limit: int | None = None,
) -> PlanEntitlement:
    """Grant a feature on a plan. A `price_behavior` forces the value type (§1.13)."""
    scope.require_write("creating a plan entitlement")
    plan = await repo.get_plan(scope, plan_id, "plan_id")
    feature = await repo.get_feature(scope, feature_id, "feature_id")
    value = GrantValue(value_type, value_bool, value_numeric, value_trait_id, value_credit_id, consumption_rate,
                       metric_period, metric_period_month_reset)
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
    value_type: str,
    value_bool: bool | None = None,
    value_numeric: int | None = None,
    value_trait_id: str | None = None,
    value_credit_id: str | None = None,
    consumption_rate: str | Decimal | None = None,
    metric_period: str | None = None,
    metric_period_month_reset: str | None = None,
    price_behavior: str | None = None,
    soft_limit: int | None = None,
) -> PlanEntitlement:
    """Replace the value of an entitlement (PUT semantics: omitted fields are cleared). Its plan,
    feature and compiled rule ids stay."""
    scope.require_write("updating a plan entitlement")
    entitlement = await repo.get_plan_entitlement(scope, entitlement_id)
    feature = await repo.get_feature(scope, entitlement.feature_id, "feature_id")  # type: ignore[attr-defined]
    value = GrantValue(value_type, value_bool, value_numeric, value_trait_id, value_credit_id, consumption_rate,
                       metric_period, metric_period_month_reset)
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
