"""Plans and add-ons: descriptive fields, trial settings and prices (integer minor units)."""

from typing import Any

from domain.cache import changes
from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.models import PLAN_TYPES, Plan
from domain.catalog.validation import UNSET, Unset
from domain.entitlements.models import CompanyPlan
from domain.errors import InUse, InvalidInput
from domain.scope import Scope

CHARGE_TYPES = ("free", "none", "one_time", "recurring")
PRICE_FIELDS = ("monthly_price", "quarterly_price", "yearly_price", "one_time_price")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Validate the fields present in `values` (all optional) and return them cleaned."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is UNSET:
            continue
        if name == "name":
            out[name] = v.name(value)
        elif name == "description":
            out[name] = v.text(value, name)
        elif name == "icon":
            out[name] = v.optional_text(value, name)
        elif name in ("is_default", "is_trialable"):
            out[name] = v.boolean(value, name)
        elif name == "trial_days":
            out[name] = v.optional_integer(value, name, minimum=1, maximum=3650)
        elif name == "charge_type":
            out[name] = v.choice(value, CHARGE_TYPES, name)
        elif name == "currency":
            out[name] = v.currency(value)
        elif name in PRICE_FIELDS:
            out[name] = v.optional_integer(value, name, minimum=0)
        else:  # pragma: no cover - programming error
            raise TypeError(name)
    return out


def _check_trial(plan_type: str, is_trialable: bool, trial_days: int | None) -> None:
    if not is_trialable:
        return
    if plan_type != "plan":
        raise InvalidInput("add-ons cannot have trials", field="is_trialable")
    if trial_days is None:
        raise InvalidInput("a trialable plan needs trial_days (at least 1)", field="trial_days")


async def _check_name(scope: Scope, name: str, except_plan_id: str | None = None) -> None:
    if await repo.plan_name_taken(scope, name, except_plan_id):
        raise InvalidInput(f"a plan named {name!r} already exists in this environment", field="name")


async def create_plan(
    scope: Scope,
    *,
    name: str,
    plan_type: str = "plan",
    description: str = "",
    icon: str | None = None,
    is_default: bool = False,
    charge_type: str = "free",
    is_trialable: bool = False,
    trial_days: int | None = None,
    currency: str = "usd",
    monthly_price: int | None = None,
    quarterly_price: int | None = None,
    yearly_price: int | None = None,
    one_time_price: int | None = None,
) -> Plan:
    """Create a plan (`plan_type` "plan") or an add-on ("add_on"). Plan names are unique per environment."""
    scope.require_write("creating a plan")
    plan_type = v.choice(plan_type, PLAN_TYPES, "plan_type")
    fields = _clean({
        "name": name, "description": description, "icon": icon, "is_default": is_default, "charge_type": charge_type,
        "is_trialable": is_trialable, "trial_days": trial_days, "currency": currency, "monthly_price": monthly_price,
        "quarterly_price": quarterly_price, "yearly_price": yearly_price, "one_time_price": one_time_price,
    })
    _check_trial(plan_type, fields["is_trialable"], fields["trial_days"])
    await _check_name(scope, fields["name"])
    plan = await Plan.create(environment_id=scope.environment_id, plan_type=plan_type, **fields)
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return plan


async def update_plan(
    scope: Scope,
    plan_id: str,
    *,
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    icon: str | Unset | None = UNSET,
    is_default: bool | Unset = UNSET,
    charge_type: str | Unset = UNSET,
    is_trialable: bool | Unset = UNSET,
    trial_days: int | Unset | None = UNSET,
    currency: str | Unset = UNSET,
    monthly_price: int | Unset | None = UNSET,
    quarterly_price: int | Unset | None = UNSET,
    yearly_price: int | Unset | None = UNSET,
    one_time_price: int | Unset | None = UNSET,
) -> Plan:
    """Change the given fields (`plan_type` cannot change). Running trials keep their end date."""
    scope.require_write("updating a plan")
    plan = await repo.get_plan(scope, plan_id)
    fields = _clean({
        "name": name, "description": description, "icon": icon, "is_default": is_default, "charge_type": charge_type,
        "is_trialable": is_trialable, "trial_days": trial_days, "currency": currency, "monthly_price": monthly_price,
        "quarterly_price": quarterly_price, "yearly_price": yearly_price, "one_time_price": one_time_price,
    })
    _check_trial(
        plan.plan_type, fields.get("is_trialable", plan.is_trialable), fields.get("trial_days", plan.trial_days)
    )
    if "name" in fields and fields["name"] != plan.name:
        await _check_name(scope, fields["name"], except_plan_id=plan.id)
    if fields:
        await plan.update_from_dict(fields).save()
        await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return plan


async def delete_plan(scope: Scope, plan_id: str) -> Plan:
    """Delete a plan and its entitlements; refused (IN_USE) while any company is on it."""
    scope.require_write("deleting a plan")
    plan = await repo.get_plan(scope, plan_id)
    holders = await repo.scoped(CompanyPlan, scope).filter(plan_id=plan.id).count()
    if holders:
        raise InUse(f"plan {plan.name!r} is assigned to {holders} compan{'y' if holders == 1 else 'ies'}", field="id")
    await plan.delete()  # the database cascades to its entitlements
    await changes.record_change(scope.environment_id, changes.ENVIRONMENT, "*")
    return plan
