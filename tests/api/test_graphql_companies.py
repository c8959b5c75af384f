from domain.catalog.models import Feature, Plan
from domain.companies import service
from domain.companies.models import Company, CompanyKey, CompanyMembership, CompanyTrait, User
from domain.companies.service import CompanyUpsert, UserUpsert
from domain.entitlements.models import CompanyOverride, CompanyPlan
from domain.scope import Scope
from tests.conftest import GraphQL, Keys, QueryCounter
from tests.domain.test_companies import snapshot

COMPANY_FIELDS = "id name keys { key value } traits memberCount lastSeenAt createdAt updatedAt"

UPSERT = f"""mutation($input: UpsertCompanyInput!) {{
  upsertCompany(input: $input) {{ created company {{ {COMPANY_FIELDS} }} errors {{ code message field }} }}
}}"""

SET_TRAIT = """mutation($keys: JSON!, $trait: String!, $set: JSON, $incr: BigInt, $updateOnly: Boolean! = false) {
  setCompanyTrait(keys: $keys, trait: $trait, set: $set, incr: $incr, updateOnly: $updateOnly) {
    company { id traits } errors { code message field }
  }
}"""


async def upsert(gql: GraphQL, **input: object) -> dict:
    return (await gql(UPSERT, {"input": input}))["data"]["upsertCompany"]


async def test_upsert_and_read_back(gql: GraphQL) -> None:
    result = await upsert(gql, keys={"id": "acme"}, name="Acme", traits={"seats": 5, "beta": True},
                          lastSeenAt="2026-03-18T14:05:00Z")
    assert result["errors"] == [] and result["created"] is True
    company = result["company"]
    assert company["keys"] == [{"key": "id", "value": "acme"}]
    assert company["traits"] == {"seats": 5, "beta": True}
    assert company["lastSeenAt"] == "2026-03-18T14:05:00Z" and company["memberCount"] == 0

    again = await upsert(gql, keys={"id": "acme", "stripe": "cus_1"}, traits={"seats": 6, "tier": "pro"})
    assert again["created"] is False and again["company"]["id"] == company["id"]
    assert again["company"]["traits"] == {"seats": 6, "beta": True, "tier": "pro"}

    data = await gql.ok("""query($id: String!, $keys: JSON!) {
      company(id: $id) { name keys { key value } }
      companyByKeys(keys: $keys) { id }
      missing: companyByKeys(keys: {id: "nobody"}) { id }
    }""", {"id": company["id"], "keys": {"stripe": "cus_1"}})
    assert data["company"]["name"] == "Acme"
    assert {k["key"] for k in data["company"]["keys"]} == {"id", "stripe"}
    assert data["companyByKeys"]["id"] == company["id"] and data["missing"] is None


async def test_upsert_errors_are_typed_and_write_nothing(gql: GraphQL, scope: Scope) -> None:
    await service.upsert_company(scope, CompanyUpsert(keys={"id": "a"}, traits={"seats": 1}))
    await service.upsert_company(scope, CompanyUpsert(keys={"id": "b", "stripe": "cus_b"}))
    before = await snapshot()
    cases = [
        ({"keys": {"id": "a", "stripe": "cus_b"}}, "KEY_CONFLICT", "keys match more than one company"),
        ({"keys": {"id": "a"}, "traits": {"seats": "many"}}, "INVALID_INPUT", "trait 'seats' is a number"),
        ({"keys": {"id": 7}}, "INVALID_INPUT", "must be a string value"),
        ({"keys": "acme"}, "INVALID_INPUT", "keys must be an object"),
        ({"keys": {"id": "ghost"}, "updateOnly": True}, "NOT_FOUND", "no company matches"),
        ({"keys": {"id": "a"}, "removeKeys": ["id"]}, "INVALID_INPUT", "both set and removed"),
    ]
    for input, code, message in cases:
        result = await upsert(gql, **input)
        assert result["company"] is None
        [error] = result["errors"]
        assert error["code"] == code and message in error["message"], error
    body = await gql(UPSERT, {"input": {"keys": {"id": "x"}, "lastSeenAt": "2026-03-18T14:05:00"}})
    assert body["errors"]  # refused by the DateTime scalar before the resolver runs
    assert await snapshot() == before


async def test_set_company_trait(gql: GraphQL) -> None:
    created = await gql.ok(SET_TRAIT, {"keys": {"id": "acme"}, "trait": "calls", "incr": 3})
    company_id = created["setCompanyTrait"]["company"]["id"]
    await gql.ok(SET_TRAIT, {"keys": {"id": "acme"}, "trait": "calls", "incr": -1})
    result = await gql.ok(SET_TRAIT, {"keys": {"id": "acme"}, "trait": "plan", "set": "pro"})
    assert result["setCompanyTrait"]["company"] == {"id": company_id, "traits": {"calls": 2, "plan": "pro"}}
    for variables, code, message in [
        ({"trait": "calls", "set": 1, "incr": 1}, "INVALID_INPUT", "exactly one of set or incr"),
        ({"trait": "calls"}, "INVALID_INPUT", "exactly one of set or incr"),
        ({"trait": "calls", "set": None}, "INVALID_INPUT", "has no value"),
        ({"trait": "plan", "incr": 1}, "INVALID_INPUT", "incr needs a number"),
        ({"trait": "calls", "set": 1, "keys": {"id": "ghost"}, "updateOnly": True}, "NOT_FOUND", "update_only"),
    ]:
        body = await gql(SET_TRAIT, {"keys": {"id": "acme"}, **variables})
        [error] = body["data"]["setCompanyTrait"]["errors"]
        assert (error["code"], message in error["message"]) == (code, True), error


async def test_delete_company(gql: GraphQL, scope: Scope) -> None:
    company, _ = await service.upsert_company(scope, CompanyUpsert(keys={"id": "acme"}, name="Acme"))
    mutation = "mutation($id: String!) { deleteCompany(id: $id) { company { id name } errors { code } } }"
    deleted = await gql.ok(mutation, {"id": company.id})
    assert deleted["deleteCompany"]["company"] == {"id": company.id, "name": "Acme"}
    again = await gql(mutation, {"id": company.id})
    assert again["data"]["deleteCompany"]["errors"] == [{"code": "NOT_FOUND"}]


async def test_users_and_memberships(gql: GraphQL, scope: Scope) -> None:
    upsert_user = """mutation($input: UpsertUserInput!) {
      upsertUser(input: $input) { created user { id name keys { key value } traits
        memberships { id companyId company { name } user { name } } } errors { code message } }
    }"""
    data = await gql.ok(upsert_user, {"input": {"keys": {"id": "ann"}, "name": "Ann", "traits": {"admin": True},
                                                "company": {"id": "acme"}}})
    user = data["upsertUser"]["user"]
    assert data["upsertUser"]["created"] and user["traits"] == {"admin": True}
    [membership] = user["memberships"]
    assert membership["user"] == {"name": "Ann"} and membership["company"] == {"name": ""}
    company_id = membership["companyId"]

    bob, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "bob"}, name="Bob"))
    added = await gql.ok("""mutation($c: String!, $u: String!) {
      addCompanyMembership(companyId: $c, userId: $u) { created membership { id userId } errors { code } }
    }""", {"c": company_id, "u": bob.id})
    assert added["addCompanyMembership"]["created"] is True

    listing = await gql.ok("""query($c: String!) {
      company(id: $c) { memberCount users(first: 1) { name } all: users { name } }
      users(companyId: $c) { totalCount nodes { name } }
      userByKeys(keys: {id: "bob"}) { name }
      search: users(search: "AN") { nodes { name } }
    }""", {"c": company_id})
    assert listing["company"]["memberCount"] == 2
    assert listing["company"]["users"] == [{"name": "Bob"}]  # newest first
    assert {u["name"] for u in listing["company"]["all"]} == {"Ann", "Bob"}
    assert listing["users"]["totalCount"] == 2
    assert listing["userByKeys"] == {"name": "Bob"} and listing["search"]["nodes"] == [{"name": "Ann"}]

    removed = await gql.ok("""mutation($id: String!) {
      removeCompanyMembership(id: $id) { membership { id } errors { code } }
    }""", {"id": added["addCompanyMembership"]["membership"]["id"]})
    assert removed["removeCompanyMembership"]["membership"]["id"] == added["addCompanyMembership"]["membership"]["id"]
    assert (await gql.ok("query($c: String!) { company(id: $c) { memberCount } }", {"c": company_id}))[
        "company"]["memberCount"] == 1

    set_user = await gql.ok("""mutation { setUserTrait(keys: {id: "bob"}, trait: "logins", incr: 2) {
      user { traits } errors { code } } }""")
    assert set_user["setUserTrait"]["user"]["traits"] == {"logins": 2}
    deleted = await gql.ok("mutation($id: String!) { deleteUser(id: $id) { user { id } errors { code } } }",
                           {"id": bob.id})
    assert deleted["deleteUser"]["user"]["id"] == bob.id


async def test_trait_definitions(gql: GraphQL, scope: Scope) -> None:
    created = await gql.ok("""mutation {
      createTraitDefinition(entityType: COMPANY, name: "seats", traitType: NUMBER, displayName: "Seats") {
        traitDefinition { id name entityType traitType displayName } errors { code }
      }
    }""")
    definition = created["createTraitDefinition"]["traitDefinition"]
    assert definition["traitType"] == "NUMBER" and definition["entityType"] == "COMPANY"
    conflict = await gql("""mutation { createTraitDefinition(entityType: COMPANY, name: "seats", traitType: STRING) {
      traitDefinition { id } errors { code field } } }""")
    assert conflict["data"]["createTraitDefinition"]["errors"] == [{"code": "INVALID_INPUT", "field": "trait_type"}]

    await service.upsert_company(scope, CompanyUpsert(keys={"id": "a"}, traits={"seats": 12}))
    updated = await gql.ok("""mutation($id: String!) {
      updateTraitDefinition(id: $id, traitType: STRING) { traitDefinition { traitType displayName } errors { code } }
    }""", {"id": definition["id"]})
    assert updated["updateTraitDefinition"]["traitDefinition"] == {"traitType": "STRING", "displayName": "Seats"}
    company = await gql.ok('{ companyByKeys(keys: {id: "a"}) { traits } }')
    assert company["companyByKeys"]["traits"] == {"seats": "12"}

    await Feature.create(environment_id=scope.environment_id, name="Seats", feature_type="trait",
                         trait_definition_id=definition["id"])
    in_use = await gql("""mutation($id: String!) { deleteTraitDefinition(id: $id) { traitDefinition { id }
      errors { code } } }""", {"id": definition["id"]})
    assert in_use["data"]["deleteTraitDefinition"]["errors"] == [{"code": "IN_USE"}]
    listed = await gql.ok("{ company: traitDefinitions(entityType: COMPANY) { name } user: traitDefinitions("
                          "entityType: USER) { name } all: traitDefinitions { name } }")
    assert listed == {"company": [{"name": "seats"}], "user": [], "all": [{"name": "seats"}]}


async def test_company_filters_and_pagination(gql: GraphQL, scope: Scope) -> None:
    ids = []
    for i, (name, tier) in enumerate([("Acme", "pro"), ("Acme Labs", "free"), ("Globex", "pro")]):
        company, _ = await service.upsert_company(scope, CompanyUpsert(
            keys={"id": f"c{i}"}, name=name, traits={"tier": tier, "seats": i}))
        ids.append(company.id)
    plan = await Plan.create(environment_id=scope.environment_id, name="Pro", plan_type="plan")
    await CompanyPlan.create(environment_id=scope.environment_id, company_id=ids[2], plan=plan, slot="base")

    async def names(args: str, variables: dict | None = None) -> list[str]:
        declared = "($t: JSON!)" if variables else ""
        data = await gql.ok(f"query{declared} {{ companies{f'({args})' if args else ''} {{ nodes {{ name }} }} }}",
                            variables)
        return [n["name"] for n in data["companies"]["nodes"]]

    assert await names("") == ["Globex", "Acme Labs", "Acme"]
    assert await names('search: "acme"') == ["Acme Labs", "Acme"]
    assert await names('key: {key: "id", value: "c1"}') == ["Acme Labs"]
    assert await names('trait: {name: "tier", value: $t}', {"t": "pro"}) == ["Globex", "Acme"]
    assert await names('trait: {name: "seats", value: $t}', {"t": 2}) == ["Globex"]
    assert await names('trait: {name: "unknown", value: $t}', {"t": 2}) == []
    assert await names(f'planId: "{plan.id}"') == ["Globex"]
    assert await names('search: "acme", trait: {name: "tier", value: $t}', {"t": "free"}) == ["Acme Labs"]
    bad = await gql('query { companies(trait: {name: "seats", value: "lots"}) { nodes { id } } }')
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"

    page = await gql.ok("{ companies(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }")
    assert page["companies"]["totalCount"] == 3 and page["companies"]["pageInfo"]["hasNextPage"]
    rest = await gql.ok("query($a: String) { companies(first: 2, after: $a) { nodes { id } } }",
                        {"a": page["companies"]["pageInfo"]["endCursor"]})
    assert [n["id"] for n in page["companies"]["nodes"] + rest["companies"]["nodes"]] == ids[::-1]


async def test_publishable_keys_are_refused(gql: GraphQL, keys: Keys) -> None:
    body = await gql('{ companies { nodes { id } } }', key=keys.publishable)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql('mutation { upsertCompany(input: {keys: {id: "x"}}) { errors { code } } }', key=keys.publishable)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not await Company.exists()


LIST_QUERY = """{ companies(first: 100) { totalCount nodes {
  id name keys { key value } traits memberCount
  plan { id name } addOns { id name } overrides { id valueType }
} } }"""


async def _seed_companies(scope: Scope, count: int) -> None:
    """`count` companies, each with 2 keys, 2 traits, a member, a base plan, an add-on and an override
    (bulk inserts: the test is about reads)."""
    env = scope.environment_id
    base = await Plan.create(environment_id=env, name=f"Base {count}", plan_type="plan")
    add_on = await Plan.create(environment_id=env, name=f"Add-on {count}", plan_type="add_on")
    feature = await Feature.create(environment_id=env, name=f"F {count}", feature_type="boolean")
    seats = await service.get_or_create_trait_definition(scope, "company", "seats", "number")
    tier = await service.get_or_create_trait_definition(scope, "company", "tier", "string")
    companies = [Company(environment_id=env, name=f"C{count}-{i}") for i in range(count)]
    users = [User(environment_id=env, name=f"U{count}-{i}") for i in range(count)]
    await Company.bulk_create(companies)
    await User.bulk_create(users)
    pairs = list(zip(companies, users, strict=True))
    await CompanyKey.bulk_create([CompanyKey(environment_id=env, company_id=c.id, key=k, value=f"{k}-{c.id}")
                                  for c in companies for k in ("id", "slug")])
    await CompanyTrait.bulk_create(
        [CompanyTrait(environment_id=env, company_id=c.id, definition_id=seats.id, value_number=i)
         for i, c in enumerate(companies)]
        + [CompanyTrait(environment_id=env, company_id=c.id, definition_id=tier.id, value_text="pro")
           for c in companies])
    await CompanyMembership.bulk_create([CompanyMembership(environment_id=env, company_id=c.id, user_id=u.id)
                                         for c, u in pairs])
    await CompanyPlan.bulk_create(
        [CompanyPlan(environment_id=env, company_id=c.id, plan=base, slot="base") for c in companies]
        + [CompanyPlan(environment_id=env, company_id=c.id, plan=add_on, slot=add_on.id) for c in companies])
    await CompanyOverride.bulk_create([CompanyOverride(environment_id=env, company_id=c.id, feature=feature,
                                                       value_type="boolean", value_bool=True) for c in companies])


async def test_listing_companies_runs_a_fixed_number_of_selects(
    gql: GraphQL, scope: Scope, count_queries: QueryCounter
) -> None:
    await gql.ok("{ environment { name } }")  # authenticate once: the key is cached afterwards
    selects = {}
    for total, batch in ((10, 10), (100, 90)):
        await _seed_companies(scope, batch)
        count_queries.statements.clear()
        data = await gql.ok(LIST_QUERY)
        # the app's change-feed poller runs concurrently; its reads are not the request's
        selects[total] = sum(1 for s in count_queries.statements if s.startswith("SELECT") and "cache_change" not in s)
        nodes = data["companies"]["nodes"]
        assert len(nodes) == total
        node = nodes[0]
        assert len(node["keys"]) == 2 and node["traits"]["tier"] == "pro" and node["memberCount"] == 1
        assert node["plan"]["name"].startswith("Base") and len(node["addOns"]) == 1
        assert node["overrides"][0]["valueType"] == "BOOLEAN"
    assert selects[10] == selects[100] <= 10, selects


async def test_environment_isolation(gql: GraphQL, scope: Scope, other_keys: Keys) -> None:
    company, _ = await service.upsert_company(scope, CompanyUpsert(keys={"id": "acme"}, name="Acme",
                                                                   traits={"seats": 1}))
    user, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "ann"}, company_id=company.id))
    membership, _ = await service.ensure_membership(scope, company.id, user.id)
    definition = await service.get_or_create_trait_definition(scope, "company", "seats")
    staging = other_keys.secret
    data = await gql.ok("""query($c: String!, $u: String!) {
      company(id: $c) { id } companyByKeys(keys: {id: "acme"}) { id } byId: companyByKeys(keys: {id: $c}) { id }
      companies { totalCount nodes { id } } user(id: $u) { id } userByKeys(keys: {id: "ann"}) { id }
      users { totalCount } members: users(companyId: $c) { totalCount } traitDefinitions { id }
      keyed: companies(key: {key: "id", value: "acme"}) { totalCount }
    }""", {"c": company.id, "u": user.id}, key=staging)
    assert data == {
        "company": None, "companyByKeys": None, "byId": None, "companies": {"totalCount": 0, "nodes": []},
        "user": None, "userByKeys": None, "users": {"totalCount": 0}, "members": {"totalCount": 0},
        "traitDefinitions": [], "keyed": {"totalCount": 0},
    }
    before = await snapshot()
    mutations = [
        ("mutation($c: String!) { deleteCompany(id: $c) { errors { code } } }", "deleteCompany"),
        ("mutation($u: String!) { deleteUser(id: $u) { errors { code } } }", "deleteUser"),
        ("mutation($c: String!) { upsertCompany(input: {keys: {x: \"y\"}, id: $c}) { errors { code } } }",
         "upsertCompany"),
        ("mutation($c: String!, $u: String!) { addCompanyMembership(companyId: $c, userId: $u) { errors { code } } }",
         "addCompanyMembership"),
        ("mutation($m: String!) { removeCompanyMembership(id: $m) { errors { code } } }", "removeCompanyMembership"),
        ("mutation($d: String!) { updateTraitDefinition(id: $d, displayName: \"x\") { errors { code } } }",
         "updateTraitDefinition"),
        ("mutation($d: String!) { deleteTraitDefinition(id: $d) { errors { code } } }", "deleteTraitDefinition"),
        ("mutation($c: String!) { setCompanyTrait(keys: {id: $c}, trait: \"seats\", incr: 1, updateOnly: true) "
         "{ errors { code } } }", "setCompanyTrait"),
        ("mutation { setCompanyTrait(keys: {id: \"acme\"}, trait: \"seats\", incr: 1, updateOnly: true) "
         "{ errors { code } } }", "setCompanyTrait"),
    ]
    variables = {"c": company.id, "u": user.id, "m": membership.id, "d": definition.id}
    for mutation, field in mutations:
        used = {k: v for k, v in variables.items() if f"${k}" in mutation}
        body = await gql(mutation, used, key=staging)
        assert body["data"][field]["errors"] == [{"code": "NOT_FOUND"}], (field, body)
    assert await snapshot() == before
