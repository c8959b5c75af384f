"""The value model shared by plan entitlements and company overrides (product model §1.13)."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Required, TypedDict

from domain.catalog import repository as repo
from domain.catalog import validation as v
from domain.catalog.models import Feature
from domain.errors import InvalidInput
from domain.periods import MONTH_RESETS, PERIODS
from domain.scope import Scope

VALUE_TYPES = ("boolean", "numeric", "unlimited", "trait", "credit")
PRICE_BEHAVIORS = ("pay_as_you_go", "pay_in_advance", "overage", "tier", "credit_burndown")

_VALUE_TYPES_BY_FEATURE = {
    "boolean": ("boolean", "unlimited"),
    "event": VALUE_TYPES,
    # A numeric limit on a trait feature compares the usage trait; credits are burnt by events only.
    "trait": ("boolean", "numeric", "unlimited", "trait"),
}
_FEATURE_TYPES_BY_PRICE = {
    "pay_in_advance": ("trait",),
    "credit_burndown": ("event",),
    "pay_as_you_go": ("event",),
    "overage": ("event",),
    "tier": ("event", "trait"),
}
_METERED = ("numeric", "trait")  # value types whose limit is a usage metric on event features


class GrantFields(TypedDict, total=False):
    """The value fields as keyword arguments of the entitlement and override services (`GrantValue(**fields)`)."""

    value_type: Required[str]
    value_bool: bool | None
    value_numeric: int | None
    value_trait_id: str | None
    value_credit_id: str | None
    consumption_rate: str | Decimal | None
    metric_period: str | None
    metric_period_month_reset: str | None


@dataclass(frozen=True, slots=True)
class GrantValue:
    value_type: str
    value_bool: bool | None = None
    value_numeric: int | None = None
    value_trait_id: str | None = None
    value_credit_id: str | None = None
    consumption_rate: str | Decimal | None = None
    metric_period: str | None = None
    metric_period_month_reset: str | None = None


def forced_value_type(price_behavior: str, value: GrantValue) -> GrantValue:
    """§1.13: a price behaviour decides the value type, whatever value_type was sent."""
    if price_behavior == "pay_in_advance":
        forced = "trait"
    elif price_behavior == "credit_burndown":
        forced = "credit"
    elif isinstance(value.value_numeric, int) and value.value_numeric > 0:
        forced = "numeric"  # a hard limit on top of the priced usage
    else:
        forced = "unlimited"
        value = replace(value, value_numeric=None)
    return replace(value, value_type=forced)


def _only(value: GrantValue, keep: tuple[str, ...]) -> None:
    for name in ("value_bool", "value_numeric", "value_trait_id", "value_credit_id", "consumption_rate"):
        if name not in keep and getattr(value, name) is not None:
            raise InvalidInput(f"{name} does not apply to value_type {value.value_type}", field=name)


async def clean_grant(
    scope: Scope, feature: Feature, value: GrantValue, price_behavior: str | None = None
) -> dict[str, object]:
    """Validate a grant of `feature` and return the model fields to store."""
    if price_behavior is not None:
        v.choice(price_behavior, PRICE_BEHAVIORS, "price_behavior")
        allowed_features = _FEATURE_TYPES_BY_PRICE[price_behavior]
        if feature.feature_type not in allowed_features:
            raise InvalidInput(
                f"price_behavior {price_behavior} applies to {' or '.join(allowed_features)} features, "
                f"not a {feature.feature_type} feature", field="price_behavior",
            )
        value = forced_value_type(price_behavior, value)
    value_type = v.choice(value.value_type, VALUE_TYPES, "value_type")
    if value_type not in _VALUE_TYPES_BY_FEATURE[feature.feature_type]:
        raise InvalidInput(
            f"a {feature.feature_type} feature accepts value_type "
            f"{', '.join(_VALUE_TYPES_BY_FEATURE[feature.feature_type])}, not {value_type}", field="value_type",
        )
    row: dict[str, object] = {
        "value_type": value_type, "value_bool": None, "value_numeric": None, "value_trait_id": None,
        "value_credit_id": None, "consumption_rate": None,
    }
    if value_type == "boolean":
        _only(value, ("value_bool",))
        row["value_bool"] = v.boolean(value.value_bool, "value_bool")
    elif value_type == "numeric":
        _only(value, ("value_numeric",))
        if value.value_numeric is None:
            raise InvalidInput("value_type numeric needs value_numeric", field="value_numeric")
        row["value_numeric"] = v.integer(value.value_numeric, "value_numeric", minimum=0)
    elif value_type == "trait":
        _only(value, ("value_trait_id",))
        if not value.value_trait_id:
            raise InvalidInput("value_type trait needs value_trait_id (the company trait holding the limit)",
                               field="value_trait_id")
        trait = await repo.get_trait_definition(scope, value.value_trait_id, "value_trait_id")
        row["value_trait_id"] = repo.require_usage_trait(trait, "value_trait_id").id
    elif value_type == "credit":
        _only(value, ("value_credit_id", "consumption_rate"))
        if not value.value_credit_id:
            raise InvalidInput("value_type credit needs value_credit_id", field="value_credit_id")
        row["value_credit_id"] = v.ref_id(value.value_credit_id, "value_credit_id")
        if value.consumption_rate is None:
            raise InvalidInput("value_type credit needs consumption_rate (credits per unit)", field="consumption_rate")
        row["consumption_rate"] = v.positive_decimal(value.consumption_rate, "consumption_rate")
    else:
        _only(value, ())
    row.update(_period(feature, value_type, value.metric_period, value.metric_period_month_reset))
    return row


def _period(feature: Feature, value_type: str, period: str | None, month_reset: str | None) -> dict[str, str | None]:
    if feature.feature_type != "event":
        if period is not None or month_reset is not None:
            raise InvalidInput("metric_period only applies to event features", field="metric_period")
        return {"metric_period": None, "metric_period_month_reset": None}
    if period is None and value_type in _METERED:
        period = "all_time"
    if period is not None:
        v.choice(period, PERIODS, "metric_period")
    if month_reset is not None:
        v.choice(month_reset, MONTH_RESETS, "metric_period_month_reset")
        if period != "current_month":
            raise InvalidInput(
                "metric_period_month_reset only applies to metric_period current_month",
                field="metric_period_month_reset",
            )
    elif period == "current_month":
        month_reset = "first_of_month"
    return {"metric_period": period, "metric_period_month_reset": month_reset}
