"""Group precedence, matching, reasons, expiry and rollout (§2.3, §2.4, §2.7, §2.14)."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from domain.rules import (
    RULE_TYPE_ORDER,
    CompanyContext,
    Condition,
    Evaluation,
    Preflight,
    PreparedRules,
    Rule,
    RuleType,
    TraitRef,
    UserContext,
    evaluate,
    order_rules,
    prepare_rules,
    rollout_bucket,
)

NOW = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)
TIER = TraitRef("tr_tier", "tier", "company", "string")
ROLE = TraitRef("tr_role", "role", "user", "string")


def company(
    id: str = "comp_1",
    traits: Mapping[str, str] | None = None,
    plans: Sequence[str] = ("plan_pro",),
    metrics: Mapping[str, int] | None = None,
) -> CompanyContext:
    m = dict(metrics or {})
    return CompanyContext(
        id=id,
        base_plan_id=plans[0] if plans else None,
        plan_ids=frozenset(plans),
        traits=traits or {},
        metric=lambda s, p, r: m.get(s, 0),
    )


def user(id: str = "user_1", traits: Mapping[str, str] | None = None) -> UserContext:
    return UserContext(id=id, traits=traits or {})


def rule(
    id: str,
    rule_type: RuleType = "standard",
    value: bool = True,
    priority: int = 0,
    conditions: tuple[Condition, ...] = (),
    **kw: object,
) -> Rule:
    return Rule(
        id=id, name=f"Rule {id}", rule_type=rule_type, priority=priority, value=value, conditions=conditions, **kw
    )  # type: ignore[arg-type]


def tier_is(value: str, cid: str = "c_tier") -> Condition:
    return Condition(id=cid, condition_type="trait", operator="eq", trait=TIER, trait_value=value)


def company_is(*ids: str) -> Condition:
    return Condition(id="c_co", condition_type="company", operator="eq", resource_ids=ids)


NEVER = company_is("nobody")
ALWAYS = Condition(id="c_any", condition_type="company", operator="ne", resource_ids=("nobody",))


def run(
    rules: Sequence[Rule] | PreparedRules,
    *,
    default_value: bool = False,
    co: CompanyContext | None = None,
    us: UserContext | None = None,
    now: datetime = NOW,
    preflight: Preflight | None = None,
    company_missing: bool = False,
    user_missing: bool = False,
    flag_key: str = "my-flag",
) -> Evaluation:
    return evaluate(
        flag_key=flag_key,
        flag_id="flag_1",
        default_value=default_value,
        rules=rules,
        company=co,
        user=us,
        now=now,
        preflight=preflight,
        company_missing=company_missing,
        user_missing=user_missing,
    )


# ------------------------------------------------------------------ ordering


def test_rule_type_order() -> None:
    assert RULE_TYPE_ORDER == (
        "global_override",
        "company_override",
        "plan_entitlement",
        "company_override_usage_exceeded",
        "plan_entitlement_usage_exceeded",
        "standard",
        "default",
    )


def test_order_rules_groups_and_sorts() -> None:
    rules = [
        rule("d", "default"),
        rule("s2", "standard", priority=2),
        rule("sb", "standard", priority=1),
        rule("sa", "standard", priority=1),
        rule("pe_false", "plan_entitlement", value=False),
        rule("pe_true", "plan_entitlement", value=True),
        rule("pe_false2", "plan_entitlement", value=False),
        rule("pe_true2", "plan_entitlement", value=True),
        rule("px_false", "plan_entitlement_usage_exceeded", value=False),
        rule("px_true", "plan_entitlement_usage_exceeded", value=True),
        rule("cx_false", "company_override_usage_exceeded", value=False),
        rule("cx_true", "company_override_usage_exceeded", value=True),
        rule("co_false", "company_override", value=False),
        rule("co_true", "company_override", value=True),
        rule("g2", "global_override", value=False),
        rule("g1", "global_override"),
        rule("weird", "mystery"),  # type: ignore[arg-type]
    ]
    assert [r.id for r in order_rules(rules)] == [
        "g2",
        "g1",
        "co_true",
        "co_false",
        "pe_true",
        "pe_true2",
        "pe_false",
        "pe_false2",
        "cx_true",
        "cx_false",
        "px_true",
        "px_false",
        "sa",
        "sb",
        "s2",
        "d",
    ]


@pytest.mark.parametrize(("higher", "lower"), list(itertools.combinations(RULE_TYPE_ORDER, 2)))
def test_group_precedence(higher: RuleType, lower: RuleType) -> None:
    rules = [rule("low", lower, value=False), rule("high", higher, value=True)]
    result = run(rules, co=company())
    assert (result.value, result.rule_type, result.rule_id) == (True, higher, "high")


@pytest.mark.parametrize(
    "rule_type",
    ["company_override", "plan_entitlement", "company_override_usage_exceeded", "plan_entitlement_usage_exceeded"],
)
def test_entitlement_groups_try_true_rules_first(rule_type: RuleType) -> None:
    rules = [rule("deny", rule_type, value=False), rule("allow", rule_type, value=True)]
    assert run(rules, co=company()).rule_id == "allow"
    rules = [rule("deny", rule_type, value=False), rule("allow", rule_type, value=True, conditions=(NEVER,))]
    assert run(rules, co=company()).rule_id == "deny"


def test_standard_rules_by_priority_then_id() -> None:
    rules = [rule("b", priority=1, value=False), rule("z", priority=0), rule("a", priority=1)]
    assert run(rules, co=company()).rule_id == "z"
    assert run([rule("b", priority=1, value=False), rule("a", priority=1)], co=company()).rule_id == "a"


def test_first_match_in_group_order_wins_over_later_match() -> None:
    rules = [rule("s1", priority=1, conditions=(NEVER,)), rule("s2", priority=2, value=False)]
    assert run(rules, default_value=True, co=company()).rule_id == "s2"


# ------------------------------------------------------------------ matching


@pytest.mark.parametrize("rule_type", ["global_override", "default"])
def test_unconditional_rule_types_ignore_conditions(rule_type: RuleType) -> None:
    result = run([rule("r", rule_type, conditions=(NEVER,))])
    assert result.rule_id == "r"


@pytest.mark.parametrize(
    "rule_type",
    [
        "company_override",
        "plan_entitlement",
        "company_override_usage_exceeded",
        "plan_entitlement_usage_exceeded",
        "standard",
    ],
)
@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ((), True),
        ((ALWAYS,), True),
        ((NEVER,), False),
        ((ALWAYS, NEVER), False),
        ((ALWAYS, ALWAYS), True),
        ((ALWAYS, ALWAYS, ALWAYS), True),
        ((ALWAYS, ALWAYS, NEVER), False),
    ],
)
def test_conditional_rule_types(rule_type: RuleType, conditions: tuple[Condition, ...], matches: bool) -> None:
    result = run([rule("r", rule_type, conditions=conditions)], co=company())
    assert (result.rule_id == "r") is matches


@pytest.mark.parametrize(
    ("conditions", "groups", "matches"),
    [
        ((), ((NEVER, ALWAYS),), True),  # a group is an OR
        ((), ((NEVER, NEVER),), False),
        ((), ((ALWAYS,), (NEVER, ALWAYS)), True),  # groups are ANDed
        ((), ((ALWAYS,), (NEVER,)), False),
        ((ALWAYS,), ((NEVER, ALWAYS),), True),  # and ANDed with top-level conditions
        ((NEVER,), ((ALWAYS,),), False),
        ((ALWAYS, ALWAYS), ((ALWAYS,), (ALWAYS, NEVER)), True),
        ((), ((),), False),  # an empty group has nothing to match
    ],
)
def test_condition_groups(
    conditions: tuple[Condition, ...], groups: tuple[tuple[Condition, ...], ...], matches: bool
) -> None:
    r = rule("r", conditions=conditions, condition_groups=groups)
    assert (run([r], co=company()).rule_id == "r") is matches


def test_conditions_evaluated_against_context() -> None:
    r = rule(
        "r",
        conditions=(tier_is("enterprise"),),
        condition_groups=(
            (Condition("c_role", "trait", "eq", trait=ROLE, trait_value="admin"), company_is("comp_vip")),
        ),
    )
    ent = company(traits={"tier": "enterprise"})
    assert run([r], co=ent, us=user(traits={"role": "admin"})).value is True
    assert run([r], co=ent, us=user(traits={"role": "viewer"})).value is False
    assert run([r], co=company("comp_vip", traits={"tier": "enterprise"}), us=None).value is True
    assert run([r], co=company(traits={"tier": "free"}), us=user(traits={"role": "admin"})).value is False


# ------------------------------------------------------------------ reasons


@pytest.mark.parametrize(
    ("rule_type", "words"),
    [
        ("global_override", "global override"),
        ("company_override", "company override"),
        ("plan_entitlement", "plan entitlement"),
        ("company_override_usage_exceeded", "company override usage exceeded"),
        ("plan_entitlement_usage_exceeded", "plan entitlement usage exceeded"),
        ("standard", "standard"),
        ("default", "default"),
    ],
)
def test_matched_reason(rule_type: RuleType, words: str) -> None:
    r = Rule(id="rule_01H", name="Pro: api-calls", rule_type=rule_type, priority=0, value=True)
    result = run([r], co=company())
    assert result.reason == f'Matched {words} rule "Pro: api-calls" (rule_01H)'
    assert (result.value, result.rule, result.rule_type, result.rule_id) == (True, r, rule_type, "rule_01H")


@pytest.mark.parametrize("default_value", [True, False])
@pytest.mark.parametrize(
    ("has_company", "has_user", "company_missing", "user_missing", "reason"),
    [
        (True, False, False, False, "No rules matched; default value for flag"),
        (False, True, False, False, "No rules matched; default value for flag"),
        (True, True, False, False, "No rules matched; default value for flag"),
        (False, False, False, False, "No company or user context; default value for flag"),
        (False, False, True, False, "Company not found"),
        (False, True, True, False, "Company not found"),
        (True, False, False, True, "User not found"),
        (False, False, False, True, "User not found"),
        (False, False, True, True, "Company not found"),
    ],
)
def test_no_match_reasons(
    default_value: bool, has_company: bool, has_user: bool, company_missing: bool, user_missing: bool, reason: str
) -> None:
    rules = [rule("s", conditions=(NEVER,), value=not default_value)]
    result = run(
        rules,
        default_value=default_value,
        co=company() if has_company else None,
        us=user() if has_user else None,
        company_missing=company_missing,
        user_missing=user_missing,
    )
    assert (result.value, result.reason, result.rule, result.rule_type, result.rule_id) == (
        default_value,
        reason,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("company_missing", "user_missing", "reason"),
    [
        (True, False, "Company not found"),
        (False, True, "User not found"),
        (True, True, "Company not found"),
        (False, False, 'Matched default rule "Rule d" (d)'),
    ],
)
def test_missing_entity_reason_on_default_rule(company_missing: bool, user_missing: bool, reason: str) -> None:
    result = run([rule("d", "default", value=True)], company_missing=company_missing, user_missing=user_missing)
    assert (result.value, result.reason, result.rule_type, result.rule_id) == (True, reason, "default", "d")


def test_default_rule_with_no_context_keeps_matched_reason() -> None:
    assert run([rule("d", "default")]).reason == 'Matched default rule "Rule d" (d)'


@pytest.mark.parametrize("rule_type", ["global_override", "standard"])
def test_missing_entity_does_not_replace_a_real_match(rule_type: RuleType) -> None:
    result = run([rule("r", rule_type)], company_missing=True, user_missing=True)
    assert result.reason.startswith("Matched ")


# ------------------------------------------------------------------ expiry


@pytest.mark.parametrize(
    ("now", "applies"),
    [(NOW - timedelta(microseconds=1), True), (NOW, False), (NOW + timedelta(seconds=1), False)],
)
def test_expired_override_ignored_from_exact_instant(now: datetime, applies: bool) -> None:
    rules = [
        rule("ov", "company_override", value=False, conditions=(company_is("comp_1"),), expires_at=NOW),
        rule("pe", "plan_entitlement", value=True),
    ]
    assert run(rules, co=company(), now=now).rule_id == ("ov" if applies else "pe")


def test_expiry_compares_instants_across_timezones() -> None:
    from datetime import timezone

    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    rules = [rule("ov", "company_override", expires_at=tokyo)]
    assert run(rules, co=company(), now=NOW).rule_id is None


def test_naive_now_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run([rule("d", "default")], now=datetime(2026, 3, 18))


# ------------------------------------------------------------------ preflight through the engine


def metered(limit: int) -> list[Rule]:
    metric = {"condition_type": "metric", "event_subtype": "api-call", "metric_value": limit}
    return [
        rule("allow", "plan_entitlement", conditions=(Condition("a", operator="lt", **metric),)),  # type: ignore[arg-type]
        rule(
            "deny",
            "plan_entitlement_usage_exceeded",
            value=False,
            conditions=(Condition("x", operator="gte", **metric),),
        ),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("usage", "preflight", "expected"),
    [
        (999, None, "allow"),
        (999, Preflight(usage=1), "deny"),
        (998, Preflight(usage=1), "allow"),
        (990, Preflight(event_usage=("api-call", 10)), "deny"),
        (990, Preflight(event_usage=("other", 10)), "allow"),
        (1000, None, "deny"),
        (1000, Preflight(usage=0), "deny"),
    ],
)
def test_preflight_simulates_usage(usage: int, preflight: Preflight | None, expected: str) -> None:
    result = run(metered(1000), co=company(metrics={"api-call": usage}), preflight=preflight)
    assert result.rule_id == expected


# ------------------------------------------------------------------ prepared rules


def test_prepared_rules_is_an_ordered_tuple_of_rules() -> None:
    rules = [rule("d", "default"), rule("s", priority=3), rule("g", "global_override")]
    prepared = prepare_rules(rules)
    assert isinstance(prepared, tuple)
    assert [r.id for r in prepared] == ["g", "s", "d"]
    assert prepare_rules(prepared) is prepared
    assert PreparedRules(prepared) == prepared


def test_prepared_and_raw_rules_agree() -> None:
    rules = [
        rule("s1", priority=1, conditions=(tier_is("pro"),)),
        rule("s2", priority=2, value=False),
        rule("d", "default"),
    ]
    for co in (company(traits={"tier": "pro"}), company(traits={"tier": "free"}), None):
        assert run(rules, co=co) == run(prepare_rules(rules), co=co)


def test_prepare_rules_filters_other_flags() -> None:
    rules = [
        rule("other", "global_override", flag_id="flag_2"),
        rule("mine", "global_override", flag_id="flag_1"),
        rule("unbound", "default"),
    ]
    assert [r.id for r in prepare_rules(rules, flag_id="flag_1")] == ["mine", "unbound"]
    assert run(rules).rule_id == "mine"  # evaluate() filters a raw sequence by its flag_id


def test_prepared_rules_pickle_round_trip() -> None:
    prepared = prepare_rules([rule("s", conditions=(tier_is("pro"),)), rule("d", "default", value=False)])
    clone = pickle.loads(pickle.dumps(prepared))
    assert clone == prepared and isinstance(clone, PreparedRules)
    assert run(clone, co=company(traits={"tier": "pro"})).rule_id == "s"


def test_matched_results_are_shared() -> None:
    prepared = prepare_rules([rule("d", "default")])
    assert run(prepared) is run(prepared)


# ------------------------------------------------------------------ rollout


def rollout_rule(
    pct: int | None, salt: str | None = None, conditions: tuple[Condition, ...] = (), rule_type: RuleType = "standard"
) -> Rule:
    return rule("roll", rule_type, conditions=conditions, rollout_percentage=pct, rollout_salt=salt)


def in_rollout(
    pct: int | None, subject: str, *, salt: str | None = None, flag_key: str = "my-flag", as_user: bool = False
) -> bool:
    co, us = (None, user(subject)) if as_user else (company(subject), None)
    return run([rollout_rule(pct, salt)], co=co, us=us, flag_key=flag_key).rule_id == "roll"


IDS = [f"comp_{i:05d}" for i in range(2000)]


@pytest.mark.parametrize("pct", [1, 10, 30, 50, 75, 99])
def test_rollout_matches_bucket_below_percentage(pct: int) -> None:
    for subject in IDS[:200]:
        assert in_rollout(pct, subject) is (rollout_bucket("my-flag", subject) < pct)


def test_rollout_bucket_formula() -> None:
    import mmh3

    assert rollout_bucket("salt", "comp_1") == mmh3.hash("salt:comp_1", signed=False) % 100
    assert all(0 <= rollout_bucket("s", i) < 100 for i in IDS)


@pytest.mark.parametrize("pct", [10, 30, 50, 90])
def test_rollout_fraction_is_close_to_percentage(pct: int) -> None:
    share = sum(in_rollout(pct, s) for s in IDS) / len(IDS)
    assert abs(share - pct / 100) < 0.04


def test_raising_rollout_keeps_earlier_subjects() -> None:
    at30 = {s for s in IDS if in_rollout(30, s)}
    at50 = {s for s in IDS if in_rollout(50, s)}
    assert at30 < at50
    assert len(at50) - len(at30) > 300


def test_rollout_is_stable_across_calls() -> None:
    prepared = prepare_rules([rollout_rule(50)])
    first = [run(prepared, co=company(s)).rule_id for s in IDS[:300]]
    assert first == [run(prepared, co=company(s)).rule_id for s in IDS[:300]]


@pytest.mark.parametrize(("salt", "flag_key"), [(None, "flag-a"), ("shared", "flag-a"), ("shared", "flag-b")])
def test_rollout_salt_defaults_to_flag_key(salt: str | None, flag_key: str) -> None:
    expected_salt = salt or flag_key
    for subject in IDS[:100]:
        assert in_rollout(40, subject, salt=salt, flag_key=flag_key) is (rollout_bucket(expected_salt, subject) < 40)


def test_rollout_differs_between_flags() -> None:
    a = {s for s in IDS if in_rollout(50, s, flag_key="flag-a")}
    b = {s for s in IDS if in_rollout(50, s, flag_key="flag-b")}
    assert a != b


def test_rollout_uses_company_before_user() -> None:
    for subject in IDS[:100]:
        result = run([rollout_rule(50)], co=company(subject), us=user("user_fixed"))
        assert (result.rule_id == "roll") is (rollout_bucket("my-flag", subject) < 50)


def test_rollout_falls_back_to_user_subject() -> None:
    for subject in IDS[:100]:
        assert in_rollout(50, subject, as_user=True) is (rollout_bucket("my-flag", subject) < 50)


@pytest.mark.parametrize(
    ("pct", "matches"), [(None, True), (100, True), (150, True), (0, False), (-5, False), (50, False)]
)
def test_rollout_without_subject(pct: int | None, matches: bool) -> None:
    assert (run([rollout_rule(pct)]).rule_id == "roll") is matches


@pytest.mark.parametrize("subject", IDS[:50])
def test_rollout_zero_and_hundred(subject: str) -> None:
    assert in_rollout(0, subject) is False
    assert in_rollout(100, subject) is True


def test_rollout_requires_conditions_too() -> None:
    inside = next(s for s in IDS if rollout_bucket("my-flag", s) < 50)
    r = rollout_rule(50, conditions=(tier_is("pro"),))
    assert run([r], co=company(inside, traits={"tier": "pro"})).rule_id == "roll"
    assert run([r], co=company(inside, traits={"tier": "free"})).rule_id is None


@pytest.mark.parametrize("rule_type", ["global_override", "plan_entitlement", "company_override", "default"])
def test_rollout_only_applies_to_standard_rules(rule_type: RuleType) -> None:
    outside = next(s for s in IDS if rollout_bucket("my-flag", s) >= 10)
    assert run([rollout_rule(10, rule_type=rule_type)], co=company(outside)).rule_id == "roll"
