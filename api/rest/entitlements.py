"""Schematic REST: plan entitlements, company overrides and feature usage. Thin adapters over
domain.catalog.entitlements, domain.entitlements.service and domain.checks.service.company_usage."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from api.http import json_object
from api.rest import params as p
from api.rest import serializers as s
from api.rest.envelope import ok
from api.rest.listing import list_and_count
from domain.catalog import entitlements
from domain.catalog import repository as repo
from domain.catalog.models import PlanEntitlement
from domain.catalog.validation import UNSET
from domain.checks.service import company_usage
from domain.companies import service as companies
from domain.companies.models import Company
from domain.db import unit_of_work
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyOverride
from domain.errors import DomainError, InvalidInput, NotFound
from domain.scope import Scope


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def _value(body: dict[str, Any]) -> dict[str, Any]:
    """The value model shared by entitlements and overrides, with Schematic's field names mapped to the
    domain's (`credit_consumption_rate` is the credits per unit). Values are checked by the domain."""
    return {
        "value_type": p.body_str(body, "value_type", required=True),
        "value_bool": body.get("value_bool"), "value_numeric": p.body_int(body, "value_numeric"),
        "value_trait_id": body.get("value_trait_id"), "value_credit_id": body.get("value_credit_id"),
        "consumption_rate": p.body_decimal(body, "credit_consumption_rate"),
        "metric_period": body.get("metric_period"), "metric_period_month_reset": body.get("metric_period_month_reset"),
    }


def _entitlement_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {**_value(body), "price_behavior": body.get("price_behavior"),
            "soft_limit": p.body_int(body, "soft_limit")}


# ---------------------------------------------------------------- plan entitlements


async def create_plan_entitlement(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    plan_id = p.body_str(body, "plan_id", required=True)
    feature_id = p.body_str(body, "feature_id", required=True)
    fields = _entitlement_fields(body)
    async with unit_of_work():
        row = await entitlements.create_plan_entitlement(scope, plan_id=plan_id, feature_id=feature_id, **fields)  # type: ignore[arg-type]
    return ok(await s.plan_entitlement_detail(scope, row))


async def update_plan_entitlement(request: Request, scope: Scope) -> Response:
    """PUT: the value is replaced (omitted fields are cleared); plan and feature stay."""
    fields = _entitlement_fields(await json_object(request))
    async with unit_of_work():
        row = await entitlements.update_plan_entitlement(scope, request.path_params["entitlement_id"], **fields)
    return ok(await s.plan_entitlement_detail(scope, row))


async def get_plan_entitlement(request: Request, scope: Scope) -> Response:
    row = await repo.get_plan_entitlement(scope, request.path_params["entitlement_id"])
    return ok(await s.plan_entitlement_detail(scope, row))


async def delete_plan_entitlement(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await entitlements.delete_plan_entitlement(scope, request.path_params["entitlement_id"])
    return ok(s.deleted())


async def _entitlement_query(request: Request, scope: Scope) -> tuple[QuerySet[PlanEntitlement], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "plan_id": p.query_str(q, "plan_id"), "plan_ids": p.query_list(q, "plan_ids"),
        "feature_id": p.query_str(q, "feature_id"), "feature_ids": p.query_list(q, "feature_ids"),
        "ids": p.query_list(q, "ids"), "q": p.query_str(q, "q"),
    }
    query = repo.plan_entitlements_query(scope, plan_id=echo["plan_id"], feature_id=echo["feature_id"])
    if echo["plan_ids"]:
        query = query.filter(plan_id__in=echo["plan_ids"])
    if echo["feature_ids"]:
        query = query.filter(feature_id__in=echo["feature_ids"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["q"]:
        query = query.filter(Q(feature__name__icontains=echo["q"]) | Q(plan__name__icontains=echo["q"]))
    return query.order_by("-created_at", "-id"), _clean(echo)


list_plan_entitlements, count_plan_entitlements = list_and_count(
    _entitlement_query, lambda scope, rows, _: s.plan_entitlement_details(scope, rows)
)


async def duplicate_plan_entitlements(request: Request, scope: Scope) -> Response:
    """POST /plan-entitlements/duplicate: copy every entitlement of the source plan onto the target plan.
    Features the target already grants, and grants the target cannot take, are reported as skipped."""
    body = await json_object(request)
    source_id = p.body_str(body, "source_plan_id", required=True)
    target_id = p.body_str(body, "target_plan_id", required=True)
    assert source_id is not None and target_id is not None
    source = await repo.get_plan(scope, source_id, "source_plan_id")
    target = await repo.get_plan(scope, target_id, "target_plan_id")
    copied: list[PlanEntitlement] = []
    skipped: list[dict[str, Any]] = []
    async with unit_of_work():
        rows = await repo.scoped(PlanEntitlement, scope).filter(plan_id=source.id).select_related("feature").order_by(
            "created_at", "id")
        for row in rows:
            try:
                copied.append(await entitlements.create_plan_entitlement(
                    scope, plan_id=target.id, feature_id=row.feature.id, value_type=row.value_type,
                    value_bool=row.value_bool, value_numeric=row.value_numeric,
                    value_trait_id=row.value_trait_id,  # type: ignore[attr-defined]
                    value_credit_id=row.value_credit_id, consumption_rate=row.consumption_rate,
                    metric_period=row.metric_period, metric_period_month_reset=row.metric_period_month_reset,
                    price_behavior=row.price_behavior, soft_limit=row.soft_limit,
                ))
            except DomainError as exc:
                skipped.append({"entitlement_id": row.id, "feature_id": row.feature.id,
                                "feature_name": row.feature.name, "errors": [{"message": exc.message}]})
    return ok({"data": await s.plan_entitlement_details(scope, copied), "issues": [], "skipped": skipped})


# ---------------------------------------------------------------- company overrides


async def create_company_override(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    company_id = p.body_str(body, "company_id", required=True)
    feature_id = p.body_str(body, "feature_id", required=True)
    fields = _value(body)
    expires_at = p.body_timestamp(body, "expiration_date")
    note = p.body_str(body, "note")
    async with unit_of_work():
        row = await holdings.create_company_override(
            scope, company_id=company_id, feature_id=feature_id, expires_at=expires_at, note=note, **fields)  # type: ignore[arg-type]
    return ok(await s.override_detail(scope, row))


async def update_company_override(request: Request, scope: Scope) -> Response:
    """PUT: the value is replaced; `expiration_date` changes only when sent (null clears it); `note` is
    appended."""
    body = await json_object(request)
    fields = _value(body)
    expires_at = p.body_timestamp(body, "expiration_date") if "expiration_date" in body else UNSET
    note = p.body_str(body, "note")
    async with unit_of_work():
        row = await holdings.update_company_override(
            scope, request.path_params["override_id"], expires_at=expires_at, note=note, **fields)
    return ok(await s.override_detail(scope, row))


async def get_company_override(request: Request, scope: Scope) -> Response:
    row = await holdings.get_company_override(scope, request.path_params["override_id"])
    return ok(await s.override_detail(scope, row))


async def delete_company_override(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await holdings.delete_company_override(scope, request.path_params["override_id"])
    return ok(s.deleted())


async def _override_query(request: Request, scope: Scope) -> tuple[QuerySet[CompanyOverride], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "company_id": p.query_str(q, "company_id"), "company_ids": p.query_list(q, "company_ids"),
        "feature_id": p.query_str(q, "feature_id"), "feature_ids": p.query_list(q, "feature_ids"),
        "ids": p.query_list(q, "ids"), "without_expired": p.query_bool(q, "without_expired"), "q": p.query_str(q, "q"),
    }
    query = holdings.overrides_query(scope, company_id=echo["company_id"], feature_id=echo["feature_id"],
                                     without_expired=bool(echo["without_expired"]))
    if echo["company_ids"]:
        query = query.filter(company_id__in=echo["company_ids"])
    if echo["feature_ids"]:
        query = query.filter(feature_id__in=echo["feature_ids"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["q"]:
        query = query.filter(Q(feature__name__icontains=echo["q"]) | Q(company__name__icontains=echo["q"]))
    return query.order_by("-created_at", "-id"), _clean(echo)


list_company_overrides, count_company_overrides = list_and_count(
    _override_query, lambda scope, rows, _: s.override_details(scope, rows)
)


# ---------------------------------------------------------------- usage


async def _usage_company(request: Request, scope: Scope) -> tuple[Company, dict[str, Any]]:
    q = request.query_params
    company_id = p.query_str(q, "company_id")
    keys = p.query_object(q, "company_keys")
    if company_id:
        return await companies.get_company(scope, company_id), {"company_id": company_id}
    if keys:
        company = await companies.resolve_company(scope, keys)
        if company is None:
            raise NotFound(f"no company matches company_keys {keys}", field="company_keys")
        return company, {"company_keys": keys}
    raise InvalidInput("send company_id or company_keys (e.g. ?company_keys[id]=acme)", field="company_id")


async def _usage_rows(request: Request, scope: Scope) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    q = request.query_params
    company, echo = await _usage_company(request, scope)
    feature_ids = p.query_list(q, "feature_ids")
    text = p.query_str(q, "q")
    usages = await company_usage(scope, company.id)
    if feature_ids:
        usages = [u for u in usages if u.feature_id in feature_ids]
    rows = await s.feature_usage(scope, sorted(usages, key=lambda u: u.feature_key))
    if text:
        needle = text.lower()
        rows = [r for r in rows if r["feature"] and (needle in r["feature"]["name"].lower())]
    return rows, _clean({**echo, "feature_ids": feature_ids, "q": text,
                         "include_usage_aggregation": p.query_bool(q, "include_usage_aggregation")})


# GET /feature-usage: usage and allocation of every feature the company is entitled to
list_feature_usage, count_feature_usage = list_and_count(_usage_rows)


async def usage_by_company(request: Request, scope: Scope) -> Response:
    """GET /usage-by-company?keys[id]=acme."""
    keys = p.lookup_keys(request.query_params)
    company = await companies.resolve_company(scope, keys)
    if company is None:
        raise NotFound(f"no company matches keys {keys}", field="keys")
    usages = sorted(await company_usage(scope, company.id), key=lambda u: u.feature_key)
    return ok({"features": await s.feature_usage(scope, usages)}, {"keys": keys})


routes = [
    Route("/plan-entitlements", p.secret_read(list_plan_entitlements), methods=["GET"]),
    Route("/plan-entitlements", p.secret_write(create_plan_entitlement), methods=["POST"]),
    Route("/plan-entitlements/count", p.secret_read(count_plan_entitlements), methods=["GET"]),
    Route("/plan-entitlements/duplicate", p.secret_write(duplicate_plan_entitlements), methods=["POST"]),
    Route("/plan-entitlements/{entitlement_id}", p.secret_read(get_plan_entitlement), methods=["GET"]),
    Route("/plan-entitlements/{entitlement_id}", p.secret_write(update_plan_entitlement), methods=["PUT"]),
    Route("/plan-entitlements/{entitlement_id}", p.secret_write(delete_plan_entitlement), methods=["DELETE"]),
    Route("/company-overrides", p.secret_read(list_company_overrides), methods=["GET"]),
    Route("/company-overrides", p.secret_write(create_company_override), methods=["POST"]),
    Route("/company-overrides/count", p.secret_read(count_company_overrides), methods=["GET"]),
    Route("/company-overrides/{override_id}", p.secret_read(get_company_override), methods=["GET"]),
    Route("/company-overrides/{override_id}", p.secret_write(update_company_override), methods=["PUT"]),
    Route("/company-overrides/{override_id}", p.secret_write(delete_company_override), methods=["DELETE"]),
    Route("/feature-usage", p.secret_read(list_feature_usage), methods=["GET"]),
    Route("/feature-usage/count", p.secret_read(count_feature_usage), methods=["GET"]),
    Route("/usage-by-company", p.secret_read(usage_by_company), methods=["GET"]),
]
