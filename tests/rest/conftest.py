"""Helpers for the management REST tests: a publishable-key client and a database fingerprint to
assert that a refused request wrote nothing."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.companies.models import (
    Company,
    CompanyKey,
    CompanyMembership,
    CompanyTrait,
    TraitDefinition,
    User,
    UserKey,
    UserTrait,
)
from domain.entitlements.models import CompanyOverride, CompanyPlan
from domain.environments import service as environments
from domain.environments.models import Environment
from tests.conftest import Keys

MODELS = (
    Company, CompanyKey, CompanyTrait, CompanyMembership, User, UserKey, UserTrait, TraitDefinition, Feature, Flag,
    Rule, ConditionGroup, Condition, Plan, PlanEntitlement, CompanyPlan, CompanyOverride,
)


async def fingerprint() -> dict[str, object]:
    """Row ids of every table a management write touches, plus the mutable columns of the main rows."""
    state: dict[str, object] = {}
    for model in MODELS:
        state[model.__name__] = sorted(await model.all().values_list("id", flat=True))
    state["company_names"] = sorted(await Company.all().values_list("id", "name"))
    state["key_values"] = sorted(await CompanyKey.all().values_list("company_id", "key", "value"))
    state["trait_values"] = sorted(
        str(row) for row in await CompanyTrait.all().values_list("company_id", "definition_id", "value_number",
                                                                  "value_text", "value_bool"))
    state["plans"] = sorted(await CompanyPlan.all().values_list("company_id", "plan_id", "slot"))
    state["entitlements"] = sorted(
        str(r) for r in await PlanEntitlement.all().values_list("id", "value_type", "value_numeric", "value_bool"))
    return state


def _client(app: object, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://plangate.test",  # type: ignore[arg-type]
        headers={"X-Schematic-Api-Key": key},
    )


@pytest_asyncio.fixture
async def publishable(app: object, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, keys.publishable) as http:
        yield http


@pytest_asyncio.fixture
async def readonly(app: object, keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    env = await Environment.get(name="development")
    created = await environments.create_key(env, "secret", "read only", readonly=True)
    async with _client(app, created.plaintext) as http:
        yield http


@pytest_asyncio.fixture
async def staging(app: object, other_keys: Keys) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, other_keys.secret) as http:
        yield http


def ok(response: httpx.Response) -> object:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"data", "params"}, body
    return body["data"]


def error(response: httpx.Response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    for fragment in fragments:
        assert fragment in message, message
    return message
