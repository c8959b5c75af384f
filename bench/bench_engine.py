"""Micro-benchmark of in-process ``evaluate()`` against a trivial dict-lookup baseline.

Run: ``.venv/bin/python bench/bench_engine.py [--calls 200000]``. Target: ≤ 5 µs per evaluate.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime

from domain.rules import (
    CompanyContext,
    Condition,
    FeatureSpec,
    GrantSpec,
    PreparedRules,
    Rule,
    TraitRef,
    UserContext,
    compile_grant,
    evaluate,
)

NOW = datetime(2026, 3, 18, 14, 5, tzinfo=UTC)
PLAN, ADDON, COMPANY = "plan_pro", "plan_addon", "comp_acme"
TIER = TraitRef("tr_tier", "tier", "company", "string")
SEATS = TraitRef("tr_seats", "seats_used", "company", "int")
REGION = TraitRef("tr_region", "region", "company", "string")


def grant(fid: str, source: str, value_type: str, feature: FeatureSpec, **kw: object) -> GrantSpec:
    scope = (PLAN, "Pro") if source == "plan" else (COMPANY, "Acme")
    return GrantSpec(
        id=f"{fid}_{source}",
        source=source,
        scope_id=scope[0],
        scope_name=scope[1],  # type: ignore[arg-type]
        feature=feature,
        value_type=value_type,
        rule_id=f"r_{fid}_{source}",
        rule_id_usage_exceeded=f"rx_{fid}_{source}",
        **kw,  # type: ignore[arg-type]
    )


def standard(rid: str, prio: int, cond: Condition, value: bool = True, rollout: int | None = None) -> Rule:
    return Rule(rid, f"std {rid}", "standard", prio, value, (cond,), rollout_percentage=rollout)


def default(fid: str, value: bool = False) -> Rule:
    return Rule(f"d_{fid}", "default", "default", 0, value)


def build_flags() -> dict[str, PreparedRules]:
    """~20 flags: one metered flag with the full rule stack, the rest boolean/targeting flags."""
    api = FeatureSpec("feat_api", "api-calls", "event", event_subtype="api-call")
    rules = [
        *compile_grant(grant("api", "plan", "numeric", api, value_numeric=1000, metric_period="current_month")),
        *compile_grant(grant("api", "override", "numeric", api, value_numeric=5000, metric_period="current_month")),
        standard("s_api_tier", 1, Condition("c1", "trait", "eq", trait=TIER, trait_value="enterprise")),
        standard("s_api_roll", 2, Condition("c2", "trait", "not_empty", trait=REGION), rollout=30),
        default("api"),
    ]
    flags = {"api-calls": PreparedRules(rules)}
    seats = FeatureSpec("feat_seats", "seats", "trait", usage_trait=SEATS)
    flags["seats"] = PreparedRules(
        [
            *compile_grant(grant("seats", "plan", "numeric", seats, value_numeric=25)),
            default("seats"),
        ]
    )
    for i in range(18):
        key = f"flag-{i}"
        feat = FeatureSpec(f"feat_{i}", key, "boolean")
        rs: list[Rule] = [default(key)]
        if i % 3 == 0:
            rs += compile_grant(grant(key, "plan", "boolean", feat, value_bool=True))
        elif i % 3 == 1:
            rs.append(
                standard(f"s_{key}", 1, Condition(f"c_{key}", "trait", "eq", trait=TIER, trait_value="enterprise"))
            )
        else:
            rs.append(standard(f"s_{key}", 1, Condition(f"c_{key}", "plan", "eq", resource_ids=(ADDON,)), rollout=50))
        flags[key] = PreparedRules(rs)
    return flags


def build_company(api_usage: int, on_plans: bool = True) -> CompanyContext:
    metrics = {("api-call", "current_month", "first_of_month"): api_usage}
    plans = (PLAN, ADDON) if on_plans else ()
    return CompanyContext(
        id=COMPANY if on_plans else "comp_other",
        base_plan_id=PLAN if on_plans else None,
        plan_ids=frozenset(plans),
        traits={"tier": "growth", "seats_used": "12", "region": "eu"},
        metric=lambda s, p, r: metrics.get((s, p, r), 0),
    )


def timed(fn: Callable[[], object], calls: int) -> float:
    """Mean ns per call of ``fn`` (loop overhead included, as it is for the baseline)."""
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        return (time.perf_counter_ns() - start) / calls
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls

    flags = build_flags()
    user = UserContext("user_1", {})
    table = {"api-calls": True}

    def baseline() -> bool:
        return table["api-calls"]

    def case(key: str, company: CompanyContext | None) -> Callable[[], object]:
        prepared = flags[key]
        return lambda: evaluate(
            flag_key=key, flag_id=key, default_value=False, rules=prepared, company=company, user=user, now=NOW
        )

    keys = list(flags)

    def all_flags() -> None:  # one bulk check: every flag once
        for key in keys:
            evaluate(
                flag_key=key, flag_id=key, default_value=False, rules=flags[key], company=light, user=user, now=NOW
            )

    # outsider: on no plan, so every entitlement rule fails and the rollout hash is computed.
    light, heavy, outsider = build_company(300), build_company(7000), build_company(0, on_plans=False)
    raw_rules = tuple(flags["api-calls"])
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("baseline: dict lookup in a function", baseline, 1),
        ("api-calls, override allow (group 2)", case("api-calls", light), 1),
        ("api-calls, usage exceeded (group 4)", case("api-calls", heavy), 1),
        ("api-calls, worst case: rollout hash, default", case("api-calls", outsider), 1),
        ("seats, trait limit (group 3)", case("seats", light), 1),
        ("all 20 flags (bulk check), per flag", all_flags, len(keys)),
        (
            "api-calls from raw rules (no cache)",
            lambda: evaluate(
                flag_key="api-calls",
                flag_id="api-calls",
                default_value=False,
                rules=raw_rules,
                company=light,
                user=user,
                now=NOW,
            ),
            1,
        ),
    ]
    timed(baseline, calls // 10)  # warm-up
    base_ns = timed(baseline, calls)
    print(f"calls per case: {calls:,}")
    print(f"{'case':<44} {'µs/call':>9} {'x baseline':>11}")
    print("-" * 66)
    for name, fn, per in cases:
        ns = base_ns if fn is baseline else timed(fn, max(1, calls // per)) / per
        print(f"{name:<44} {ns / 1000:>9.3f} {ns / base_ns:>11.1f}")


if __name__ == "__main__":
    main()
