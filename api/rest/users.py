"""Schematic REST: users and user traits. Thin adapters over domain.companies.service."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from api.http import json_object
from api.rest import params as p
from api.rest import serializers as s
from api.rest.companies import trait_change
from api.rest.envelope import ok
from api.rest.listing import list_and_count
from domain.companies import repository, service, validation
from domain.companies.models import User
from domain.companies.repository import USER
from domain.companies.service import UserUpsert
from domain.db import unit_of_work
from domain.entitlements.models import CompanyPlan
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope


def _keys_list(body: dict[str, Any], name: str) -> list[dict[str, str]] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidInput(f"{name} must be a list of keys objects", field=name)
    return value


def user_upsert(body: dict[str, Any]) -> UserUpsert:
    return UserUpsert(
        keys=p.body_keys(body), name=p.body_str(body, "name"), traits=p.body_object(body, "traits"),
        id=p.body_str(body, "id"), last_seen_at=p.body_timestamp(body, "last_seen_at"),
        update_only=bool(p.body_bool(body, "update_only")), remove_keys=p.body_str_list(body, "remove_keys"),
        company=p.body_object(body, "company"), companies=_keys_list(body, "companies"),
        company_id=p.body_str(body, "company_id"), company_ids=p.body_str_list(body, "company_ids"),
    )


async def upsert_user(request: Request, scope: Scope) -> Response:
    """POST /users and /users/create: create or update by keys, joining the named companies."""
    data = user_upsert(await json_object(request))
    async with unit_of_work():
        user, _ = await service.upsert_user(scope, data)
    return ok(await s.user_detail(scope, user))


async def get_user(request: Request, scope: Scope) -> Response:
    user = await service.get_user(scope, request.path_params["user_id"])
    return ok(await s.user_detail(scope, user))


async def lookup_user(request: Request, scope: Scope) -> Response:
    keys = p.lookup_keys(request.query_params)
    user = await service.resolve_user(scope, keys)
    if user is None:
        raise NotFound(f"no user matches keys {', '.join(f'{k}={v!r}' for k, v in keys.items())}", field="keys")
    return ok(await s.user_detail(scope, user), {"keys": keys})


async def _user_query(request: Request, scope: Scope) -> tuple[QuerySet[User], dict[str, Any]]:
    q = request.query_params
    echo: dict[str, Any] = {
        "company_id": p.query_str(q, "company_id"), "ids": p.query_list(q, "ids"),
        "plan_id": p.query_str(q, "plan_id"), "q": p.query_str(q, "q"),
    }
    query = await service.user_list(scope, company_id=echo["company_id"])
    if echo["ids"]:
        query = query.filter(id__in=echo["ids"])
    if echo["plan_id"]:
        on_plan = CompanyPlan.filter(environment_id=scope.environment_id, plan_id=echo["plan_id"]).values("company_id")
        members = repository.memberships(scope).filter(company_id__in=Subquery(on_plan)).values("user_id")
        query = query.filter(id__in=Subquery(members))
    if echo["q"]:
        text = echo["q"]
        by_key = repository.keys(scope, USER).filter(value__icontains=text).values("user_id")
        query = query.filter(Q(name__icontains=text) | Q(id=text) | Q(id__in=Subquery(by_key)))
    return query.order_by("-created_at", "-id"), {k: v for k, v in echo.items() if v}


list_users, count_users = list_and_count(_user_query, lambda scope, rows, _: s.user_details(scope, rows))


async def delete_user(request: Request, scope: Scope) -> Response:
    async with unit_of_work():
        await service.delete_user(scope, request.path_params["user_id"])
    return ok(s.deleted())


async def delete_user_by_keys(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    keys = validation.keys(p.body_keys(body))
    async with unit_of_work():
        user = await service.resolve_user(scope, keys)
        if user is None:
            raise NotFound(f"no user matches keys {', '.join(f'{k}={v!r}' for k, v in keys.items())}", field="keys")
        await service.delete_user(scope, user.id)
    return ok(s.user_basic(user))


async def upsert_user_trait(request: Request, scope: Scope) -> Response:
    change = trait_change(await json_object(request))
    async with unit_of_work():
        user = await service.set_user_trait(
            scope, change["keys"], change["trait"], set_value=change["set_value"], incr=change["incr"],
            update_only=change["update_only"],
        )
    return ok(await s.user_detail(scope, user))


routes = [
    Route("/users", p.secret_write(upsert_user), methods=["POST"]),
    Route("/users", p.secret_read(list_users), methods=["GET"]),
    Route("/users/count", p.secret_read(count_users), methods=["GET"]),
    Route("/users/create", p.secret_write(upsert_user), methods=["POST"]),
    Route("/users/delete", p.secret_write(delete_user_by_keys), methods=["POST"]),
    Route("/users/lookup", p.secret_read(lookup_user), methods=["GET"]),
    Route("/users/{user_id}", p.secret_read(get_user), methods=["GET"]),
    Route("/users/{user_id}", p.secret_write(delete_user), methods=["DELETE"]),
    Route("/user-traits", p.secret_write(upsert_user_trait), methods=["POST"]),
]
