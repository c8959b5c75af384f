import httpx

from tests.conftest import GraphQL, Keys


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_graphql_requires_a_key(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ environment { name } }"}, headers={"X-Schematic-Api-Key": ""}
    )
    assert response.status_code == 401
    assert "missing API key" in response.json()["error"]


async def test_environment_query(gql: GraphQL, keys: Keys) -> None:
    data = await gql.ok("{ environment { name environmentType } }")
    assert data["environment"] == {"name": "development", "environmentType": "development"}


async def test_naive_datetime_variable_is_a_typed_input_error(gql: GraphQL, keys: Keys) -> None:
    body = await gql("query($at: DateTime) { eventUsage(eventName: \"x\", at: $at) { eventName } }",
                     {"at": "2026-03-18T14:05:00"})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "timezone" in error["message"]


async def test_query_limits(gql: GraphQL, keys: Keys) -> None:
    from domain.settings import get_settings

    settings = get_settings()
    nest = "plan { entitlements { " * 6
    deep = "{ companies { edges { node { " + nest + "id" + " } }" * 6 + " } } } }"
    body = await gql(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: environment {{ name }}" for i in range(settings.graphql_max_aliases + 1)) + " }"
    assert "aliases" in (await gql(aliases))["errors"][0]["message"].lower()
    tokens = "{ " + "environment { name } " * (settings.graphql_max_tokens // 3) + "}"
    assert "tokens" in (await gql(tokens))["errors"][0]["message"]


async def test_bigint_limits_beyond_32_bits(gql: GraphQL, keys: Keys) -> None:
    big = 50_000_000_000  # 50 billion tokens a month does not fit a GraphQL Int
    data = await gql.ok(
        "mutation { f: createFeature(input: {name: \"Tokens\", key: \"tokens\", featureType: EVENT, eventSubtype: "
        "\"token\"}) { feature { id } } p: createPlan(input: {name: \"Scale\"}) { plan { id } } }"
    )
    made = await gql.ok(
        "mutation($p: String!, $f: String!, $n: BigInt) { createPlanEntitlement(planId: $p, featureId: $f, "
        "input: {valueType: NUMERIC, valueNumeric: $n, metricPeriod: CURRENT_MONTH}) "
        "{ planEntitlement { valueNumeric } } }",
        {"p": data["p"]["plan"]["id"], "f": data["f"]["feature"]["id"], "n": big},
    )
    assert made["createPlanEntitlement"]["planEntitlement"]["valueNumeric"] == big
    incr = "mutation($n: BigInt) { setCompanyTrait(keys: {id: \"x\"}, trait: \"t\", incr: $n) { errors { code } } }"
    too_big = await gql(incr, {"n": 2**63})
    assert "64-bit" in too_big["errors"][0]["message"]
