"""A key never reads or writes another environment's data.

Every query and mutation root of the schema is run with a staging key, its arguments filled with the ids and
keys of development's data. No response may contain a development id or name, and development's rows must be
exactly as before. The operations are built from the schema, so a new root field is covered automatically."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    get_named_type,
)
from tortoise import Tortoise

from api.graphql.schema import schema
from domain.db import unit_of_work
from domain.demo import load_demo
from domain.entitlements.service import create_company_override
from domain.environments.service import create_key, get_environment, system_scope
from domain.metering.ingest import IncomingEvent, ingest
from tests.conftest import GraphQL, Keys

# promoteCatalog reads the environment of the key it is given: that key is the proof of access.
EXEMPT = {"promoteCatalog"}


async def _rows(environment_id: str) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for model in Tortoise.apps.get_models_iterable():
        feed = model._meta.db_table in ("cache_change", "cache_change_batch")
        if "environment" in model._meta.fields_map and not feed:
            found = await model.filter(environment_id=environment_id).order_by("id").values()
            rows[model._meta.db_table] = [{k: v for k, v in r.items() if k != "last_used_at"} for r in found]
    return rows


async def _seed_development() -> dict[str, str]:
    await load_demo("development")
    scope = await system_scope("development")
    env = await get_environment("development")
    from domain.catalog.models import Feature, Plan
    from domain.companies.models import Company, CompanyMembership, TraitDefinition, User

    async with unit_of_work():
        company = await Company.get(environment_id=env.id, name="Acme (demo)")
        sso = await Feature.get(environment_id=env.id, name="Single sign-on")
        await create_company_override(scope, company_id=company.id, feature_id=sso.id, value_type="boolean",
                                      value_bool=True, note="isolation")
        await ingest([IncomingEvent(scope=scope, type="track", idempotency_key="iso-1",
                                    body={"event": "api-call", "company": {"id": "demo-acme"}})])
        key = await create_key(env, "secret", "development key")
    from domain.catalog.models import Flag, PlanEntitlement
    from domain.entitlements.models import CompanyOverride
    from domain.environments.models import ApiKey

    def first(model: Any, **kw: Any) -> Any:
        return model.filter(environment_id=env.id, **kw).first()

    return {
        "comp": company.id, "user": (await first(User)).id, "feat": sso.id, "flag": (await first(Flag)).id,
        "plan": (await first(Plan, plan_type="plan")).id, "addon": (await first(Plan, plan_type="add_on")).id,
        "pent": (await first(PlanEntitlement)).id, "covr": (await first(CompanyOverride)).id,
        "cmem": (await first(CompanyMembership)).id, "trait": (await first(TraitDefinition)).id,
        "apikey": (await ApiKey.get(id=key.key.id)).id,
    }


ID_BY_FIELD = {
    "company": "comp", "deleteCompany": "comp", "user": "user", "deleteUser": "user", "feature": "feat",
    "updateFeature": "feat", "deleteFeature": "feat", "flag": "flag", "updateFlag": "flag", "deleteFlag": "flag",
    "plan": "plan", "updatePlan": "plan", "deletePlan": "plan", "updatePlanEntitlement": "pent",
    "deletePlanEntitlement": "pent", "updateCompanyOverride": "covr", "deleteCompanyOverride": "covr",
    "revokeApiKey": "apikey", "removeCompanyMembership": "cmem", "updateTraitDefinition": "trait",
    "deleteTraitDefinition": "trait",
}
ID_BY_ARG = {"companyId": "comp", "userId": "user", "featureId": "feat", "flagId": "flag", "planId": "plan",
             "basePlanId": "plan"}


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return str(value)


class _Enum(str):
    """An enum value: rendered bare."""


def _value(field: str, arg: str, type_: Any, ids: dict[str, str]) -> Any:
    named = get_named_type(type_)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        if arg == "addOnIds":
            return [ids["addon"]]
        if arg == "events":
            return [{"type": _Enum("TRACK"), "body": {"event": "api-call", "company": {"id": "demo-acme"}}}]
        return []
    if arg == "id":
        return ids[ID_BY_FIELD[field]]
    if arg in ID_BY_ARG:
        return ids[ID_BY_ARG[arg]]
    if isinstance(named, GraphQLEnumType):
        return _Enum(next(iter(named.values)))
    if isinstance(named, GraphQLInputObjectType):
        return {name: _value(field, name, f.type, ids) for name, f in named.fields.items()
                if (isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined) or name == "keys"}
    name = named.name
    if name == "JSON":
        return {"user_id": "demo-ann"} if "User" in field or arg == "user" else {"id": "demo-acme"}
    if name == "DateTime":
        return (datetime.now(UTC) - (timedelta(days=1) if arg == "from" else timedelta(0))).isoformat()
    if name == "Int":
        return 1
    if name == "Boolean":
        return False
    return {"key": "api-calls", "eventName": "api-call", "trait": "seats_used", "name": "iso"}.get(arg, "iso")


def _render(value: Any) -> str:
    if isinstance(value, _Enum):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return _literal(value)


def _selection(type_: Any, depth: int) -> str | None:
    """Leaf fields, and object fields down to `depth`; "" for a leaf, None past the depth limit."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if depth < 0:
        return None
    if isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    assert isinstance(named, GraphQLObjectType)
    parts = []
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in field.args.values()):
            continue
        inner = _selection(field.type, depth - 1)
        if inner == "":
            parts.append(name)
        elif inner:
            parts.append(f"{name} {inner}")
    return "{ " + " ".join(parts or ["__typename"]) + " }"


def _operation(kind: str, name: str, field: Any, ids: dict[str, str]) -> str:
    args = [
        f"{arg}: {_render(_value(name, arg, a.type, ids))}"
        for arg, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) or arg in ("id", "key", "companyId", "company", "user", "keys")
    ]
    call = f"{name}({', '.join(args)})" if args else name
    return f"{kind} {{ {call} {_selection(field.type, 3) or ''} }}"


def _forbidden(rows: dict[str, list[dict[str, Any]]]) -> set[str]:
    values = {r["id"] for table in rows.values() for r in table if isinstance(r["id"], str)}  # public ids
    return values | {"Acme (demo)", "Ann (demo)", "demo-ann"}


@pytest.mark.parametrize("kind", ["query", "mutation"])
async def test_staging_key_sees_and_changes_nothing_of_development(gql: GraphQL, keys: Keys, other_keys: Keys,
                                                                   kind: str) -> None:
    ids = await _seed_development()
    development = (await get_environment("development")).id
    before = await _rows(development)
    forbidden = _forbidden(before)
    root = schema._schema.query_type if kind == "query" else schema._schema.mutation_type
    ran = 0
    for name, field in root.fields.items():
        if name in EXEMPT or name == "environments":
            continue  # environments: the installation's list of environments, not data of one
        operation = _operation(kind, name, field, ids)
        body = await gql(operation, key=other_keys.secret)
        text = str(body)
        leaked = [value for value in forbidden if value in text and value not in operation]  # echoes are fine
        assert not leaked, f"{name} leaked {leaked}: {operation}\n{text[:500]}"
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
        assert "GRAPHQL_VALIDATION_FAILED" not in codes, f"{name}: the generated operation is invalid: {body}"
        ran += 1
    assert ran >= (20 if kind == "query" else 28)
    assert await _rows(development) == before
