"""Compiling entitlements/overrides into rules (§2.8), worked scenarios (§2.9), most generous (§2.10)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.rules import (
    CompanyContext,
    CompileError,
    Condition,
    FeatureSpec,
    GrantSpec,
    Preflight,
    Rule,
    TraitRef,
    compile_grant,
    evaluate,
    most_generous,
)

NOW = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)
SEATS_USED = TraitRef("tr_used", "seats_used", "company", "int")
SEATS_LIMIT = TraitRef("tr_limit", "seats_allocated", "company", "int")
BETA = TraitRef("tr_beta", "beta", "company", "bool")
API = FeatureSpec("feat_api", "api-calls", "event", event_subtype="api-call")
SEATS = FeatureSpec("feat_seats", "seats", "trait", usage_trait=SEATS_USED)
LICENSES = FeatureSpec("feat_lic", "licenses", "license", usage_trait=SEATS_USED)
SSO = FeatureSpec("feat_sso", "sso", "boolean")


def grant(
    value_type: str,
    feature: FeatureSpec = API,
    source: str = "plan",
    scope_id: str = "plan_pro",
    scope_name: str = "Pro",
    gid: str | None = None,
    **kw: object,
) -> GrantSpec:
    gid = gid or f"{source}_{scope_id}_{feature.key}"
    return GrantSpec(
        id=gid,
        source=source,
        scope_id=scope_id,
        scope_name=scope_name,  # type: ignore[arg-type]
        feature=feature,
        value_type=value_type,
        rule_id=f"rule_{gid}",
        rule_id_usage_exceeded=f"rulex_{gid}",
        **kw,
    )  # type: ignore[arg-type]


def override(value_type: str, feature: FeatureSpec = API, **kw: object) -> GrantSpec:
    return grant(value_type, feature, source="override", scope_id="comp_acme", scope_name="Acme", **kw)


def scope(rule_id: str, source: str = "plan", scope_id: str = "plan_pro") -> Condition:
    return Condition(
        id=f"{rule_id}:scope",
        condition_type="plan" if source == "plan" else "company",
        operator="eq",
        resource_ids=(scope_id,),
    )


# ------------------------------------------------------------------ compile_grant (§2.8 table)


@pytest.mark.parametrize("value_bool", [True, False])
def test_boolean_grant(value_bool: bool) -> None:
    (allow,) = compile_grant(grant("boolean", SSO, value_bool=value_bool), flag_id="flag_sso")
    assert allow == Rule(
        id="rule_plan_plan_pro_sso",
        name="Pro: sso",
        rule_type="plan_entitlement",
        priority=0,
        value=value_bool,
        conditions=(scope("rule_plan_plan_pro_sso"),),
        flag_id="flag_sso",
        source_id="plan_plan_pro_sso",
    )


def test_boolean_grant_without_value_is_off() -> None:
    (allow,) = compile_grant(grant("boolean", SSO))
    assert allow.value is False


def test_unlimited_grant() -> None:
    (allow,) = compile_grant(grant("unlimited"))
    assert (allow.value, allow.rule_type, allow.conditions) == (
        True,
        "plan_entitlement",
        (scope("rule_plan_plan_pro_api-calls"),),
    )


def test_numeric_event_grant() -> None:
    g = grant("numeric", value_numeric=1000, metric_period="current_month", month_reset="billing_cycle")
    allow, exceeded = compile_grant(g)
    metric = Condition(
        id="rule_plan_plan_pro_api-calls:limit",
        condition_type="metric",
        operator="lt",
        event_subtype="api-call",
        metric_value=1000,
        metric_period="current_month",
        month_reset="billing_cycle",
    )
    assert allow == Rule(
        id=g.rule_id,
        name="Pro: api-calls",
        rule_type="plan_entitlement",
        priority=0,
        value=True,
        conditions=(scope(g.rule_id), metric),
        source_id=g.id,
    )
    assert exceeded == Rule(
        id=g.rule_id_usage_exceeded,
        name="Pro: api-calls (usage exceeded)",
        rule_type="plan_entitlement_usage_exceeded",
        priority=0,
        value=False,
        conditions=(
            scope(g.rule_id_usage_exceeded),
            replace(metric, id=f"{g.rule_id_usage_exceeded}:limit", operator="gte"),
        ),
        source_id=g.id,
    )


def test_numeric_event_grant_defaults_period() -> None:
    allow, _ = compile_grant(grant("numeric", value_numeric=5))
    assert (allow.conditions[1].metric_period, allow.conditions[1].month_reset) == ("all_time", "first_of_month")


@pytest.mark.parametrize("feature", [SEATS, LICENSES])
def test_numeric_trait_grant(feature: FeatureSpec) -> None:
    allow, exceeded = compile_grant(grant("numeric", feature, value_numeric=25))
    for r, operator in ((allow, "lt"), (exceeded, "gte")):
        limit = r.conditions[1]
        assert (limit.condition_type, limit.operator, limit.trait, limit.trait_value, limit.comparison_trait) == (
            "trait",
            operator,
            SEATS_USED,
            "25",
            None,
        )


def test_trait_valued_event_grant() -> None:
    allow, exceeded = compile_grant(grant("trait", value_trait=SEATS_LIMIT, metric_period="current_day"))
    for r, operator in ((allow, "lt"), (exceeded, "gte")):
        limit = r.conditions[1]
        assert (
            limit.condition_type,
            limit.operator,
            limit.event_subtype,
            limit.metric_value,
            limit.comparison_trait,
            limit.metric_period,
        ) == ("metric", operator, "api-call", 0, SEATS_LIMIT, "current_day")


def test_trait_valued_trait_grant() -> None:
    allow, exceeded = compile_grant(grant("trait", SEATS, value_trait=SEATS_LIMIT))
    for r, operator in ((allow, "lt"), (exceeded, "gte")):
        limit = r.conditions[1]
        assert (limit.condition_type, limit.operator, limit.trait, limit.comparison_trait) == (
            "trait",
            operator,
            SEATS_USED,
            SEATS_LIMIT,
        )


def test_credit_grant() -> None:
    allow, exceeded = compile_grant(grant("credit", credit_id="cr_ai", consumption_rate=Decimal("2.5")))
    for r, operator in ((allow, "lt"), (exceeded, "gte")):
        limit = r.conditions[1]
        assert (limit.condition_type, limit.operator, limit.credit_id, limit.consumption_rate, limit.event_subtype) == (
            "credit",
            operator,
            "cr_ai",
            Decimal("2.5"),
            "api-call",
        )
    assert (allow.value, exceeded.value) == (True, False)


@pytest.mark.parametrize(
    ("value_type", "kw", "feature"),
    [
        ("boolean", {"value_bool": False}, SSO),
        ("unlimited", {}, API),
        ("numeric", {"value_numeric": 9}, API),
        ("trait", {"value_trait": SEATS_LIMIT}, SEATS),
        ("credit", {"credit_id": "cr"}, API),
    ],
)
def test_override_rules(value_type: str, kw: dict[str, object], feature: FeatureSpec) -> None:
    expires = NOW + timedelta(days=3)
    rules = compile_grant(override(value_type, feature, expires_at=expires, **kw), flag_id="flag_x")
    assert rules[0].rule_type == "company_override"
    assert rules[0].name == f"Acme: {feature.key}"
    assert rules[0].conditions[0] == scope(rules[0].id, "override", "comp_acme")
    if len(rules) == 2:
        assert rules[1].rule_type == "company_override_usage_exceeded"
        assert rules[1].name == f"Acme: {feature.key} (usage exceeded)"
    assert all(r.expires_at == expires and r.flag_id == "flag_x" for r in rules)


def test_plan_rules_never_expire() -> None:
    rules = compile_grant(grant("numeric", value_numeric=3, expires_at=NOW))
    assert all(r.expires_at is None for r in rules)


@pytest.mark.parametrize(
    ("value_type", "feature", "kw"),
    [
        ("numeric", API, {}),  # no value_numeric
        ("numeric", SSO, {"value_numeric": 5}),  # boolean feature has nothing to count
        ("trait", API, {}),  # no limit trait
        ("trait", SSO, {"value_trait": SEATS_LIMIT}),
        ("credit", API, {}),  # no credit id
        ("unknown", API, {"value_numeric": 5}),
        ("numeric", FeatureSpec("f", "k", "event"), {"value_numeric": 5}),  # no event subtype
        ("numeric", FeatureSpec("f", "k", "trait"), {"value_numeric": 5}),  # no usage trait
    ],
)
def test_compile_errors(value_type: str, feature: FeatureSpec, kw: dict[str, object]) -> None:
    with pytest.raises(CompileError):
        compile_grant(grant(value_type, feature, **kw))


def test_compile_error_is_value_error() -> None:
    assert issubclass(CompileError, ValueError)


# ------------------------------------------------------------------ §2.9 worked scenarios


def acme(
    usage: int = 0,
    plans: Sequence[str] = ("plan_pro",),
    traits: Mapping[str, str] | None = None,
    balance: Decimal | None = None,
) -> CompanyContext:
    return CompanyContext(
        id="comp_acme",
        base_plan_id=plans[0],
        plan_ids=frozenset(plans),
        traits=traits or {},
        metric=lambda s, p, r: usage if s == "api-call" else 0,
        credit_balances={} if balance is None else {"cr_ai": balance},
    )


def check(
    rules: Sequence[Rule], co: CompanyContext, preflight: Preflight | None = None, now: datetime = NOW
) -> tuple[bool, str | None]:
    r = evaluate(
        flag_key="api-calls",
        flag_id="flag_api",
        default_value=False,
        rules=[*rules, Rule("rule_default", "default", "default", 0, False)],
        company=co,
        user=None,
        now=now,
        preflight=preflight,
    )
    return r.value, r.rule_type


def monthly(n: int, source: str = "plan", **kw: object) -> GrantSpec:
    make = grant if source == "plan" else override
    return make("numeric", value_numeric=n, metric_period="current_month", **kw)


BETA_RULE = Rule(
    "rule_beta", "Beta", "standard", 1, True, (Condition("c_beta", "trait", "eq", trait=BETA, trait_value="true"),)
)

SCENARIOS = [
    ("plan 1000, usage 999", [monthly(1000)], acme(999), True, "plan_entitlement"),
    ("plan 1000, usage 1000", [monthly(1000)], acme(1000), False, "plan_entitlement_usage_exceeded"),
    (
        "plan 1000 + override 500, usage 700",
        [monthly(1000), monthly(500, "override")],
        acme(700),
        True,
        "plan_entitlement",
    ),
    (
        "plan 1000 + override 500, usage 1200",
        [monthly(1000), monthly(500, "override")],
        acme(1200),
        False,
        "company_override_usage_exceeded",
    ),
    (
        "plan 1000 + override 5000, usage 3000",
        [monthly(1000), monthly(5000, "override")],
        acme(3000),
        True,
        "company_override",
    ),
    (
        "plan bool true + override bool false",
        [grant("boolean", value_bool=True), override("boolean", value_bool=False)],
        acme(),
        False,
        "company_override",
    ),
    (
        "plan 1000 + override bool false, usage 10",
        [monthly(1000), override("boolean", value_bool=False)],
        acme(10),
        False,
        "company_override",
    ),
    (
        "plan 0 + standard beta rule",
        [monthly(0)],
        acme(0, traits={"beta": "true"}),
        False,
        "plan_entitlement_usage_exceeded",
    ),
    (
        "base 100/day + add-on unlimited, usage 5000",
        [
            grant("numeric", value_numeric=100, metric_period="current_day"),
            grant("unlimited", scope_id="plan_addon", scope_name="Add-on"),
        ],
        acme(5000, plans=("plan_pro", "plan_addon")),
        True,
        "plan_entitlement",
    ),
]


@pytest.mark.parametrize(("label", "grants", "co", "value", "rule_type"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_worked_scenarios(label: str, grants: list[GrantSpec], co: CompanyContext, value: bool, rule_type: str) -> None:
    rules = [r for g in grants for r in compile_grant(g, flag_id="flag_api")] + [BETA_RULE]
    assert check(rules, co) == (value, rule_type)


def test_addon_rule_is_the_one_that_matches() -> None:
    rules = [
        *compile_grant(grant("numeric", value_numeric=100, metric_period="current_day")),
        *compile_grant(grant("unlimited", scope_id="plan_addon", scope_name="Add-on")),
    ]
    r = evaluate(
        flag_key="api-calls",
        flag_id="flag_api",
        default_value=False,
        rules=rules,
        company=acme(5000, plans=("plan_pro", "plan_addon")),
        user=None,
        now=NOW,
    )
    assert r.reason == 'Matched plan entitlement rule "Add-on: api-calls" (rule_plan_plan_addon_api-calls)'


def test_no_entitlement_global_override_false() -> None:
    rules = [Rule("rule_g", "Kill switch", "global_override", 0, False), BETA_RULE]
    assert check(rules, acme(traits={"beta": "true"})) == (False, "global_override")


def test_plan_rules_do_not_apply_to_other_plans() -> None:
    rules = compile_grant(monthly(1000))
    assert check(rules, acme(5000, plans=("plan_free",))) == (False, "default")


def test_override_rules_do_not_apply_to_other_companies() -> None:
    rules = compile_grant(override("boolean", value_bool=True))
    other = replace(acme(), id="comp_other")
    assert check(rules, other) == (False, "default")


@pytest.mark.parametrize("usage", [0, 1, 10**9])
def test_limit_zero_never_allows(usage: int) -> None:
    assert check(compile_grant(monthly(0)), acme(usage)) == (False, "plan_entitlement_usage_exceeded")


@pytest.mark.parametrize(
    ("now", "usage", "expected"),
    [
        (NOW - timedelta(seconds=1), 3000, (True, "company_override")),
        (NOW, 3000, (False, "plan_entitlement_usage_exceeded")),
        (NOW - timedelta(seconds=1), 900, (True, "company_override")),
        (NOW, 900, (True, "plan_entitlement")),
    ],
)
def test_expired_override_falls_back_to_plan(now: datetime, usage: int, expected: tuple[bool, str]) -> None:
    rules = [*compile_grant(monthly(1000)), *compile_grant(monthly(5000, "override", expires_at=NOW))]
    assert check(rules, acme(usage), now=now) == expected


def test_expired_negative_override_restores_plan() -> None:
    rules = [
        *compile_grant(grant("boolean", value_bool=True)),
        *compile_grant(override("boolean", value_bool=False, expires_at=NOW)),
    ]
    assert check(rules, acme(), now=NOW - timedelta(seconds=1)) == (False, "company_override")
    assert check(rules, acme(), now=NOW) == (True, "plan_entitlement")


@pytest.mark.parametrize(
    ("traits", "usage_pf", "expected"),
    [
        ({"seats_used": "4", "seats_allocated": "5"}, None, (True, "plan_entitlement")),
        ({"seats_used": "5", "seats_allocated": "5"}, None, (False, "plan_entitlement_usage_exceeded")),
        ({"seats_used": "4", "seats_allocated": "5"}, 1, (False, "plan_entitlement_usage_exceeded")),
        ({"seats_used": "0"}, None, (False, "plan_entitlement_usage_exceeded")),
    ],
)
def test_pay_in_advance_seats(traits: dict[str, str], usage_pf: int | None, expected: tuple[bool, str]) -> None:
    rules = compile_grant(grant("trait", SEATS, value_trait=SEATS_LIMIT))
    assert check(rules, acme(traits=traits), Preflight(usage=usage_pf)) == expected


@pytest.mark.parametrize(
    ("balance", "preflight", "expected"),
    [
        (Decimal(11500), Preflight(credit_cost={"cr_ai": Decimal(12000)}), (False, "plan_entitlement_usage_exceeded")),
        (Decimal(11500), None, (True, "plan_entitlement")),
        (Decimal(5), None, (True, "plan_entitlement")),
        (Decimal(4), None, (False, "plan_entitlement_usage_exceeded")),
        (None, None, (False, "plan_entitlement_usage_exceeded")),
    ],
)
def test_credit_burndown(balance: Decimal | None, preflight: Preflight | None, expected: tuple[bool, str]) -> None:
    rules = compile_grant(grant("credit", credit_id="cr_ai", consumption_rate=Decimal(5)))
    assert check(rules, acme(balance=balance), preflight) == expected


# ------------------------------------------------------------------ most generous (§2.10)


def pick(*grants: GrantSpec, traits: Mapping[str, str] | None = None, now: datetime = NOW) -> str | None:
    chosen = most_generous(grants, now, traits)
    return None if chosen is None else chosen.id


def g(
    gid: str, value_type: str = "numeric", feature: FeatureSpec = API, source: str = "plan", **kw: object
) -> GrantSpec:
    return grant(value_type, feature, source=source, gid=gid, **kw)


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        (g("a", "unlimited"), g("b", value_numeric=10**9, metric_period="current_day"), "a"),
        (g("a", value_numeric=10, metric_period="current_day"), g("b", "unlimited"), "b"),
        (g("a", feature=SEATS, value_numeric=5), g("b", feature=SEATS, value_numeric=7), "b"),
        (g("a", value_numeric=5, metric_period="current_day"), g("b", feature=SEATS, value_numeric=500), "a"),
        (g("a", feature=SEATS, value_numeric=500), g("b", value_numeric=5, metric_period="current_week"), "b"),
        (
            g("a", value_numeric=1000, metric_period="current_month"),
            g("b", value_numeric=50, metric_period="current_day"),
            "b",
        ),
        (
            g("a", value_numeric=300, metric_period="current_week"),
            g("b", value_numeric=1000, metric_period="current_month"),
            "a",
        ),
        (
            g("a", value_numeric=70, metric_period="current_week"),
            g("b", value_numeric=10, metric_period="current_day"),
            "a",
        ),  # tie
        (g("a", value_numeric=500), g("b", value_numeric=400, metric_period="current_day"), "a"),  # all_time raw
        (g("a", value_numeric=300), g("b", value_numeric=400, metric_period="current_day"), "b"),
        (g("a", value_numeric=1000), g("b", value_numeric=500, source="override"), "a"),
        (g("a", value_numeric=500), g("b", value_numeric=5000, source="override"), "b"),
        (g("a", value_numeric=500), g("b", value_numeric=500, source="override"), "b"),  # tie: override
        (g("a", "credit", credit_id="cr"), g("b", value_numeric=5), "a"),
        (g("a", "boolean", SSO, value_bool=False), g("b", "boolean", SSO, value_bool=True), "b"),
        (g("a", "boolean", SSO, value_bool=True), g("b", "boolean", SSO, value_bool=True), "a"),
    ],
)
def test_most_generous_pairs(a: GrantSpec, b: GrantSpec, winner: str) -> None:
    assert pick(a, b) == winner


def test_most_generous_trait_limits_use_company_traits() -> None:
    a = g("a", "trait", SEATS, value_trait=SEATS_LIMIT)
    b = g("b", feature=SEATS, value_numeric=10)
    assert pick(a, b, traits={"seats_allocated": "12"}) == "a"
    assert pick(a, b, traits={"seats_allocated": "8"}) == "b"
    assert pick(a, b) == "b"


@pytest.mark.parametrize(
    "plan",
    [g("p", "boolean", SSO, value_bool=True), g("p", "unlimited"), g("p", value_numeric=10**6)],
)
def test_boolean_override_replaces_plan(plan: GrantSpec) -> None:
    ov = g("ov", "boolean", SSO, source="override", value_bool=False)
    assert pick(plan, ov) == "ov"
    assert pick(ov, plan) == "ov"


@pytest.mark.parametrize(("now", "winner"), [(NOW - timedelta(microseconds=1), "ov"), (NOW, "p")])
def test_most_generous_ignores_expired_overrides(now: datetime, winner: str) -> None:
    plan = g("p", "boolean", SSO, value_bool=True)
    ov = g("ov", "boolean", SSO, source="override", value_bool=False, expires_at=NOW)
    assert pick(plan, ov, now=now) == winner


def test_most_generous_empty() -> None:
    assert pick() is None
    assert pick(g("ov", "unlimited", source="override", expires_at=NOW)) is None


def test_most_generous_three_way() -> None:
    grants = (
        g("a", value_numeric=100, metric_period="current_month"),
        g("b", value_numeric=10, metric_period="current_day"),
        g("c", value_numeric=50, metric_period="current_week"),
    )
    assert pick(*grants) == "b"
