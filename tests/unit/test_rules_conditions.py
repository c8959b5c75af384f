"""Comparable types, operators (§2.6), condition semantics (§2.5) and preflight (§2.12)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.rules import (
    CompanyContext,
    Condition,
    InvalidPreflight,
    Preflight,
    TraitRef,
    UserContext,
    compare,
    condition_matches,
    credit_cost,
    parse_bool,
    parse_date,
    parse_int,
)
from domain.rules.conditions import INT64_MAX, INT64_MIN, covers

D = Decimal


def company(
    *,
    id: str = "comp_1",
    base_plan_id: str | None = "plan_base",
    plan_ids: frozenset[str] = frozenset({"plan_base", "plan_addon"}),
    traits: Mapping[str, str] | None = None,
    metrics: Mapping[tuple[str, str, str], int] | None = None,
    credit_balances: Mapping[str, Decimal] | None = None,
    credit_postpaid: Mapping[str, Decimal | None] | None = None,
    plan_version_ids: frozenset[str] = frozenset({"pv_1"}),
    billing_product_ids: frozenset[str] = frozenset({"bp_1"}),
) -> CompanyContext:
    m = dict(metrics or {})
    return CompanyContext(
        id=id,
        base_plan_id=base_plan_id,
        plan_ids=plan_ids,
        traits=traits or {},
        metric=lambda s, p, r: m.get((s, p, r), 0),
        credit_balances=credit_balances or {},
        credit_postpaid=credit_postpaid or {},
        plan_version_ids=plan_version_ids,
        billing_product_ids=billing_product_ids,
    )


def user(id: str = "user_1", traits: Mapping[str, str] | None = None) -> UserContext:
    return UserContext(id=id, traits=traits or {})


def trait(name: str, ctype: str = "string", entity: str = "company") -> TraitRef:
    return TraitRef(id=f"tr_{name}", name=name, entity_type=entity, comparable_type=ctype)  # type: ignore[arg-type]


def cond(condition_type: str, operator: str = "eq", **kw: object) -> Condition:
    return Condition(id="c", condition_type=condition_type, operator=operator, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        ("0", 0),
        ("007", 7),
        ("-7", -7),
        ("+5", 5),
        ("-0", 0),
        ("", 0),
        ("abc", 0),
        ("1.5", 0),
        ("5.0", 0),
        (" 5", 0),
        ("5 ", 0),
        ("1_000", 0),
        ("1e3", 0),
        ("0x10", 0),
        ("--1", 0),
        ("+", 0),
        ("١٢", 0),
        ("²", 0),
        ("9223372036854775807", INT64_MAX),
        ("9223372036854775808", INT64_MAX),
        ("99999999999999999999999", INT64_MAX),
        ("-9223372036854775808", INT64_MIN),
        ("-99999999999999999999999", INT64_MIN),
        ("999999999999999999", 999999999999999999),
    ],
)
def test_parse_int(raw: str, expected: int) -> None:
    assert parse_int(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", False),
        ("TRUE", False),
        ("1", False),
        ("t", False),
        ("yes", False),
        ("", False),
        ("false", False),
        (" true", False),
    ],
)
def test_parse_bool_true_only(raw: str, expected: bool) -> None:
    assert parse_bool(raw) is expected


MAR18 = datetime(2026, 3, 18, tzinfo=UTC)
MAR18_1405 = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-18", MAR18),
        ("2026-03-18T14:05:00Z", MAR18_1405),
        ("2026-03-18t14:05:00z", MAR18_1405),
        ("2026-03-18T15:05:00+01:00", MAR18_1405),
        ("2026-03-18T09:05:00-05:00", MAR18_1405),
        ("2026-03-18T14:05:00.5Z", MAR18_1405 + timedelta(milliseconds=500)),
        ("2026-03-18T14:05:00.123456789Z", MAR18_1405 + timedelta(microseconds=123456)),
        ("2026-03-18 14:05:00 UTC", MAR18_1405),
        ("2026-03-18 14:05:00 GMT", MAR18_1405),
        ("Wed Mar 18 2026", MAR18),
        ("Wed Mar 18 2026 15:05:00 GMT+0100 (Central European Standard Time)", MAR18_1405),
        ("Wed Mar 18 2026 14:05:00 GMT+0000 (Coordinated Universal Time)", MAR18_1405),
        ("Wed Mar 18 2026 07:05:00 GMT-0700 (PDT)", MAR18_1405),
        ("Wed Mar 18 2026 07:05:00 GMT-0700", MAR18_1405),
        ("Wed Mar 18 2026 14:05:00 UTC", MAR18_1405),
        ("", None),
        ("not a date", None),
        ("2026-13-01", None),
        ("2026-02-30", None),
        ("18/03/2026", None),
        ("2026-03-18T14:05:00", None),
        ("2026-3-18", None),
        ("Wed Foo 18 2026", None),
        ("1710770700", None),
    ],
)
def test_parse_date(raw: str, expected: datetime | None) -> None:
    assert parse_date(raw) == expected


def test_parse_date_returns_utc() -> None:
    parsed = parse_date("2026-03-18T15:05:00+01:00")
    assert parsed is not None and parsed.tzinfo == UTC


# ------------------------------------------------------------------ operators


@pytest.mark.parametrize(
    ("left", "right", "operator", "expected"),
    [
        ("a", "a", "eq", True),
        ("a", "b", "eq", False),
        ("a", "A", "eq", False),
        ("a", "b", "ne", True),
        ("a", "a", "ne", False),
        ("b", "a", "gt", True),
        ("a", "b", "gt", False),
        ("a", "a", "gt", False),
        ("10", "9", "gt", False),  # lexicographic, not numeric
        ("a", "a", "gte", True),
        ("b", "a", "gte", True),
        ("a", "b", "gte", False),
        ("a", "b", "lt", True),
        ("b", "a", "lt", False),
        ("a", "a", "lt", False),
        ("a", "a", "lte", True),
        ("a", "b", "lte", True),
        ("b", "a", "lte", False),
        ("", "x", "is_empty", True),
        ("a", "", "is_empty", False),
        ("a", "", "not_empty", True),
        ("", "x", "not_empty", False),
        ("a", "a", "bogus", False),
    ],
)
def test_string_operators(left: str, right: str, operator: str, expected: bool) -> None:
    assert compare(left, right, "string", operator) is expected


@pytest.mark.parametrize(
    ("left", "right", "operator", "expected"),
    [
        ("10", "10", "eq", True),
        ("10", "010", "eq", True),
        ("abc", "0", "eq", True),
        ("", "0", "eq", True),
        ("10", "11", "eq", False),
        ("10", "11", "ne", True),
        ("10", "10", "ne", False),
        ("10", "9", "gt", True),
        ("9", "10", "gt", False),
        ("9", "9", "gt", False),
        ("-1", "-2", "gt", True),
        ("9", "9", "gte", True),
        ("10", "9", "gte", True),
        ("8", "9", "gte", False),
        ("9", "10", "lt", True),
        ("10", "9", "lt", False),
        ("9", "9", "lt", False),
        ("x", "1", "lt", True),
        ("9", "9", "lte", True),
        ("8", "9", "lte", True),
        ("10", "9", "lte", False),
        ("0", "", "is_empty", True),
        ("", "", "is_empty", True),
        ("abc", "", "is_empty", True),
        ("5", "", "is_empty", False),
        ("-1", "", "is_empty", False),
        ("5", "", "not_empty", True),
        ("0", "", "not_empty", False),
        ("-3", "", "not_empty", False),
        ("abc", "", "not_empty", False),
        ("1", "1", "bogus", False),
    ],
)
def test_int_operators(left: str, right: str, operator: str, expected: bool) -> None:
    assert compare(left, right, "int", operator) is expected


@pytest.mark.parametrize(
    ("left", "right", "operator", "expected"),
    [
        ("true", "true", "eq", True),
        ("false", "false", "eq", True),
        ("false", "no", "eq", True),
        ("true", "True", "eq", False),
        ("true", "false", "eq", False),
        ("", "false", "eq", True),
        ("true", "false", "ne", True),
        ("true", "true", "ne", False),
        ("1", "true", "ne", True),
        ("true", "false", "gt", False),
        ("true", "false", "gte", False),
        ("true", "true", "gte", False),
        ("false", "true", "lt", False),
        ("false", "true", "lte", False),
        ("true", "true", "lte", False),
        ("", "", "is_empty", False),
        ("false", "", "is_empty", False),
        ("true", "", "is_empty", False),
        ("", "", "not_empty", True),
        ("false", "", "not_empty", True),
        ("true", "", "not_empty", True),
    ],
)
def test_bool_operators(left: str, right: str, operator: str, expected: bool) -> None:
    assert compare(left, right, "bool", operator) is expected


EARLY, LATE, NULL = "2026-01-01", "2026-03-18T14:05:00Z", "garbage"


@pytest.mark.parametrize(
    ("left", "right", "operator", "expected"),
    [
        # eq / ne, including nulls: both null are equal
        (NULL, NULL, "eq", True),
        (NULL, EARLY, "eq", False),
        (EARLY, NULL, "eq", False),
        (EARLY, EARLY, "eq", True),
        (EARLY, LATE, "eq", False),
        ("2026-03-18", "2026-03-18T00:00:00Z", "eq", True),
        ("2026-03-18T15:05:00+01:00", "2026-03-18T14:05:00Z", "eq", True),
        (NULL, NULL, "ne", False),
        (NULL, EARLY, "ne", True),
        (EARLY, NULL, "ne", True),
        (EARLY, LATE, "ne", True),
        (EARLY, EARLY, "ne", False),
        # gt: null left -> false, null right -> true
        (NULL, EARLY, "gt", False),
        (EARLY, NULL, "gt", True),
        (NULL, NULL, "gt", False),
        (LATE, EARLY, "gt", True),
        (EARLY, LATE, "gt", False),
        (EARLY, EARLY, "gt", False),
        # lt: null right -> false, null left -> true
        (EARLY, NULL, "lt", False),
        (NULL, EARLY, "lt", True),
        (NULL, NULL, "lt", False),
        (EARLY, LATE, "lt", True),
        (LATE, EARLY, "lt", False),
        (EARLY, EARLY, "lt", False),
        # gte / lte = equal or strict
        (NULL, NULL, "gte", True),
        (NULL, EARLY, "gte", False),
        (EARLY, NULL, "gte", True),
        (EARLY, EARLY, "gte", True),
        (LATE, EARLY, "gte", True),
        (EARLY, LATE, "gte", False),
        (NULL, NULL, "lte", True),
        (NULL, EARLY, "lte", True),
        (EARLY, NULL, "lte", False),
        (EARLY, EARLY, "lte", True),
        (EARLY, LATE, "lte", True),
        (LATE, EARLY, "lte", False),
        # is_empty / not_empty look at the left side only
        (NULL, EARLY, "is_empty", True),
        (EARLY, NULL, "is_empty", False),
        ("", "", "is_empty", True),
        (NULL, EARLY, "not_empty", False),
        (EARLY, NULL, "not_empty", True),
        (EARLY, EARLY, "bogus", False),
    ],
)
def test_date_operators(left: str, right: str, operator: str, expected: bool) -> None:
    assert compare(left, right, "date", operator) is expected


def test_unknown_comparable_type_never_matches() -> None:
    assert compare("a", "a", "float", "eq") is False


# ------------------------------------------------------------------ id and set conditions


@pytest.mark.parametrize(
    ("operator", "ids", "has_company", "expected"),
    [
        ("eq", ("comp_1",), True, True),
        ("eq", ("comp_2", "comp_1"), True, True),
        ("eq", ("comp_2",), True, False),
        ("eq", (), True, False),
        ("ne", ("comp_2",), True, True),
        ("ne", ("comp_1",), True, False),
        ("eq", ("comp_1",), False, False),
        ("ne", ("comp_2",), False, False),
        ("gt", ("comp_1",), True, False),
        ("is_empty", (), True, False),
    ],
)
def test_company_condition(operator: str, ids: tuple[str, ...], has_company: bool, expected: bool) -> None:
    c = cond("company", operator, resource_ids=ids)
    assert condition_matches(c, company() if has_company else None, user()) is expected


@pytest.mark.parametrize(
    ("operator", "ids", "has_user", "expected"),
    [
        ("eq", ("user_1",), True, True),
        ("eq", ("user_2",), True, False),
        ("ne", ("user_2",), True, True),
        ("ne", ("user_1",), True, False),
        ("eq", ("user_1",), False, False),
        ("ne", ("user_2",), False, False),
        ("lt", ("user_1",), True, False),
    ],
)
def test_user_condition(operator: str, ids: tuple[str, ...], has_user: bool, expected: bool) -> None:
    c = cond("user", operator, resource_ids=ids)
    assert condition_matches(c, company(), user() if has_user else None) is expected


@pytest.mark.parametrize(
    ("condition_type", "member"),
    [("plan", "plan_addon"), ("plan", "plan_base"), ("plan_version", "pv_1"), ("billing_product", "bp_1")],
)
@pytest.mark.parametrize(
    ("operator", "with_member", "has_company", "expected"),
    [
        ("eq", True, True, True),
        ("eq", False, True, False),
        ("ne", True, True, False),
        ("ne", False, True, True),
        ("eq", True, False, False),
        ("ne", False, False, False),
        ("gte", True, True, False),
    ],
)
def test_set_conditions(
    condition_type: str, member: str, operator: str, with_member: bool, has_company: bool, expected: bool
) -> None:
    ids = ("other", member) if with_member else ("other",)
    c = cond(condition_type, operator, resource_ids=ids)
    assert condition_matches(c, company() if has_company else None, None) is expected


@pytest.mark.parametrize(
    ("operator", "ids", "base_plan", "expected"),
    [
        ("eq", ("plan_base",), "plan_base", True),
        ("eq", ("plan_addon",), "plan_base", False),
        ("eq", ("plan_base",), None, False),
        ("ne", ("plan_addon",), "plan_base", True),
        ("ne", ("plan_base",), "plan_base", False),
        ("ne", ("plan_base",), None, True),
        ("is_empty", (), None, True),
        ("is_empty", (), "plan_base", False),
        ("not_empty", (), "plan_base", True),
        ("not_empty", (), None, False),
        ("gt", ("plan_base",), "plan_base", False),
    ],
)
def test_base_plan_condition(operator: str, ids: tuple[str, ...], base_plan: str | None, expected: bool) -> None:
    c = cond("base_plan", operator, resource_ids=ids)
    assert condition_matches(c, company(base_plan_id=base_plan), None) is expected


@pytest.mark.parametrize("operator", ["eq", "ne", "is_empty", "not_empty"])
def test_base_plan_condition_needs_company(operator: str) -> None:
    assert condition_matches(cond("base_plan", operator, resource_ids=("x",)), None, user()) is False


def test_unknown_condition_type_never_matches() -> None:
    assert condition_matches(cond("segment", "eq", resource_ids=("comp_1",)), company(), user()) is False


# ------------------------------------------------------------------ trait conditions


@pytest.mark.parametrize(
    ("entity", "has_company", "has_user", "expected"),
    [
        ("company", True, True, True),
        ("company", True, False, True),
        ("company", False, True, False),
        ("user", True, True, True),
        ("user", False, True, True),
        ("user", True, False, False),
    ],
)
def test_trait_entity(entity: str, has_company: bool, has_user: bool, expected: bool) -> None:
    c = cond("trait", "eq", trait=trait("tier", entity=entity), trait_value="pro")
    co = company(traits={"tier": "pro"}) if has_company else None
    us = user(traits={"tier": "pro"}) if has_user else None
    assert condition_matches(c, co, us) is expected


def test_trait_reads_the_right_entity() -> None:
    c = cond("trait", "eq", trait=trait("tier", entity="user"), trait_value="pro")
    assert condition_matches(c, company(traits={"tier": "pro"}), user(traits={"tier": "free"})) is False


@pytest.mark.parametrize(
    ("ctype", "operator", "trait_value", "expected"),
    [
        ("string", "is_empty", "", True),
        ("string", "eq", "", True),
        ("string", "not_empty", "", False),
        ("int", "is_empty", "", True),
        ("int", "eq", "0", True),
        ("bool", "eq", "false", True),
        ("bool", "not_empty", "", True),
        ("date", "is_empty", "", True),
    ],
)
def test_missing_trait_reads_as_empty_string(ctype: str, operator: str, trait_value: str, expected: bool) -> None:
    c = cond("trait", operator, trait=trait("absent", ctype), trait_value=trait_value)
    assert condition_matches(c, company(), None) is expected


@pytest.mark.parametrize(
    ("ctype", "traits", "operator", "expected"),
    [
        ("int", {"used": "4", "limit": "5"}, "lt", True),
        ("int", {"used": "5", "limit": "5"}, "lt", False),
        ("int", {"used": "5", "limit": "5"}, "gte", True),
        ("int", {"used": "4"}, "lt", False),
        ("int", {"used": "-1"}, "lt", True),  # missing comparison trait reads "" -> 0
        ("string", {"used": "b", "limit": "a"}, "gt", True),
        ("string", {"used": "x"}, "eq", False),
        ("date", {"used": "2026-01-01", "limit": "2026-02-01"}, "lt", True),
        ("bool", {"used": "true", "limit": "true"}, "eq", True),
    ],
)
def test_trait_comparison_trait(ctype: str, traits: dict[str, str], operator: str, expected: bool) -> None:
    c = cond(
        "trait", operator, trait=trait("used", ctype), comparison_trait=trait("limit", ctype), trait_value="ignored"
    )
    assert condition_matches(c, company(traits=traits), None) is expected


def test_trait_comparison_trait_uses_same_entity() -> None:
    c = cond("trait", "lt", trait=trait("used", "int", "user"), comparison_trait=trait("limit", "int", "user"))
    co = company(traits={"limit": "100"})
    assert condition_matches(c, co, user(traits={"used": "1", "limit": "2"})) is True
    assert condition_matches(c, co, user(traits={"used": "1"})) is False


def test_trait_condition_without_definition_never_matches() -> None:
    assert condition_matches(cond("trait", "is_empty"), company(), user()) is False


@pytest.mark.parametrize(
    ("entitlement_rule", "usage", "expected"),
    [(True, None, True), (True, 0, True), (True, 1, False), (True, 5, False), (False, 1, True), (False, 50, True)],
)
def test_int_trait_preflight_usage_only_in_entitlement_rules(
    entitlement_rule: bool, usage: int | None, expected: bool
) -> None:
    c = cond("trait", "lt", trait=trait("seats", "int"), trait_value="10")
    pf = Preflight(usage=usage)
    assert condition_matches(c, company(traits={"seats": "9"}), None, pf, entitlement_rule=entitlement_rule) is expected


@pytest.mark.parametrize("ctype", ["string", "bool", "date"])
def test_preflight_usage_ignored_on_non_int_traits(ctype: str) -> None:
    c = cond("trait", "eq", trait=trait("t", ctype), trait_value="9")
    assert condition_matches(
        c, company(traits={"t": "9"}), None, Preflight(usage=3), entitlement_rule=True
    ) is condition_matches(c, company(traits={"t": "9"}), None)


# ------------------------------------------------------------------ metric conditions


def metric_cond(operator: str = "lt", value: int | None = 100, **kw: object) -> Condition:
    kw.setdefault("event_subtype", "api-call")
    return cond("metric", operator, metric_value=value, **kw)


MONTH = ("api-call", "current_month", "first_of_month")


@pytest.mark.parametrize(
    ("usage", "operator", "expected"),
    [
        (99, "lt", True),
        (100, "lt", False),
        (101, "lt", False),
        (99, "gte", False),
        (100, "gte", True),
        (101, "gte", True),
        (100, "eq", True),
        (99, "ne", True),
        (101, "gt", True),
        (100, "lte", True),
        (0, "is_empty", True),
        (5, "is_empty", False),
        (5, "not_empty", True),
        (0, "not_empty", False),
        (5, "bogus", False),
    ],
)
def test_metric_operators(usage: int, operator: str, expected: bool) -> None:
    c = metric_cond(operator, metric_period="current_month", month_reset="first_of_month")
    assert condition_matches(c, company(metrics={MONTH: usage}), None) is expected


def test_metric_lookup_defaults_to_all_time_first_of_month() -> None:
    seen: list[tuple[str, str, str]] = []

    def metric(s: str, p: str, r: str) -> int:
        seen.append((s, p, r))
        return 0

    co = CompanyContext(id="c", base_plan_id=None, plan_ids=frozenset(), traits={}, metric=metric)
    assert condition_matches(metric_cond(), co, None) is True
    assert seen == [("api-call", "all_time", "first_of_month")]
    condition_matches(metric_cond(metric_period="current_month", month_reset="billing_cycle"), co, None)
    assert seen[-1] == ("api-call", "current_month", "billing_cycle")


def test_metric_missing_counter_reads_zero() -> None:
    assert condition_matches(metric_cond("eq", 0), company(), None) is True


@pytest.mark.parametrize(
    ("traits", "usage", "expected"),
    [
        ({"limit": "10"}, 9, True),
        ({"limit": "10"}, 10, False),
        ({}, 0, False),
        ({"limit": "abc"}, 0, False),
        ({"limit": "-5"}, 0, False),
    ],
)
def test_metric_comparison_trait(traits: dict[str, str], usage: int, expected: bool) -> None:
    c = metric_cond("lt", 0, comparison_trait=trait("limit", "int"))
    assert (
        condition_matches(c, company(traits=traits, metrics={("api-call", "all_time", "first_of_month"): usage}), None)
        is expected
    )


@pytest.mark.parametrize(
    "c",
    [
        metric_cond(value=None),
        metric_cond(value=None, comparison_trait=trait("limit", "int")),
        metric_cond(event_subtype=None),
    ],
)
def test_metric_condition_incomplete_never_matches(c: Condition) -> None:
    assert condition_matches(c, company(traits={"limit": "10"}), None) is False


def test_metric_condition_needs_company() -> None:
    assert condition_matches(metric_cond("gte", 0), None, user()) is False


ALL_TIME = ("api-call", "all_time", "first_of_month")


@pytest.mark.parametrize(
    ("preflight", "expected_left"),
    [
        (None, 95),
        (Preflight(), 95),
        (Preflight(usage=0), 95),
        (Preflight(usage=3), 98),
        (Preflight(event_usage=("api-call", 4)), 99),
        (Preflight(event_usage=("api-call", 4), usage=3), 99),  # event_usage wins over usage
        (Preflight(event_usage=("other", 4), usage=3), 98),  # other subtype -> usage
        (Preflight(event_usage=("other", 4)), 95),
        (Preflight(event_usage=("api-call", 0), usage=2), 97),  # zero is a no-op
    ],
)
def test_metric_preflight(preflight: Preflight | None, expected_left: int) -> None:
    co = company(metrics={ALL_TIME: 95})
    assert condition_matches(metric_cond("eq", expected_left), co, None, preflight) is True


# ------------------------------------------------------------------ credit conditions


def credit_cond(operator: str = "lt", rate: Decimal | None = D(5), **kw: object) -> Condition:
    kw.setdefault("credit_id", "cr_1")
    return cond("credit", operator, consumption_rate=rate, **kw)


@pytest.mark.parametrize(
    ("balance", "postpaid", "expected_allow"),
    [
        (D(6), {}, True),
        (D(5), {}, True),
        (D("4.99"), {}, False),
        (D(0), {}, False),
        (None, {}, False),
        (D(-1), {"cr_1": D(10)}, True),
        (D(5), {"cr_1": D(0)}, True),
        (D(4), {"cr_1": D(0)}, False),
        (D(-5), {"cr_1": D(10)}, True),
        (D(-6), {"cr_1": D(10)}, False),
        (None, {"cr_1": D(10)}, True),
        (D(-1000), {"cr_1": None}, True),
        (None, {"cr_1": None}, True),
        (D(0), {"cr_other": None}, False),
    ],
)
def test_credit_allow_and_exceeded(
    balance: Decimal | None, postpaid: dict[str, Decimal | None], expected_allow: bool
) -> None:
    co = company(credit_balances={} if balance is None else {"cr_1": balance}, credit_postpaid=postpaid)
    assert condition_matches(credit_cond("lt"), co, None) is expected_allow
    assert condition_matches(credit_cond("gte"), co, None) is (not expected_allow)


@pytest.mark.parametrize("operator", ["eq", "ne", "gt", "lte", "is_empty", "not_empty"])
def test_credit_other_operators_never_match(operator: str) -> None:
    co = company(credit_balances={"cr_1": D(100)})
    assert condition_matches(credit_cond(operator), co, None) is False


@pytest.mark.parametrize("c", [credit_cond(credit_id=None), credit_cond(credit_id=None, operator="gte")])
def test_credit_condition_without_credit_id_never_matches(c: Condition) -> None:
    assert condition_matches(c, company(credit_balances={"cr_1": D(100)}), None) is False


def test_credit_condition_needs_company() -> None:
    assert condition_matches(credit_cond("lt"), None, user()) is False
    assert condition_matches(credit_cond("gte"), None, user()) is False


def test_credit_rate_defaults_to_one() -> None:
    co = company(credit_balances={"cr_1": D(1)})
    assert condition_matches(credit_cond("lt", rate=None), co, None) is True
    assert condition_matches(credit_cond("lt", rate=None), company(credit_balances={"cr_1": D("0.5")}), None) is False


@pytest.mark.parametrize(
    ("preflight", "expected"),
    [
        (None, D(5)),
        (Preflight(), D(5)),
        (Preflight(usage=0), D(5)),
        (Preflight(usage=3), D(15)),
        (Preflight(event_usage=("api-call", 2), usage=3), D(10)),
        (Preflight(event_usage=("other", 2), usage=3), D(15)),
        (Preflight(event_usage=("api-call", 0), usage=3), D(15)),
        (Preflight(event_quantities={"in": 3, "out": 4}, event_usage=("api-call", 2), usage=9), D(35)),
        (Preflight(event_quantities={"in": 0}, event_usage=("api-call", 2)), D(10)),
        (Preflight(event_quantities={}, usage=2), D(10)),
        (Preflight(credit_cost={"cr_1": D(7)}, event_quantities={"in": 3}, usage=9), D(7)),
        (Preflight(credit_cost={"cr_1": D(0)}, usage=9), D(0)),  # an explicit cost is used as given
        (Preflight(credit_cost={"cr_other": D(7)}, usage=2), D(10)),
    ],
)
def test_credit_cost_precedence(preflight: Preflight | None, expected: Decimal) -> None:
    assert credit_cost(preflight, "cr_1", D(5), "api-call") == expected


def test_credit_cost_event_usage_needs_condition_subtype() -> None:
    assert credit_cost(Preflight(event_usage=("api-call", 2)), "cr_1", D(5), None) == D(5)


@pytest.mark.parametrize(
    ("cost", "balance", "expected"),
    [(D(12000), D(11500), False), (D(11500), D(11500), True), (D(100), D(11500), True)],
)
def test_credit_preflight_cost_gates(cost: Decimal, balance: Decimal, expected: bool) -> None:
    co = company(credit_balances={"cr_1": balance})
    assert condition_matches(credit_cond("lt"), co, None, Preflight(credit_cost={"cr_1": cost})) is expected


def test_covers_equality_allows() -> None:
    assert covers({"cr": D(3)}, {}, "cr", D(3)) is True
    assert covers({}, {}, "cr", D(0)) is True
    assert covers({}, {}, "cr", D("0.01")) is False


# ------------------------------------------------------------------ preflight validation


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"usage": -1}, "preflight.usage"),
        ({"event_usage": ("api-call", -2)}, "preflight.event_usage.quantity"),
        ({"event_quantities": {"in": 1, "out": -1}}, "preflight.event_quantities[out]"),
        ({"credit_cost": {"cr_1": D("-0.5")}}, "preflight.credit_cost[cr_1]"),
    ],
)
def test_preflight_rejects_negative_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPreflight, match=field.replace("[", r"\[").replace("]", r"\]")):
        Preflight(**kwargs)  # type: ignore[arg-type]


def test_invalid_preflight_is_value_error() -> None:
    assert issubclass(InvalidPreflight, ValueError)


def test_preflight_accepts_zero_values() -> None:
    Preflight(usage=0, event_usage=("e", 0), event_quantities={"a": 0}, credit_cost={"c": D(0)})


def test_non_utc_timezone_date_is_normalised() -> None:
    tz = timezone(timedelta(hours=9))
    assert parse_date("2026-03-18T23:05:00+09:00") == datetime(2026, 3, 18, 23, 5, tzinfo=tz)
