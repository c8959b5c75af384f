"""Comparable-type parsing and operators (§2.6) and condition matching (§2.5, §2.12).

Conditions are compiled once into closures ``fn(company, user, preflight) -> bool`` so the
per-check cost is a few attribute reads and one comparison.
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from domain.rules.types import (
    CompanyContext,
    ComparableType,
    Condition,
    Preflight,
    UserContext,
)

ConditionFn = Callable[[CompanyContext | None, UserContext | None, Preflight | None], bool]
Comparator = Callable[[Any, Any], bool]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT_RE = re.compile(r"[+-]?[0-9]+")
_ONE = Decimal(1)
_ZERO = Decimal(0)


def _never(*_: object) -> bool:
    return False


# ---------------------------------------------------------------- parsing (§2.6)


def parse_int(value: str) -> int:
    """Base-10 int64 like Go's ``strconv.ParseInt``: syntax errors read 0, overflow clamps."""
    if value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    if not _INT_RE.fullmatch(value):
        return 0
    return max(INT64_MIN, min(INT64_MAX, int(value)))


def parse_bool(value: str) -> bool:
    return value == "true"


_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_SPACE_ZONE = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) [A-Z]{3,5}")
# JS Date.toString()/toDateString(): "Wed Mar 18 2026[ 14:05:00[ GMT+0100| PST][ (zone name)]]"
_JS_DATE = re.compile(
    r"[A-Za-z]{3} ([A-Za-z]{3}) (\d{2}) (\d{4})"
    r"(?: (\d{2}):(\d{2}):(\d{2})(?: (?:GMT([+-]\d{2})(\d{2})|[A-Z]{3,5}))?(?: \([^)]*\))?)?"
)


@lru_cache(maxsize=4096)
def parse_date(value: str) -> datetime | None:
    """ISO date, RFC 3339, ``YYYY-MM-DD hh:mm:ss ZONE`` or a JS ``Date.toString()`` form → UTC.

    Zone abbreviations read as offset 0, as Go's ``time.Parse`` does for unknown zones.
    Unparsable input → None.
    """
    try:
        if _ISO_DATE.fullmatch(value):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        if _RFC3339.fullmatch(value):
            return datetime.fromisoformat(value.upper()).astimezone(UTC)
        if m := _SPACE_ZONE.fullmatch(value):
            return datetime.fromisoformat(f"{m[1]}T{m[2]}").replace(tzinfo=UTC)
        if m := _JS_DATE.fullmatch(value):
            return _js_date(m)
    except ValueError:
        return None
    return None


def _js_date(m: re.Match[str]) -> datetime | None:
    month = _MONTHS.get(m[1].lower())
    if month is None:
        return None
    hour, minute, second = (int(m[i]) if m[i] else 0 for i in (4, 5, 6))
    dt = datetime(int(m[3]), month, int(m[2]), hour, minute, second, tzinfo=UTC)
    if m[7]:
        sign = -1 if m[7][0] == "-" else 1
        offset_min = sign * (abs(int(m[7])) * 60 + int(m[8]))
        dt -= timedelta(minutes=offset_min)
    return dt


# ---------------------------------------------------------------- operators (§2.6)


def _date_eq(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b


def _date_gt(a: datetime | None, b: datetime | None) -> bool:
    if a is None:
        return False
    return b is None or a > b


def _date_lt(a: datetime | None, b: datetime | None) -> bool:
    if b is None:
        return False
    return a is None or a < b


_ORDERED: dict[str, Comparator] = {
    "eq": op.eq,
    "ne": op.ne,
    "gt": op.gt,
    "gte": op.ge,
    "lt": op.lt,
    "lte": op.le,
}
COMPARATORS: dict[ComparableType, dict[str, Comparator]] = {
    "string": {**_ORDERED, "is_empty": lambda a, _b: a == "", "not_empty": lambda a, _b: a != ""},
    "int": {**_ORDERED, "is_empty": lambda a, _b: a == 0, "not_empty": lambda a, _b: a > 0},
    "bool": {"eq": op.eq, "ne": op.ne, "is_empty": _never, "not_empty": lambda _a, _b: True},
    "date": {
        "eq": _date_eq,
        "ne": lambda a, b: not _date_eq(a, b),
        "gt": _date_gt,
        "gte": lambda a, b: _date_eq(a, b) or _date_gt(a, b),
        "lt": _date_lt,
        "lte": lambda a, b: _date_eq(a, b) or _date_lt(a, b),
        "is_empty": lambda a, _b: a is None,
        "not_empty": lambda a, _b: a is not None,
    },
}
PARSERS: dict[ComparableType, Callable[[str], Any]] = {
    "string": str,
    "int": parse_int,
    "bool": parse_bool,
    "date": parse_date,
}


def comparator(comparable_type: str, operator: str) -> Comparator:
    """The §2.6 comparison for (type, operator); unknown combinations never match."""
    return COMPARATORS.get(comparable_type, {}).get(operator, _never)  # type: ignore[call-overload]


def compare(left: str, right: str, comparable_type: str, operator: str) -> bool:
    """Compare two rendered values as ``comparable_type`` (unknown type → never matches)."""
    parse = PARSERS.get(comparable_type)  # type: ignore[call-overload]
    if parse is None:
        return False
    return comparator(comparable_type, operator)(parse(left), parse(right))


# ---------------------------------------------------------------- preflight (§2.12)


def metric_preflight(preflight: Preflight, event_subtype: str) -> int:
    eu = preflight.event_usage
    if eu is not None and eu[0] == event_subtype and eu[1] > 0:
        return eu[1]
    return preflight.usage or 0


def credit_cost(
    preflight: Preflight | None, credit_id: str, rate: Decimal | None, event_subtype: str | None
) -> Decimal:
    """Cost precedence: credit_cost > event_quantities > event_usage > usage > one unit."""
    rate = _ONE if rate is None else rate
    if preflight is None:
        return rate
    if preflight.credit_cost is not None and credit_id in preflight.credit_cost:
        return Decimal(preflight.credit_cost[credit_id])
    if preflight.event_quantities:
        total = sum(preflight.event_quantities.values())
        if total > 0:
            return total * rate
    eu = preflight.event_usage
    if eu is not None and eu[1] > 0 and eu[0] == event_subtype:
        return eu[1] * rate
    if preflight.usage:
        return preflight.usage * rate
    return rate


# ---------------------------------------------------------------- compilation (§2.5)


def compile_condition(cond: Condition, *, entitlement_rule: bool = False) -> ConditionFn:
    """Compile one condition. ``entitlement_rule`` enables the preflight ``usage`` on int traits."""
    builder = _BUILDERS.get(cond.condition_type)
    return _never if builder is None else builder(cond, entitlement_rule)


def condition_matches(
    cond: Condition,
    company: CompanyContext | None,
    user: UserContext | None,
    preflight: Preflight | None = None,
    *,
    entitlement_rule: bool = False,
) -> bool:
    return compile_condition(cond, entitlement_rule=entitlement_rule)(company, user, preflight)


def _id_condition(cond: Condition, _: bool) -> ConditionFn:
    ids = frozenset(cond.resource_ids)
    is_user = cond.condition_type == "user"
    if cond.operator not in ("eq", "ne"):
        return _never
    want = cond.operator == "eq"

    def match(c: CompanyContext | None, u: UserContext | None, _p: Preflight | None) -> bool:
        entity = u if is_user else c
        return entity is not None and (entity.id in ids) is want

    return match


_SET_ATTR = {"plan": "plan_ids", "plan_version": "plan_version_ids", "billing_product": "billing_product_ids"}


def _set_condition(cond: Condition, _: bool) -> ConditionFn:
    ids = frozenset(cond.resource_ids)
    getter = op.attrgetter(_SET_ATTR[cond.condition_type])
    if cond.operator not in ("eq", "ne"):
        return _never
    want_overlap = cond.operator == "eq"

    def match(c: CompanyContext | None, _u: UserContext | None, _p: Preflight | None) -> bool:
        return c is not None and ids.isdisjoint(getter(c)) is not want_overlap

    return match


def _base_plan_condition(cond: Condition, _: bool) -> ConditionFn:
    ids = frozenset(cond.resource_ids)
    tests: dict[str, Callable[[str | None], bool]] = {
        "eq": lambda b: b is not None and b in ids,
        "ne": lambda b: b is None or b not in ids,
        "is_empty": lambda b: b is None,
        "not_empty": lambda b: b is not None,
    }
    test = tests.get(cond.operator)
    if test is None:
        return _never

    def match(c: CompanyContext | None, _u: UserContext | None, _p: Preflight | None) -> bool:
        return c is not None and test(c.base_plan_id)

    return match


def _trait_condition(cond: Condition, entitlement_rule: bool) -> ConditionFn:
    trait = cond.trait
    if trait is None or trait.comparable_type not in PARSERS:
        return _never
    name, is_user = trait.name, trait.entity_type == "user"
    parse = PARSERS[trait.comparable_type]
    cmp = comparator(trait.comparable_type, cond.operator)
    add_usage = entitlement_rule and trait.comparable_type == "int"
    cmp_name = cond.comparison_trait.name if cond.comparison_trait is not None else None
    const_right = parse(cond.trait_value)

    def match(c: CompanyContext | None, u: UserContext | None, p: Preflight | None) -> bool:
        entity = u if is_user else c
        if entity is None:
            return False
        traits = entity.traits
        left = parse(traits.get(name, ""))
        if add_usage and p is not None and p.usage:
            left += p.usage
        right = const_right if cmp_name is None else parse(traits.get(cmp_name, ""))
        return cmp(left, right)

    return match


def _metric_condition(cond: Condition, _: bool) -> ConditionFn:
    subtype, metric_value = cond.event_subtype, cond.metric_value
    # The reference engine errors on a null metric_value; plangate treats it as never matching.
    if subtype is None or metric_value is None:
        return _never
    period = cond.metric_period or "all_time"
    reset = cond.month_reset or "first_of_month"
    cmp = comparator("int", cond.operator)
    cmp_name = cond.comparison_trait.name if cond.comparison_trait is not None else None

    def match(c: CompanyContext | None, _u: UserContext | None, p: Preflight | None) -> bool:
        if c is None:
            return False
        left = c.metric(subtype, period, reset)
        if p is not None:
            left += metric_preflight(p, subtype)
        right = metric_value if cmp_name is None else parse_int(c.traits.get(cmp_name, ""))
        return cmp(left, right)

    return match


def _credit_condition(cond: Condition, _: bool) -> ConditionFn:
    credit_id, rate, subtype = cond.credit_id, cond.consumption_rate, cond.event_subtype
    if credit_id is None or cond.operator not in ("lt", "gte"):
        return _never
    allow = cond.operator == "lt"

    def match(c: CompanyContext | None, _u: UserContext | None, p: Preflight | None) -> bool:
        if c is None:
            return False
        return (
            covers(c.credit_balances, c.credit_postpaid, credit_id, credit_cost(p, credit_id, rate, subtype)) is allow
        )

    return match


def covers(
    balances: Mapping[str, Decimal], postpaid: Mapping[str, Decimal | None], credit_id: str, cost: Decimal
) -> bool:
    """Whether the balance covers ``cost`` (balance - cost >= floor; equality allows)."""
    floor = _ZERO
    if credit_id in postpaid:
        limit = postpaid[credit_id]
        if limit is None:
            return True
        floor = -limit
    return balances.get(credit_id, _ZERO) - cost >= floor


_BUILDERS: dict[str, Callable[[Condition, bool], ConditionFn]] = {
    "company": _id_condition,
    "user": _id_condition,
    "plan": _set_condition,
    "plan_version": _set_condition,
    "billing_product": _set_condition,
    "base_plan": _base_plan_condition,
    "trait": _trait_condition,
    "metric": _metric_condition,
    "credit": _credit_condition,
}
