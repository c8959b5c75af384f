"""Schematic REST: features (with their paired flag), flags, flag rules and plans. Thin adapters over
domain.catalog: parse, authorise, run the service in one unit of work, serialise after commit."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from api.http import json_object
from api.rest import params as p
from api.rest import serializers as s
from api.rest.envelope import ok
from api.rest.listing import list_and_count
from domain.catalog import features, flag_rules, flags, plans
from domain.catalog import repository as repo
from domain.catalog.flag_rules import ConditionInput, RuleInput
from domain.catalog.models import Feature, Flag, Plan, PlanEntitlement, Rule
from domain.db import unit_of_work
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyPlan
from domain.errors import InvalidInput
from domain.scope import Scope


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def _sent(body: dict[str, Any], *names: str) -> dict[str, Any]:
    """The fields of an update body that carry a value (null means absent, §7.2)."""
    return {name: body[name] for name in names if body.get(name) is not None}


def _event_source(body: dict[str, Any]) -> None:
    source = p.body_str(body, "event_source")
    if source not in (None, "track"):
        raise InvalidInput(
            f"event_source {source!r} is not supported; plangate meters features from track events",
            field="event_source",
        )


# ---------------------------------------------------------------- features


_FEATURE_EXTRAS = ("icon", "lifecycle_phase", "plural_name", "singular_name")


def _flag_body(body: dict[str, Any]) -> dict[str, Any] | None:
    flag = p.body_object(body, "flag")
    if flag is None:
        return None
    p.body_str(flag, "key", required=True)
    if p.body_str(flag, "flag_type") not in (None, "boolean"):
        raise InvalidInput("flag.flag_type must be boolean", field="flag")
    return flag


async def _apply_flag_body(scope: Scope, feature: Feature, flag_body: dict[str, Any] | None) -> None:
    """The paired flag takes the name, description and default value of the `flag` object when sent."""
    if not flag_body:
        return
    flag = await repo.flag_of_feature(scope, feature.id)
    changes = _sent(flag_body, "name", "description", "default_value")
    if changes:
        await flags.update_flag(scope, flag.id, **changes)


async def create_feature(request: Request, scope: Scope) -> Response:
    """POST /features: the feature and its flag (key from `flag.key`, else the slugified name)."""
    body = await json_object(request)
    _event_source(body)
    flag_body = _flag_body(body)
    kwargs = {
        "name": p.body_str(body, "name", required=True),
        "feature_type": p.body_str(body, "feature_type", required=True),
        "description": p.body_str(body, "description") or "",
        **_sent(body, "event_subtype", "trait_id", *_FEATURE_EXTRAS),
    }
    if flag_body is not None:
        kwargs["key"] = flag_body["key"]
    async with unit_of_work():
        feature = await features.create_feature(scope, **kwargs)
        await _apply_flag_body(scope, feature, flag_body)
    return ok(await s.feature_detail(scope, feature))


async def update_feature(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    _event_source(body)
    flag_body = _flag_body(body)
    kwargs = _sent(body, "name", "description", "feature_type", "event_subtype", "trait_id", *_FEATURE_EXTRAS)
    if flag_body is not None:
        kwargs["key"] = flag_body["key"]
    async with unit_of_work():
        feature = await features.update_feature(scope, request.path_params["feature_id"], **kwargs)
        await _apply_flag_body(scope, feature, flag_body)
    return ok(await s.feature_detail(scope, feature))


async def get_feature(request: Request, scope: Scope) -> Response:
    return ok(await s.feature_detail(scope, await repo.get_feature(scope, request.path_params["feature_id"])))


async def delete_feature(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await features.delete_feature(scope, request.path_params["feature_id"])
    return ok(s.deleted())


async def _feature_query(request: Request, scope: Scope) -> tuple[QuerySet[Feature], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "feature_type": p.query_list(q, "feature_type"), "ids": p.query_list(q, "ids"), "q": p.query_str(q, "q"),
        "without_plan_entitlement_for": p.query_str(q, "without_plan_entitlement_for"),
        "without_company_override_for": p.query_str(q, "without_company_override_for"),
        "boolean_require_event": p.query_bool(q, "boolean_require_event"),
    }
    query = repo.features_query(scope, search=echo["q"])
    if echo["feature_type"]:
        query = query.filter(feature_type__in=echo["feature_type"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["without_plan_entitlement_for"]:
        granted = repo.scoped(PlanEntitlement, scope).filter(plan_id=echo["without_plan_entitlement_for"])
        query = query.exclude(id__in=Subquery(granted.values("feature_id")))
    if echo["without_company_override_for"]:
        overridden = holdings.overrides_query(scope, company_id=echo["without_company_override_for"],
                                              without_expired=True)
        query = query.exclude(id__in=Subquery(overridden.values("feature_id")))
    return query.order_by("-created_at", "-id"), _clean(echo)


list_features, count_features = list_and_count(_feature_query, lambda scope, rows, _: s.feature_details(scope, rows))


# ---------------------------------------------------------------- flags


def _standalone(body: dict[str, Any], current_feature_id: str | None = None) -> None:
    feature_id = p.body_str(body, "feature_id")
    if feature_id is not None and feature_id != current_feature_id:
        raise InvalidInput(
            "feature_id cannot attach a flag to a feature; a feature creates its own flag (POST /features)",
            field="feature_id",
        )


async def create_flag(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    _standalone(body)
    kwargs = {"key": p.body_str(body, "key", required=True), "name": p.body_str(body, "name", required=True),
              **_sent(body, "description", "default_value", "flag_type")}
    async with unit_of_work():
        flag = await flags.create_flag(scope, **kwargs)
    return ok(await s.flag_detail(scope, flag))


async def update_flag(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    flag_id = request.path_params["flag_id"]
    current = await repo.get_flag(scope, flag_id)
    _standalone(body, current.feature_id)  # type: ignore[attr-defined]
    kwargs = _sent(body, "key", "name", "description", "default_value", "flag_type")
    async with unit_of_work():
        flag = await flags.update_flag(scope, flag_id, **kwargs)
    return ok(await s.flag_detail(scope, flag))


async def get_flag(request: Request, scope: Scope) -> Response:
    return ok(await s.flag_detail(scope, await repo.get_flag(scope, request.path_params["flag_id"])))


async def delete_flag(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await flags.delete_flag(scope, request.path_params["flag_id"])
    return ok(s.deleted())


async def _flag_query(request: Request, scope: Scope) -> tuple[QuerySet[Flag], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {"feature_id": p.query_str(q, "feature_id"), "ids": p.query_list(q, "ids"),
                            "q": p.query_str(q, "q")}
    query = repo.flags_query(scope, feature_id=echo["feature_id"], search=echo["q"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    return query.order_by("-created_at", "-id"), _clean(echo)


list_flags, count_flags = list_and_count(_flag_query, lambda scope, rows, _: s.flag_details(scope, rows))


# ---------------------------------------------------------------- flag rules


def _list_of_objects(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInput(f"{where} must be a list of objects", field=where)
    return value


def _condition(body: dict[str, Any], where: str) -> ConditionInput:
    """Schematic's CreateOrUpdateConditionRequestBody; its `credit_cost` is the credits per unit."""
    cost = p.body_decimal(body, "credit_cost")
    return ConditionInput(
        condition_type=body.get("condition_type"),  # type: ignore[arg-type]  # checked by the domain
        operator=body.get("operator"),  # type: ignore[arg-type]
        resource_ids=body.get("resource_ids") or (),
        trait_id=body.get("trait_id"), trait_value=body.get("trait_value") or "",
        comparison_trait_id=body.get("comparison_trait_id"), event_subtype=body.get("event_subtype"),
        metric_value=body.get("metric_value"), metric_period=body.get("metric_period"),
        metric_period_month_reset=body.get("metric_period_month_reset"), credit_id=body.get("credit_id"),
        consumption_rate=cost,
    )


def _optional_str(body: dict[str, Any], name: str, where: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{where}.{name} must be a string", field=f"{where}.{name}")
    return value


def _rule(body: dict[str, Any], where: str) -> RuleInput:
    """Schematic's CreateOrUpdateRuleRequestBody."""
    conditions = _list_of_objects(body.get("conditions"), f"{where}.conditions")
    groups = _list_of_objects(body.get("condition_groups"), f"{where}.condition_groups")
    return RuleInput(
        name=body.get("name"),  # type: ignore[arg-type]  # checked by the domain
        value=body.get("value"),  # type: ignore[arg-type]
        priority=body.get("priority"),  # type: ignore[arg-type]
        rule_type=_optional_str(body, "rule_type", where) or "standard",
        conditions=[_condition(c, f"{where}.conditions[{i}]") for i, c in enumerate(conditions)],
        condition_groups=[
            [_condition(c, f"{where}.condition_groups[{g}].conditions[{i}]")
             for i, c in enumerate(_list_of_objects(group.get("conditions"), f"{where}.condition_groups[{g}]"))]
            for g, group in enumerate(groups)
        ],
        rollout_percentage=body.get("rollout_percentage"), rollout_salt=body.get("rollout_salt"),
        id=_optional_str(body, "id", where),
    )


async def update_flag_rules(request: Request, scope: Scope) -> Response:
    """PUT /flags/{id}/rules: replace every client-managed rule of the flag (all or nothing)."""
    body = await json_object(request)
    if body.get("rules") is None:
        raise InvalidInput("rules is required (a list, possibly empty)", field="rules")
    rules = [_rule(r, f"rules[{i}]") for i, r in enumerate(_list_of_objects(body["rules"], "rules"))]
    flag_id = request.path_params["flag_id"]
    async with unit_of_work():
        stored = await flag_rules.set_flag_rules(scope, flag_id, rules)
    flag = await repo.get_flag(scope, flag_id)
    rows = await repo.scoped(Rule, scope).filter(id__in=[r.id for r in stored])
    by_flag = await s.rule_details(scope, rows)
    return ok({"rules": by_flag.get(flag.id, []), "flag": s.flag_basic(flag)})


# ---------------------------------------------------------------- plans


async def create_plan(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    kwargs = {"name": p.body_str(body, "name", required=True),
              "plan_type": p.body_str(body, "plan_type", required=True), **_sent(body, "description", "icon")}
    async with unit_of_work():
        plan = await plans.create_plan(scope, **kwargs)
    return ok(await s.plan_detail(scope, plan))


async def update_plan(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    kwargs = {"name": p.body_str(body, "name", required=True), **_sent(body, "description", "icon")}
    async with unit_of_work():
        plan = await plans.update_plan(scope, request.path_params["plan_id"], **kwargs)
    return ok(await s.plan_detail(scope, plan))


_BILLING_FIELDS = ("trial_days", "monthly_price", "quarterly_price", "yearly_price", "one_time_price", "currency")


async def upsert_billing_product_plan(request: Request, scope: Scope) -> Response:
    """PUT /plans/{id}/billing_products: charge type, trial settings and prices (integer minor units).
    plangate has no billing provider, so provider price and product ids are accepted and unused."""
    body = await json_object(request)
    kwargs = {"charge_type": p.body_str(body, "charge_type", required=True),
              "is_trialable": p.body_bool(body, "is_trialable", required=True), **_sent(body, *_BILLING_FIELDS)}
    if not kwargs["is_trialable"] and "trial_days" not in kwargs:
        kwargs["trial_days"] = None
    async with unit_of_work():
        plan = await plans.update_plan(scope, request.path_params["plan_id"], **kwargs)
    return ok(s.billing_product_plan(scope, plan))


async def get_plan(request: Request, scope: Scope) -> Response:
    return ok(await s.plan_detail(scope, await repo.get_plan(scope, request.path_params["plan_id"])))


async def delete_plan(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await plans.delete_plan(scope, request.path_params["plan_id"])
    return ok(s.deleted())


async def _plan_query(request: Request, scope: Scope) -> tuple[QuerySet[Plan], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "plan_type": p.query_str(q, "plan_type"), "ids": p.query_list(q, "ids"), "q": p.query_str(q, "q"),
        "company_id": p.query_str(q, "company_id"), "with_entitlements": p.query_bool(q, "with_entitlements"),
        "without_entitlement_for": p.query_str(q, "without_entitlement_for"),
    }
    query = repo.plans_query(scope, plan_type=echo["plan_type"], search=echo["q"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["company_id"]:
        held = repo.scoped(CompanyPlan, scope).filter(company_id=echo["company_id"]).values("plan_id")
        query = query.filter(id__in=Subquery(held))
    if echo["without_entitlement_for"]:
        granting = repo.scoped(PlanEntitlement, scope).filter(feature_id=echo["without_entitlement_for"])
        query = query.exclude(id__in=Subquery(granting.values("plan_id")))
    return query.order_by("-created_at", "-id"), _clean(echo)


list_plans, count_plans = list_and_count(
    _plan_query,
    lambda scope, rows, echo: s.plan_details(scope, rows, with_entitlements=bool(echo.get("with_entitlements", True))),
)


routes = [
    Route("/features", p.secret_read(list_features), methods=["GET"]),
    Route("/features", p.secret_write(create_feature), methods=["POST"]),
    Route("/features/count", p.secret_read(count_features), methods=["GET"]),
    Route("/features/{feature_id}", p.secret_read(get_feature), methods=["GET"]),
    Route("/features/{feature_id}", p.secret_write(update_feature), methods=["PUT"]),
    Route("/features/{feature_id}", p.secret_write(delete_feature), methods=["DELETE"]),
    Route("/flags", p.secret_read(list_flags), methods=["GET"]),
    Route("/flags", p.secret_write(create_flag), methods=["POST"]),
    Route("/flags/count", p.secret_read(count_flags), methods=["GET"]),
    Route("/flags/{flag_id}", p.secret_read(get_flag), methods=["GET"]),
    Route("/flags/{flag_id}", p.secret_write(update_flag), methods=["PUT"]),
    Route("/flags/{flag_id}", p.secret_write(delete_flag), methods=["DELETE"]),
    Route("/flags/{flag_id}/rules", p.secret_write(update_flag_rules), methods=["PUT"]),
    Route("/plans", p.secret_read(list_plans), methods=["GET"]),
    Route("/plans", p.secret_write(create_plan), methods=["POST"]),
    Route("/plans/count", p.secret_read(count_plans), methods=["GET"]),
    Route("/plans/{plan_id}", p.secret_read(get_plan), methods=["GET"]),
    Route("/plans/{plan_id}", p.secret_write(update_plan), methods=["PUT"]),
    Route("/plans/{plan_id}", p.secret_write(delete_plan), methods=["DELETE"]),
    Route("/plans/{plan_id}/billing_products", p.secret_write(upsert_billing_product_plan), methods=["PUT"]),
]
