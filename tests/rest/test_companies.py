"""Companies, company traits, memberships, plan assignment and trait definitions over raw HTTP:
envelope, query encodings, pages, required fields, errors, and that a refused write leaves nothing."""

import httpx
from schematic.companies.types import (
    GetCompanyResponse,
    ListCompaniesResponse,
    ListEntityTraitDefinitionsResponse,
    UpsertCompanyResponse,
)
from schematic.core.pydantic_utilities import parse_obj_as

from tests.conftest import Keys, QueryCounter
from tests.rest.conftest import error, fingerprint, ok


async def _company(client: httpx.AsyncClient, key: str, **extra: object) -> dict:
    return ok(await client.post("/companies", json={"keys": {"id": key}, **extra}))  # type: ignore[return-value]


async def _plan(client: httpx.AsyncClient, name: str, plan_type: str = "plan") -> dict:
    return ok(await client.post("/plans", json={"name": name, "plan_type": plan_type}))  # type: ignore[return-value]


async def test_upsert_returns_the_minimal_detail_shape(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.post("/companies", json={
        "keys": {"id": "acme"}, "name": "Acme", "traits": {"seats": 3, "beta": True}, "user": None,
        "last_seen_at": "2026-03-18T14:05:00Z", "update_only": None,
    })
    body = response.json()
    assert body["params"] == {}
    parse_obj_as(UpsertCompanyResponse, body)
    data = body["data"]
    for field in ("add_ons", "billing_subscriptions", "custom_plan_billings", "entitlements", "entity_traits",
                  "keys", "metrics", "payment_methods", "plans", "rules"):
        assert isinstance(data[field], list), field
    assert data["environment_id"] == keys.scope.environment_id and data["user_count"] == 0
    assert data["created_at"].endswith("Z") and data["last_seen_at"] == "2026-03-18T14:05:00Z"
    [key] = data["keys"]
    assert key["key"] == "id" and key["value"] == "acme" and key["entity_id"] == data["id"]
    assert key["entity_type"] == "company" and key["definition_id"]
    traits = {t["definition"]["hierarchy"][0]: t["value"] for t in data["entity_traits"]}
    assert traits == {"seats": "3", "beta": "true"}
    assert data["traits"] == {"seats": 3, "beta": True}


async def test_lookup_accepts_brackets_json_and_bare_pairs(client: httpx.AsyncClient) -> None:
    company = await _company(client, "acme", name="Acme")
    for query in ("keys%5Bid%5D=acme", 'keys={"id":"acme"}', "id=acme"):
        response = await client.get(f"/companies/lookup?{query}")
        assert ok(response)["id"] == company["id"], query  # type: ignore[index]
        assert response.json()["params"] == {"keys": {"id": "acme"}}
    error(await client.get("/companies/lookup?keys%5Bid%5D=nobody"), 404, "no company matches", "nobody")
    error(await client.get("/companies/lookup"), 400, "keys")


async def test_lists_are_newest_first_paged_and_counted(client: httpx.AsyncClient) -> None:
    ids = [(await _company(client, f"c{i}", name=f"Company {i}"))["id"] for i in range(5)]
    response = await client.get("/companies?limit=2&offset=1")
    body = response.json()
    parse_obj_as(ListCompaniesResponse, body)
    assert [c["id"] for c in body["data"]] == [ids[3], ids[2]]
    assert body["params"] == {"limit": 2, "offset": 1}
    chosen = ok(await client.get(f"/companies?ids={ids[0]}&ids={ids[4]}"))
    assert [c["id"] for c in chosen] == [ids[4], ids[0]]  # type: ignore[union-attr]
    assert ok(await client.get("/companies/count")) == {"count": 5}
    assert ok(await client.get(f"/companies/count?ids={ids[0]}")) == {"count": 1}
    by_name = ok(await client.get("/companies?sort_order_column=name&sort_order_direction=asc&limit=1"))
    assert by_name[0]["id"] == ids[0]  # type: ignore[index]
    assert ok(await client.get("/companies?q=c3"))[0]["id"] == ids[3]  # type: ignore[index]  # by key value
    assert ok(await client.get("/companies?with_subscription=true")) == []
    error(await client.get("/companies?limit=abc"), 400, "limit")
    error(await client.get("/companies?sort_order_column=secret"), 400, "sort_order_column")
    error(await client.get("/companies?without_plan=perhaps"), 400, "without_plan")


async def test_plan_filters(client: httpx.AsyncClient) -> None:
    plan = await _plan(client, "Pro")
    on_plan = await _company(client, "a", base_plan_id=plan["id"])
    bare = await _company(client, "b")
    assert [c["id"] for c in ok(await client.get(f"/companies?plan_id={plan['id']}"))] == [on_plan["id"]]  # type: ignore[union-attr]
    assert [c["id"] for c in ok(await client.get("/companies?without_plan=true"))] == [bare["id"]]  # type: ignore[union-attr]
    assert ok(await client.get(f"/companies/count?plan_ids={plan['id']}")) == {"count": 1}


async def test_base_plan_on_create_and_rollback_on_a_bad_plan(client: httpx.AsyncClient) -> None:
    plan = await _plan(client, "Pro")
    addon = await _plan(client, "Extra", "add_on")
    company = await _company(client, "acme", base_plan_id=plan["id"], base_plan_price_id=None)
    assert company["plan"]["id"] == plan["id"] and company["plans"] == [
        {"id": plan["id"], "name": "Pro", "description": "", "image_url": None}]
    # An existing company keeps its plans (base_plan_id applies on create).
    again = await _company(client, "acme", base_plan_id=addon["id"])
    assert again["plan"]["id"] == plan["id"]

    before = await fingerprint()
    error(await client.post("/companies", json={"keys": {"id": "new"}, "base_plan_id": "plan_nope"}), 404, "plan_nope")
    error(await client.post("/companies", json={"keys": {"id": "new"}, "base_plan_id": addon["id"]}), 400, "add-on")
    assert await fingerprint() == before


async def test_bad_upserts_write_nothing(client: httpx.AsyncClient) -> None:
    await _company(client, "acme", traits={"seats": 3})
    await _company(client, "globex")
    await _company(client, "x", keys={"id": "x", "org": "globex"})
    before = await fingerprint()
    cases = [
        ({}, 400, "keys is required"),
        ({"keys": {}}, 400, "keys must name at least one key"),
        ({"keys": {"id": 5}}, 400, "must be a string"),
        ({"keys": {"id": "acme"}, "traits": {"seats": "many"}}, 400, "seats"),
        ({"keys": {"id": "acme"}, "name": 7}, 400, "name must be a string"),
        ({"keys": {"id": "acme"}, "last_seen_at": "2026-03-18T14:05:00"}, 400, "timezone"),
        ({"keys": {"id": "acme", "org": "globex"}}, 400, "more than one company"),
        ({"keys": {"id": "nobody"}, "update_only": True}, 404, "update_only"),
        ({"keys": {"id": "acme"}, "remove_keys": ["id"]}, 400, "both set and removed"),
        ({"keys": {"id": "globex"}, "id": "comp_missing"}, 404, "comp_missing"),
    ]
    for body, status, fragment in cases:
        error(await client.post("/companies", json=body), status, fragment)
    error(await client.post("/companies", content=b"not json"), 400, "malformed JSON")
    error(await client.post("/companies", json=[1]), 400, "JSON object")
    assert await fingerprint() == before


async def test_company_traits_set_and_incr(client: httpx.AsyncClient) -> None:
    await _company(client, "acme", traits={"seats": 3})
    data = ok(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "seats", "incr": -1}))
    assert data["traits"] == {"seats": 2}  # type: ignore[index]
    data = ok(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "plan", "set": "gold",
                                                         "incr": None}))
    assert data["traits"] == {"seats": 2, "plan": "gold"}  # type: ignore[index]
    created = ok(await client.post("/company-traits", json={"keys": {"id": "new"}, "trait": "seats", "set": 1}))
    assert created["keys"][0]["value"] == "new"  # type: ignore[index]
    before = await fingerprint()
    error(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "seats", "set": 1, "incr": 1}),
          400, "exactly one of set or incr")
    error(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "seats"}), 400, "set or incr")
    error(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "plan", "incr": 1}),
          400, "incr needs a number")
    error(await client.post("/company-traits", json={"keys": {"id": "acme"}, "trait": "seats", "incr": 1.5}),
          400, "incr must be an integer")
    error(await client.post("/company-traits", json={"keys": {"id": "ghost"}, "trait": "seats", "incr": 1,
                                                      "update_only": True}), 404, "update_only")
    error(await client.post("/company-traits", json={"keys": {"id": "acme"}, "set": 1}), 400, "trait is required")
    assert await fingerprint() == before


async def test_delete_by_id_and_by_keys(client: httpx.AsyncClient) -> None:
    acme = await _company(client, "acme")
    globex = await _company(client, "globex")
    response = await client.delete(f"/companies/{acme['id']}?cancel_subscription=true&prorate=false")
    assert response.json() == {"data": {"deleted": True}, "params": {"cancel_subscription": True, "prorate": False}}
    error(await client.delete(f"/companies/{acme['id']}"), 404, acme["id"])
    error(await client.get(f"/companies/{acme['id']}"), 404)
    error(await client.post("/companies/delete", json={"keys": {"id": "nobody"}}), 404, "nobody")
    deleted = ok(await client.post("/companies/delete", json={"keys": {"id": "globex"}}))
    assert deleted == {k: globex[k] for k in ("id", "name", "environment_id", "logo_url", "last_seen_at",
                                               "created_at", "updated_at")}
    assert ok(await client.get("/companies/count")) == {"count": 0}


async def test_company_plans(client: httpx.AsyncClient) -> None:
    plan = await _plan(client, "Pro")
    addon = await _plan(client, "Extra", "add_on")
    company = await _company(client, "acme")
    data = ok(await client.put(f"/company-plans/{company['id']}", json={"add_on_ids": [addon["id"]],
                                                                        "base_plan_id": plan["id"]}))
    assert data["plan"]["id"] == plan["id"] and [a["id"] for a in data["add_ons"]] == [addon["id"]]  # type: ignore[index]
    before = await fingerprint()
    error(await client.put(f"/company-plans/{company['id']}", json={"base_plan_id": plan["id"]}), 400, "add_on_ids")
    error(await client.put(f"/company-plans/{company['id']}", json={"add_on_ids": ["plan_nope"]}), 404, "plan_nope")
    error(await client.put(f"/company-plans/{company['id']}", json={"add_on_ids": [plan["id"]]}), 400, "base plan")
    error(await client.put(f"/company-plans/{company['id']}", json={"add_on_ids": [], "base_plan_id": addon["id"]}),
          400, "add-on")
    error(await client.put("/company-plans/comp_nope", json={"add_on_ids": []}), 404, "comp_nope")
    assert await fingerprint() == before
    cleared = ok(await client.put(f"/company-plans/{company['id']}", json={"add_on_ids": []}))
    assert cleared["plan"] is None and cleared["add_ons"] == [] and cleared["plans"] == []  # type: ignore[index]


async def test_memberships(client: httpx.AsyncClient) -> None:
    company = await _company(client, "acme")
    user = ok(await client.post("/users", json={"keys": {"user_id": "u1"}}))
    created = ok(await client.post("/company-memberships", json={"company_id": company["id"], "user_id": user["id"]}))  # type: ignore[index]
    assert created["company"]["id"] == company["id"]  # type: ignore[index]
    listed = await client.get(f"/company-memberships?user_id={user['id']}")  # type: ignore[index]
    assert [m["id"] for m in ok(listed)] == [created["id"]]  # type: ignore[index, union-attr]
    assert listed.json()["params"] == {"user_id": user["id"], "limit": 100, "offset": 0}  # type: ignore[index]
    assert ok(await client.get(f"/companies/{company['id']}"))["user_count"] == 1  # type: ignore[index]
    before = await fingerprint()
    error(await client.post("/company-memberships", json={"company_id": company["id"], "user_id": "user_nope"}),
          404, "user_nope")
    error(await client.post("/company-memberships", json={"company_id": company["id"]}), 400, "user_id is required")
    error(await client.delete("/company-memberships/cmem_nope"), 404)
    assert await fingerprint() == before
    assert ok(await client.delete(f"/company-memberships/{created['id']}")) == {"deleted": True}  # type: ignore[index]


async def test_trait_definitions(client: httpx.AsyncClient) -> None:
    created = ok(await client.post("/entity-trait-definitions", json={
        "entity_type": "company", "hierarchy": ["seats"], "trait_type": "number", "display_name": "Seats"}))
    assert created["hierarchy"] == ["seats"] and created["display_name"] == "Seats"  # type: ignore[index]
    body = (await client.get("/entity-trait-definitions?entity_type=company&trait_types=number")).json()
    parse_obj_as(ListEntityTraitDefinitionsResponse, body)
    assert [d["id"] for d in body["data"]] == [created["id"]]  # type: ignore[index]
    assert ok(await client.get("/entity-trait-definitions/count?q=sea")) == {"count": 1}
    before = await fingerprint()
    error(await client.post("/entity-trait-definitions", json={"entity_type": "org", "hierarchy": ["x"],
                                                               "trait_type": "number"}), 400, "entity_type")
    error(await client.post("/entity-trait-definitions", json={"entity_type": "company", "hierarchy": [],
                                                               "trait_type": "number"}), 400, "hierarchy")
    error(await client.post("/entity-trait-definitions", json={"entity_type": "company", "hierarchy": ["x"],
                                                               "trait_type": "float"}), 400, "trait_type")
    error(await client.put(f"/entity-trait-definitions/{created['id']}", json={}), 400, "trait_type is required")  # type: ignore[index]
    error(await client.get("/entity-trait-definitions?trait_type=float"), 400, "trait_type")
    error(await client.get("/entity-trait-definitions/trait_nope"), 404)
    assert await fingerprint() == before
    # A trait feature uses it: deleting it is refused with 400, never 409.
    ok(await client.post("/features", json={"name": "Seats", "description": "", "feature_type": "trait",
                                            "trait_id": created["id"]}))  # type: ignore[index]
    error(await client.delete(f"/entity-trait-definitions/{created['id']}"), 400, "used by a feature")  # type: ignore[index]


async def test_metrics_follow_tracked_usage(client: httpx.AsyncClient, keys: Keys) -> None:
    company = await _company(client, "acme")
    response = await client.post("/events", json={"event_type": "track", "body": {
        "event": "api-call", "company": {"id": "acme"}, "quantity": 4}})
    assert response.is_success, response.text
    data = ok(await client.get(f"/companies/{company['id']}"))
    parse_obj_as(GetCompanyResponse, {"data": data, "params": {}})
    metrics = {(m["period"], m["month_reset"]): m["value"] for m in data["metrics"]}  # type: ignore[index]
    assert metrics[("all_time", "first_of_month")] == 4 and metrics[("current_month", "first_of_month")] == 4
    assert all(m["account_id"] == keys.scope.account_id for m in data["metrics"])  # type: ignore[index]


async def test_environments_are_isolated(client: httpx.AsyncClient, staging: httpx.AsyncClient) -> None:
    company = await _company(client, "acme")
    error(await staging.get(f"/companies/{company['id']}"), 404)
    error(await staging.get("/companies/lookup?keys%5Bid%5D=acme"), 404)
    assert ok(await staging.get("/companies")) == []
    other = ok(await staging.post("/companies", json={"keys": {"id": "acme"}}))
    assert other["id"] != company["id"]  # type: ignore[index]


async def test_a_page_costs_a_fixed_number_of_queries(client: httpx.AsyncClient, count_queries: QueryCounter) -> None:
    plan = await _plan(client, "Pro")
    costs, made = [], 0
    for total in (2, 6):
        while made < total:
            await _company(client, f"c{made}", traits={"seats": 1}, base_plan_id=plan["id"])
            made += 1
        await client.get("/companies")  # warms the check snapshots that fill `entitlements`
        count_queries.statements.clear()
        assert len(ok(await client.get("/companies"))) == total  # type: ignore[arg-type]
        costs.append(len(count_queries.statements))
    assert costs[0] == costs[1], costs
