"""Value types of the pure rules engine (product model §1.10, §1.11, §2.1, §2.12)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, get_args

RuleType = Literal[
    "global_override",
    "company_override",
    "plan_entitlement",
    "company_override_usage_exceeded",
    "plan_entitlement_usage_exceeded",
    "standard",
    "default",
]
RULE_TYPE_ORDER: tuple[RuleType, ...] = get_args(RuleType)
ENTITLEMENT_RULE_TYPES: frozenset[RuleType] = frozenset(RULE_TYPE_ORDER[1:5])
UNCONDITIONAL_RULE_TYPES: frozenset[RuleType] = frozenset(("global_override", "default"))

ComparableType = Literal["bool", "int", "date", "string"]
EntityType = Literal["company", "user"]

CONDITION_TYPES = (
    "base_plan",
    "billing_product",
    "company",
    "credit",
    "metric",
    "plan",
    "plan_version",
    "trait",
    "user",
)
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "is_empty", "not_empty")

# §2.7 reason constants (the server-error one reads "Server error" by plangate's decision).
REASON_NO_RULES = "No rules matched; default value for flag"
REASON_NO_CONTEXT = "No company or user context; default value for flag"
REASON_COMPANY_NOT_FOUND = "Company not found"
REASON_USER_NOT_FOUND = "User not found"
REASON_MUST_SPECIFY_COMPANY = "Must specify a company"
REASON_FLAG_NOT_FOUND = "Flag not found"
REASON_SERVER_ERROR = "Server error"

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})
_EMPTY_POSTPAID: Mapping[str, Decimal | None] = MappingProxyType({})


class InvalidPreflight(ValueError):
    """A preflight carried a negative quantity (HTTP 400 at the API layer)."""


@dataclass(frozen=True, slots=True)
class TraitRef:
    id: str
    name: str
    entity_type: EntityType
    comparable_type: ComparableType


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    condition_type: str
    operator: str
    resource_ids: tuple[str, ...] = ()
    trait: TraitRef | None = None
    trait_value: str = ""
    comparison_trait: TraitRef | None = None
    event_subtype: str | None = None
    metric_value: int | None = None
    metric_period: str | None = None
    month_reset: str | None = None
    credit_id: str | None = None
    consumption_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    rule_type: RuleType
    priority: int
    value: bool
    conditions: tuple[Condition, ...] = ()
    condition_groups: tuple[tuple[Condition, ...], ...] = ()
    flag_id: str | None = None
    rollout_percentage: int | None = None
    rollout_salt: str | None = None
    expires_at: datetime | None = None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyContext:
    id: str
    base_plan_id: str | None
    plan_ids: frozenset[str]
    traits: Mapping[str, str]
    metric: Callable[[str, str, str], int]
    credit_balances: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)
    plan_version_ids: frozenset[str] = frozenset()
    billing_product_ids: frozenset[str] = frozenset()
    credit_postpaid: Mapping[str, Decimal | None] = field(default_factory=lambda: _EMPTY_POSTPAID)


@dataclass(frozen=True, slots=True)
class UserContext:
    id: str
    traits: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Preflight:
    usage: int | None = None
    event_usage: tuple[str, int] | None = None
    event_quantities: Mapping[str, int] | None = None
    credit_cost: Mapping[str, Decimal] | None = None

    def __post_init__(self) -> None:
        if self.usage is not None and self.usage < 0:
            raise InvalidPreflight("preflight.usage must not be negative")
        if self.event_usage is not None and self.event_usage[1] < 0:
            raise InvalidPreflight("preflight.event_usage.quantity must not be negative")
        for name, qty in (self.event_quantities or {}).items():
            if qty < 0:
                raise InvalidPreflight(f"preflight.event_quantities[{name}] must not be negative")
        for credit_id, cost in (self.credit_cost or {}).items():
            if cost < 0:
                raise InvalidPreflight(f"preflight.credit_cost[{credit_id}] must not be negative")


@dataclass(frozen=True, slots=True)
class Evaluation:
    value: bool
    reason: str
    rule: Rule | None

    @property
    def rule_type(self) -> RuleType | None:
        return self.rule.rule_type if self.rule is not None else None

    @property
    def rule_id(self) -> str | None:
        return self.rule.id if self.rule is not None else None
