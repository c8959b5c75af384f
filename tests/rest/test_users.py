"""Users and user traits over raw HTTP."""

import httpx
from schematic.companies.types import ListUsersResponse, UpsertUserResponse
from schematic.core.pydantic_utilities import parse_obj_as

from tests.rest.conftest import error, fingerprint, ok


async def test_upsert_user_with_memberships(client: httpx.AsyncClient) -> None:
    acme = ok(await client.post("/companies", json={"keys": {"id": "acme"}}))
    response = await client.post("/users", json={
        "keys": {"user_id": "u1", "email": "a@b.c"}, "name": "Ann", "traits": {"role": "admin"},
        "company": {"id": "globex"}, "company_id": acme["id"], "companies": None,  # type: ignore[index]
    })
    parse_obj_as(UpsertUserResponse, response.json())
    user = ok(response)
    assert user["name"] == "Ann" and user["traits"] == {"role": "admin"}  # type: ignore[index]
    assert {k["key"]: k["value"] for k in user["keys"]} == {"user_id": "u1", "email": "a@b.c"}  # type: ignore[index]
    assert all(k["entity_type"] == "user" for k in user["keys"])  # type: ignore[index]
    members = {m["company"]["id"] for m in user["company_memberships"]}  # type: ignore[index]
    globex = ok(await client.get("/companies/lookup?keys%5Bid%5D=globex"))
    assert members == {acme["id"], globex["id"]}  # type: ignore[index]

    assert ok(await client.post("/users/create", json={"keys": {"user_id": "u1"}, "name": "Anna"}))["id"] == user["id"]  # type: ignore[index]
    assert ok(await client.get(f"/users/{user['id']}"))["name"] == "Anna"  # type: ignore[index]
    assert ok(await client.get("/users/lookup?keys%5Bemail%5D=a%40b.c"))["id"] == user["id"]  # type: ignore[index]
    traited = ok(await client.post("/user-traits", json={"keys": {"user_id": "u1"}, "trait": "logins", "incr": 3}))
    assert traited["traits"] == {"role": "admin", "logins": 3}  # type: ignore[index]


async def test_user_lists(client: httpx.AsyncClient) -> None:
    plan = ok(await client.post("/plans", json={"name": "Pro", "plan_type": "plan"}))
    acme = ok(await client.post("/companies", json={"keys": {"id": "acme"}, "base_plan_id": plan["id"]}))  # type: ignore[index]
    u1 = ok(await client.post("/users", json={"keys": {"user_id": "u1"}, "name": "Ann", "company_id": acme["id"]}))  # type: ignore[index]
    u2 = ok(await client.post("/users", json={"keys": {"user_id": "u2"}, "name": "Bob"}))
    body = (await client.get("/users")).json()
    parse_obj_as(ListUsersResponse, body)
    assert [u["id"] for u in body["data"]] == [u2["id"], u1["id"]]  # type: ignore[index]
    assert [u["id"] for u in ok(await client.get(f"/users?company_id={acme['id']}"))] == [u1["id"]]  # type: ignore[index, union-attr]
    assert [u["id"] for u in ok(await client.get(f"/users?plan_id={plan['id']}"))] == [u1["id"]]  # type: ignore[index, union-attr]
    assert [u["id"] for u in ok(await client.get("/users?q=bo"))] == [u2["id"]]  # type: ignore[index, union-attr]
    assert ok(await client.get(f"/users/count?ids={u1['id']}&ids={u2['id']}")) == {"count": 2}  # type: ignore[index]


async def test_bad_user_writes_write_nothing(client: httpx.AsyncClient) -> None:
    ok(await client.post("/users", json={"keys": {"user_id": "u1"}, "traits": {"logins": 1}}))
    before = await fingerprint()
    error(await client.post("/users", json={"keys": {"user_id": "u2"}, "company_id": "comp_nope"}), 404, "comp_nope")
    error(await client.post("/users", json={"keys": {"user_id": "u2"}, "companies": [{"id": "nobody"}]}), 404, "nobody")
    error(await client.post("/users", json={"keys": {"user_id": "u2"}, "companies": "acme"}), 400, "companies")
    error(await client.post("/users", json={"keys": {"user_id": "u1"}, "traits": {"logins": "lots"}}), 400, "logins")
    error(await client.post("/user-traits", json={"keys": {"user_id": "u1"}, "trait": "logins", "incr": "1"}),
          400, "incr must be an integer")
    error(await client.get("/users/user_nope"), 404)
    error(await client.delete("/users/user_nope"), 404)
    error(await client.post("/users/delete", json={"keys": {"user_id": "ghost"}}), 404, "ghost")
    assert await fingerprint() == before


async def test_delete_users(client: httpx.AsyncClient) -> None:
    u1 = ok(await client.post("/users", json={"keys": {"user_id": "u1"}, "name": "Ann"}))
    ok(await client.post("/users", json={"keys": {"user_id": "u2"}}))
    assert ok(await client.delete(f"/users/{u1['id']}")) == {"deleted": True}  # type: ignore[index]
    gone = ok(await client.post("/users/delete", json={"keys": {"user_id": "u2"}}))
    assert set(gone) >= {"id", "name", "environment_id", "created_at", "updated_at"}  # type: ignore[arg-type]
    assert ok(await client.get("/users/count")) == {"count": 0}
