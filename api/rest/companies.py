"""Schematic REST: companies, company traits, memberships, trait definitions, company plan assignment,
and the platform reads (`/whoami`, `/environments`). Thin adapters over domain.companies and
domain.entitlements: parse, authorise, run the service in one unit of work, serialise after commit."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.expressions import Q, Subquery
from tortoise.functions import Max, Min
from tortoise.queryset import QuerySet

from api.http import json_object
from api.rest import params as p
from api.rest import serializers as s
from api.rest.envelope import endpoint, ok
from api.rest.listing import list_and_count
from domain.catalog.models import PlanEntitlement
from domain.companies import repository, service, validation
from domain.companies.definitions import VALUE_FIELDS
from domain.companies.models import Company, TraitDefinition
from domain.companies.repository import COMPANY, USER
from domain.companies.service import MISSING, CompanyUpsert
from domain.companies.traits import StoredTrait, render_trait
from domain.db import unit_of_work
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyOverride, CompanyPlan
from domain.environments import service as environments
from domain.environments.models import Account, Environment
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope

_SORT_COLUMNS = ("name", "created_at", "updated_at", "last_seen_at")
# Filters on things plangate does not have (subscriptions, credits, plan versions): when asked for,
# nothing matches.
_NOTHING_IF_TRUE = ("has_scheduled_downgrade", "monetized_subscriptions", "with_subscription",
                    "plan_version_unpublished")
_NOTHING_IF_LISTED = ("credit_type_ids", "plan_version_ids", "subscription_statuses", "subscription_types")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


# ---------------------------------------------------------------- companies


def company_upsert(body: dict[str, Any]) -> CompanyUpsert:
    return CompanyUpsert(
        keys=p.body_keys(body), name=p.body_str(body, "name"), traits=p.body_object(body, "traits"),
        id=p.body_str(body, "id"), last_seen_at=p.body_timestamp(body, "last_seen_at"),
        update_only=bool(p.body_bool(body, "update_only")),
        prevent_key_remap=bool(p.body_bool(body, "prevent_key_remap")),
        remove_keys=p.body_str_list(body, "remove_keys"),
    )


async def upsert_company(request: Request, scope: Scope) -> Response:
    """POST /companies and /companies/create: create or update by keys. `base_plan_id` puts a newly
    created company on that base plan (an existing company keeps its plans, as in Schematic); a bad
    plan id rolls the whole upsert back."""
    body = await json_object(request)
    data = company_upsert(body)
    base_plan_id = p.body_str(body, "base_plan_id")
    p.body_str(body, "base_plan_price_id")  # plangate has no billing prices; accepted and unused
    async with unit_of_work():
        company, created = await service.upsert_company(scope, data)
        if created and base_plan_id:
            await holdings.set_company_plans(scope, company.id, base_plan_id, [])
    return ok(await s.company_detail(scope, company))


async def get_company(request: Request, scope: Scope) -> Response:
    company = await service.get_company(scope, request.path_params["company_id"])
    return ok(await s.company_detail(scope, company))


async def lookup_company(request: Request, scope: Scope) -> Response:
    keys = p.lookup_keys(request.query_params)
    company = await service.resolve_company(scope, keys)
    if company is None:
        raise NotFound(f"no company matches keys {_describe(keys)}", field="keys")
    return ok(await s.company_detail(scope, company), {"keys": keys})


def _describe(keys: dict[str, str]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in keys.items())


async def _company_query(request: Request, scope: Scope) -> tuple[QuerySet[Company], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "ids": p.query_list(q, "ids"), "plan_id": p.query_str(q, "plan_id"), "plan_ids": p.query_list(q, "plan_ids"),
        "q": p.query_str(q, "q"), "with_entitlement_for": p.query_str(q, "with_entitlement_for"),
        "without_feature_override_for": p.query_str(q, "without_feature_override_for"),
        "without_plan": p.query_bool(q, "without_plan"),
        "without_subscription": p.query_bool(q, "without_subscription"),
        "sort_order_column": p.query_str(q, "sort_order_column"),
        "sort_order_direction": p.query_str(q, "sort_order_direction"),
    }
    for name in _NOTHING_IF_TRUE:
        echo[name] = p.query_bool(q, name)
    for name in _NOTHING_IF_LISTED:
        echo[name] = p.query_list(q, name)
    query = await service.company_list(scope, plan_id=echo["plan_id"])
    env = scope.environment_id
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["plan_ids"]:
        query = query.filter(id__in=Subquery(
            CompanyPlan.filter(environment_id=env, plan_id__in=echo["plan_ids"]).values("company_id")))
    if echo["q"]:
        text = echo["q"]
        by_key = repository.keys(scope, COMPANY).filter(value__icontains=text).values("company_id")
        query = query.filter(Q(name__icontains=text) | Q(id=text) | Q(id__in=Subquery(by_key)))
    if echo["without_plan"]:
        query = query.exclude(id__in=Subquery(CompanyPlan.filter(environment_id=env).values("company_id")))
    if echo["with_entitlement_for"]:
        feature_id = echo["with_entitlement_for"]
        plans = PlanEntitlement.filter(environment_id=env, feature_id=feature_id).values("plan_id")
        query = query.filter(
            Q(id__in=Subquery(CompanyOverride.filter(environment_id=env, feature_id=feature_id).values("company_id")))
            | Q(id__in=Subquery(CompanyPlan.filter(environment_id=env, plan_id__in=Subquery(plans))
                                .values("company_id")))
        )
    if echo["without_feature_override_for"]:
        overrides = holdings.overrides_query(scope, feature_id=echo["without_feature_override_for"],
                                             without_expired=True)
        query = query.exclude(id__in=Subquery(overrides.values("company_id")))
    if any(echo[name] for name in (*_NOTHING_IF_TRUE, *_NOTHING_IF_LISTED)):
        query = query.filter(id__in=[])
    column = echo["sort_order_column"] or "created_at"
    if column not in _SORT_COLUMNS:
        raise InvalidInput(f"sort_order_column must be one of {', '.join(_SORT_COLUMNS)}", field="sort_order_column")
    direction = echo["sort_order_direction"] or "desc"
    if direction not in ("asc", "desc"):
        raise InvalidInput("sort_order_direction must be asc or desc", field="sort_order_direction")
    sign = "-" if direction == "desc" else ""
    return query.order_by(f"{sign}{column}", f"{sign}id"), _clean(echo)


list_companies, count_companies = list_and_count(_company_query, lambda scope, rows, _: s.company_details(scope, rows))


async def delete_company(request: Request, scope: Scope) -> Response:
    """DELETE /companies/{id}. plangate has no billing subscriptions, so `cancel_subscription` and
    `prorate` are accepted and have nothing to act on."""
    echo = _clean({name: p.query_bool(request.query_params, name) for name in ("cancel_subscription", "prorate")})
    async with unit_of_work():
        await service.delete_company(scope, request.path_params["company_id"])
    return ok(s.deleted(), echo)


async def delete_company_by_keys(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    keys = validation.keys(p.body_keys(body))
    async with unit_of_work():
        company = await service.resolve_company(scope, keys)
        if company is None:
            raise NotFound(f"no company matches keys {_describe(keys)}", field="keys")
        await service.delete_company(scope, company.id)
    return ok(s.company_basic(company))


# ---------------------------------------------------------------- traits (companies and users)


def trait_change(body: dict[str, Any]) -> dict[str, Any]:
    """`set` (any JSON value, null = absent) or `incr` (a signed integer), and the other fields."""
    trait = p.body_str(body, "trait", required=True)
    value = body.get("set")
    return {
        "keys": p.body_keys(body), "trait": trait, "set_value": MISSING if value is None else value,
        "incr": p.body_int(body, "incr"), "update_only": bool(p.body_bool(body, "update_only")),
    }


async def upsert_company_trait(request: Request, scope: Scope) -> Response:
    change = trait_change(await json_object(request))
    async with unit_of_work():
        company = await service.set_company_trait(
            scope, change["keys"], change["trait"], set_value=change["set_value"], incr=change["incr"],
            update_only=change["update_only"],
        )
    return ok(await s.company_detail(scope, company))


# ---------------------------------------------------------------- memberships


async def list_memberships(request: Request, scope: Scope) -> Response:
    q = request.query_params
    page = p.page(q)
    echo = _clean({"company_id": p.query_str(q, "company_id"), "user_id": p.query_str(q, "user_id")})
    query = repository.memberships(scope)
    if "company_id" in echo:
        query = query.filter(company_id=echo["company_id"])
    if "user_id" in echo:
        query = query.filter(user_id=echo["user_id"])
    rows = await page.apply(query.order_by("-created_at", "-id")).select_related("company")
    return ok([s.membership(row, row.company) for row in rows], {**echo, **page.params()})


async def create_membership(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    company_id = p.body_str(body, "company_id", required=True)
    user_id = p.body_str(body, "user_id", required=True)
    assert company_id is not None and user_id is not None
    async with unit_of_work():
        membership, _ = await service.ensure_membership(scope, company_id, user_id)
    company = await service.get_company(scope, company_id)
    return ok(s.membership(membership, company))


async def delete_membership(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await service.delete_membership(scope, request.path_params["membership_id"])
    return ok(s.deleted())


# ---------------------------------------------------------------- trait definitions


def _trait_types(q: Any) -> list[str]:
    types = p.query_list(q, "trait_types")
    single = p.query_str(q, "trait_type")
    if single:
        types.append(single)
    for trait_type in types:
        validation.trait_type(trait_type)
    return list(dict.fromkeys(types))


async def _definition_query(request: Request, scope: Scope) -> tuple[QuerySet[TraitDefinition], dict[str, Any]]:
    q = request.query_params
    entity_type = p.query_str(q, "entity_type")
    if entity_type is not None:
        validation.entity_type(entity_type)
    echo = {"entity_type": entity_type, "ids": p.query_list(q, "ids"), "q": p.query_str(q, "q"),
            "trait_type": p.query_str(q, "trait_type"), "trait_types": p.query_list(q, "trait_types")}
    query = repository.definitions(scope, entity_type)
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["q"]:
        query = query.filter(Q(name__icontains=echo["q"]) | Q(display_name__icontains=echo["q"]))
    types = _trait_types(q)
    if types:
        query = query.filter(trait_type__in=types)
    return query.order_by("-created_at", "-id"), _clean(echo)


async def _trait_definitions(scope: Scope, rows: list[Any], echo: dict[str, Any]) -> list[Any]:
    return [s.trait_definition(d) for d in rows]


list_trait_definitions, count_trait_definitions = list_and_count(_definition_query, _trait_definitions)


def _hierarchy(body: dict[str, Any]) -> str:
    """A trait is named by its path in nested traits; plangate joins the path with dots."""
    hierarchy = p.body_str_list(body, "hierarchy", required=True)
    assert hierarchy is not None
    if not hierarchy or not all(part.strip() for part in hierarchy):
        raise InvalidInput("hierarchy must be a non-empty list of non-empty trait names", field="hierarchy")
    return ".".join(hierarchy)


async def create_trait_definition(request: Request, scope: Scope) -> Response:
    """Get-or-create by (entity_type, hierarchy)."""
    body = await json_object(request)
    entity_type = p.body_str(body, "entity_type", required=True)
    trait_type = p.body_str(body, "trait_type", required=True)
    name = _hierarchy(body)
    display_name = p.body_str(body, "display_name") or ""
    assert entity_type is not None and trait_type is not None
    async with unit_of_work():
        definition = await service.get_or_create_trait_definition(scope, entity_type, name, trait_type, display_name)
    return ok(s.trait_definition(definition))


async def get_trait_definition(request: Request, scope: Scope) -> Response:
    return ok(s.trait_definition(await service.get_trait_definition(scope, request.path_params["definition_id"])))


async def update_trait_definition(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    trait_type = p.body_str(body, "trait_type", required=True)
    display_name = p.body_str(body, "display_name")
    async with unit_of_work():
        definition = await service.update_trait_definition(
            scope, request.path_params["definition_id"], trait_type, display_name)
    return ok(s.trait_definition(definition))


async def delete_trait_definition(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await service.delete_trait_definition(scope, request.path_params["definition_id"])
    return ok(s.deleted())


async def trait_values(request: Request, scope: Scope) -> Response:
    """GET /entity-trait-values: the distinct values of one trait, as the strings rules compare."""
    q = request.query_params
    page = p.page(q)
    definition_id = p.query_str(q, "definition_id")
    if definition_id is None:
        raise InvalidInput("definition_id is required", field="definition_id")
    definition = await service.get_trait_definition(scope, definition_id)
    kind = COMPANY if definition.entity_type == "company" else USER
    rows = await repository.trait_values(scope, kind).filter(definition_id=definition.id).distinct().values(
        *VALUE_FIELDS)
    values = sorted({render_trait(definition.trait_type, StoredTrait(**row)) for row in rows})
    text = p.query_str(q, "q")
    if text:
        values = [v for v in values if text.lower() in v.lower()]
    chosen = values[page.offset: page.offset + page.limit]
    echo = _clean({"definition_id": definition.id, "q": text})
    return ok([{"definition_id": definition.id, "value": v} for v in chosen], {**echo, **page.params()})


# ---------------------------------------------------------------- key definitions


async def _key_definitions(request: Request, scope: Scope) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """plangate has no key definition rows: each key name in use is one, named by `key_definition_id`."""
    q = request.query_params
    entity_type = p.query_str(q, "entity_type")
    if entity_type is not None:
        validation.entity_type(entity_type)
    echo = {"entity_type": entity_type, "ids": p.query_list(q, "ids"), "q": p.query_str(q, "q")}
    found = []
    for kind in (COMPANY, USER):
        if entity_type not in (None, kind.name):
            continue
        query = repository.keys(scope, kind)
        if echo["q"]:
            query = query.filter(key__icontains=echo["q"])
        rows = await query.annotate(first=Min("created_at"), last=Max("updated_at")).group_by("key").values(
            "key", "first", "last")
        found += [{"id": s.key_definition_id(kind.name, row["key"]), "entity_type": kind.name, "key": row["key"],
                   "created_at": row["first"], "updated_at": row["last"]} for row in rows]
    if echo["ids"]:
        found = [d for d in found if d["id"] in echo["ids"]]
    found.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
    return found, _clean(echo)


list_key_definitions, count_key_definitions = list_and_count(_key_definitions)


# ---------------------------------------------------------------- plan assignment


async def update_company_plans(request: Request, scope: Scope) -> Response:
    """PUT /company-plans/{company_id}: exactly this base plan (absent or null: none) and these add-ons."""
    body = await json_object(request)
    add_on_ids = p.body_str_list(body, "add_on_ids", required=True)
    base_plan_id = p.body_str(body, "base_plan_id")
    company_id = request.path_params["company_id"]
    async with unit_of_work():
        company = await holdings.set_company_plans(scope, company_id, base_plan_id, add_on_ids or [])
    return ok(await s.company_detail(scope, company))


# ---------------------------------------------------------------- platform


async def whoami(request: Request, scope: Scope) -> Response:
    """GET /whoami (open to publishable keys, which see only their own environment)."""
    account = await Account.get(id=scope.account_id)
    if scope.is_secret:
        envs = await environments.list_environments()
    else:
        envs = await Environment.filter(id=scope.environment_id)
    return ok({
        "account_id": account.id, "account_name": account.name, "actor_type": "api_key",
        "api_key_id": scope.key_id, "environment_id": scope.environment_id,
        "environments": [s.environment(e) for e in envs], "onboarding_complete": True,
        "user_id": None, "user_name": None, "stripe_user_id": None,
    })


async def list_environments(request: Request, scope: Scope) -> Response:
    q = request.query_params
    page = p.page(q)
    ids = p.query_list(q, "ids")
    query = Environment.all()
    if ids:
        query = query.filter(id__in=ids)
    envs = await page.apply(query.order_by("-created_at", "-id"))
    return ok([s.environment(e) for e in envs], _clean({"ids": ids, **page.params()}))


async def get_environment(request: Request, scope: Scope) -> Response:
    env = await Environment.get_or_none(id=request.path_params["environment_id"])
    if env is None:
        raise NotFound(f"no environment with id {request.path_params['environment_id']!r}", field="environment_id")
    return ok(s.environment(env))


routes = [
    Route("/companies", p.secret_write(upsert_company), methods=["POST"]),
    Route("/companies", p.secret_read(list_companies), methods=["GET"]),
    Route("/companies/count", p.secret_read(count_companies), methods=["GET"]),
    Route("/companies/create", p.secret_write(upsert_company), methods=["POST"]),
    Route("/companies/delete", p.secret_write(delete_company_by_keys), methods=["POST"]),
    Route("/companies/lookup", p.secret_read(lookup_company), methods=["GET"]),
    Route("/companies/{company_id}", p.secret_read(get_company), methods=["GET"]),
    Route("/companies/{company_id}", p.secret_write(delete_company), methods=["DELETE"]),
    Route("/company-traits", p.secret_write(upsert_company_trait), methods=["POST"]),
    Route("/company-memberships", p.secret_read(list_memberships), methods=["GET"]),
    Route("/company-memberships", p.secret_write(create_membership), methods=["POST"]),
    Route("/company-memberships/{membership_id}", p.secret_write(delete_membership), methods=["DELETE"]),
    Route("/entity-trait-definitions", p.secret_read(list_trait_definitions), methods=["GET"]),
    Route("/entity-trait-definitions", p.secret_write(create_trait_definition), methods=["POST"]),
    Route("/entity-trait-definitions/count", p.secret_read(count_trait_definitions), methods=["GET"]),
    Route("/entity-trait-definitions/{definition_id}", p.secret_read(get_trait_definition), methods=["GET"]),
    Route("/entity-trait-definitions/{definition_id}", p.secret_write(update_trait_definition), methods=["PUT"]),
    Route("/entity-trait-definitions/{definition_id}", p.secret_write(delete_trait_definition), methods=["DELETE"]),
    Route("/entity-trait-values", p.secret_read(trait_values), methods=["GET"]),
    Route("/entity-key-definitions", p.secret_read(list_key_definitions), methods=["GET"]),
    Route("/entity-key-definitions/count", p.secret_read(count_key_definitions), methods=["GET"]),
    Route("/company-plans/{company_id}", p.secret_write(update_company_plans), methods=["PUT"]),
    Route("/whoami", endpoint(whoami), methods=["GET"]),
    Route("/environments", p.secret_read(list_environments), methods=["GET"]),
    Route("/environments/{environment_id}", p.secret_read(get_environment), methods=["GET"]),
]
