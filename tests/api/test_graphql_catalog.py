"""GraphQL: features, flags and rules (queries, mutations, typed errors, isolation, query counts)."""

from domain.catalog import features, flags, plans
from domain.catalog.entitlements import create_plan_entitlement
from domain.catalog.flag_rules import ConditionInput, RuleInput, set_flag_rules
from domain.catalog.models import Feature, Flag, Rule
from domain.scope import Scope
from tests.conftest import GraphQL, Keys, QueryCounter
from tests.domain.test_catalog_support import make_company, row_counts

CREATE_FEATURE = """
mutation($input: CreateFeatureInput!) {
  createFeature(input: $input) {
    feature { id key name featureType eventSubtype traitId flag { id key featureId } }
    errors { code message field }
  }
}"""

SET_RULES = """
mutation($flagId: String!, $rules: [RuleInput!]!) {
  setFlagRules(flagId: $flagId, rules: $rules) {
    flag { key }
    rules { id name ruleType priority value rolloutPercentage
            conditions { conditionType operator resourceIds traitId traitValue }
            conditionGroups { conditions { conditionType resourceIds metricValue eventSubtype } } }
    errors { code message field }
  }
}"""

_NOT_CATALOG = ('FROM "api_key"', 'FROM "environment"', 'FROM "cache_change"', 'FROM "cache_change_batch"')


def catalog_selects(counter: QueryCounter) -> int:
    """SELECTs of the GraphQL operation itself, without key authentication and the change-feed poller."""
    return sum(1 for s in counter.statements if s.lstrip().upper().startswith("SELECT")
               and not any(table in s for table in _NOT_CATALOG))


FLAG_WITH_RULES = """
query($key: String) {
  flag(key: $key) {
    id key rules { name ruleType conditions { conditionType resourceIds }
                   conditionGroups { conditions { conditionType resourceIds } } }
    feature { id name }
  }
}"""


async def test_create_feature_and_read_it_back(gql: GraphQL) -> None:
    data = await gql.ok(CREATE_FEATURE, {"input": {
        "name": "API calls", "featureType": "EVENT", "eventSubtype": "api.call",
    }})
    feature = data["createFeature"]["feature"]
    assert (feature["key"], feature["featureType"], feature["eventSubtype"]) == ("api-calls", "EVENT", "api.call")
    assert feature["flag"]["featureId"] == feature["id"]
    by_key = await gql.ok("query($k: String) { feature(key: $k) { id name } }", {"k": "api-calls"})
    assert by_key["feature"] == {"id": feature["id"], "name": "API calls"}
    by_id = await gql.ok("query($id: String) { feature(id: $id) { key } }", {"id": feature["id"]})
    assert by_id["feature"]["key"] == "api-calls"


async def test_trait_feature_by_name(gql: GraphQL) -> None:
    data = await gql.ok(CREATE_FEATURE, {"input": {"name": "Seats", "featureType": "TRAIT", "traitName": "seats"}})
    assert data["createFeature"]["feature"]["traitId"].startswith("trait_")


async def test_invalid_feature_is_a_typed_error_and_writes_nothing(gql: GraphQL) -> None:
    before = await row_counts()
    body = await gql(CREATE_FEATURE, {"input": {"name": "Calls", "featureType": "EVENT", "eventSubtype": "bad name"}})
    payload = body["data"]["createFeature"]
    assert payload["feature"] is None
    assert payload["errors"][0]["code"] == "INVALID_INPUT" and payload["errors"][0]["field"] == "event_subtype"
    assert await row_counts() == before


async def test_update_and_delete_feature(gql: GraphQL, scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="call")
    update = """mutation($id: String!, $input: UpdateFeatureInput!) {
      updateFeature(id: $id, input: $input) { feature { name key description eventSubtype } errors { code field } }
    }"""
    data = await gql.ok(update, {"id": feature.id, "input": {"name": "API calls", "key": "api"}})
    assert data["updateFeature"]["feature"] == {
        "name": "API calls", "key": "api", "description": "", "eventSubtype": "call"
    }
    body = await gql(update, {"id": feature.id, "input": {"featureType": "BOOLEAN"}})
    assert body["data"]["updateFeature"]["errors"] == [{"code": "INVALID_INPUT", "field": "feature_type"}]
    deleted = await gql.ok("mutation($id: String!) { deleteFeature(id: $id) { feature { id } errors { code } } }",
                           {"id": feature.id})
    assert deleted["deleteFeature"]["feature"]["id"] == feature.id
    assert not await Feature.exists(id=feature.id)


async def test_flag_mutations(gql: GraphQL) -> None:
    created = await gql.ok("""mutation { createFlag(input: {key: "beta", name: "Beta", defaultValue: true}) {
        flag { id key defaultValue flagType featureId } errors { code } } }""")
    flag = created["createFlag"]["flag"]
    assert (flag["key"], flag["defaultValue"], flag["flagType"], flag["featureId"]) == ("beta", True, "boolean", None)
    updated = await gql.ok("""mutation($id: String!) { updateFlag(id: $id, input: {name: "Beta 2"}) {
        flag { name defaultValue } errors { code } } }""", {"id": flag["id"]})
    assert updated["updateFlag"]["flag"] == {"name": "Beta 2", "defaultValue": True}
    dup = await gql("""mutation { createFlag(input: {key: "beta", name: "Again"}) { flag { id } errors { code } } }""")
    assert dup["data"]["createFlag"] == {"flag": None, "errors": [{"code": "KEY_CONFLICT"}]}
    await gql.ok("mutation($id: String!) { deleteFlag(id: $id) { flag { id } errors { code } } }", {"id": flag["id"]})


async def test_set_flag_rules(gql: GraphQL, scope: Scope) -> None:
    flag = await flags.create_flag(scope, key="beta", name="Beta")
    company = await make_company(scope)
    rules = [
        {"name": "acme", "value": True, "priority": 1, "rolloutPercentage": 25,
         "conditions": [{"conditionType": "COMPANY", "operator": "EQ", "resourceIds": [company.id]}],
         "conditionGroups": [{"conditions": [
             {"conditionType": "METRIC", "operator": "LT", "eventSubtype": "api.call", "metricValue": 10},
             {"conditionType": "PLAN_VERSION", "operator": "EQ", "resourceIds": ["pv_1"]},
         ]}]},
        {"name": "off", "value": False, "ruleType": "DEFAULT"},
    ]
    data = await gql.ok(SET_RULES, {"flagId": flag.id, "rules": rules})
    payload = data["setFlagRules"]
    assert payload["flag"]["key"] == "beta"
    first = payload["rules"][0]
    assert (first["name"], first["ruleType"], first["rolloutPercentage"]) == ("acme", "STANDARD", 25)
    assert first["conditions"] == [{"conditionType": "COMPANY", "operator": "EQ", "resourceIds": [company.id],
                                    "traitId": None, "traitValue": ""}]
    assert [c["conditionType"] for c in first["conditionGroups"][0]["conditions"]] == ["METRIC", "PLAN_VERSION"]
    read = await gql.ok(FLAG_WITH_RULES, {"key": "beta"})
    assert [r["ruleType"] for r in read["flag"]["rules"]] == ["STANDARD", "DEFAULT"]


async def test_bad_rule_among_good_ones_keeps_old_rules(gql: GraphQL, scope: Scope) -> None:
    flag = await flags.create_flag(scope, key="beta", name="Beta")
    await set_flag_rules(scope, flag.id, [RuleInput(name="old", value=True)])
    before = await row_counts()
    rules = [
        {"name": "good", "value": True},
        {"name": "bad", "value": True, "conditions": [
            {"conditionType": "COMPANY", "operator": "EQ", "resourceIds": ["comp_nope"]}]},
    ]
    body = await gql(SET_RULES, {"flagId": flag.id, "rules": rules})
    payload = body["data"]["setFlagRules"]
    assert payload["rules"] == [] and payload["flag"] is None
    assert payload["errors"] == [{"code": "INVALID_INPUT",
                                  "message": "no company with id 'comp_nope' in this environment",
                                  "field": "rules[1].conditions[0].resource_ids"}]
    assert await row_counts() == before
    assert await Rule.filter(flag_id=flag.id).values_list("name", flat=True) == ["old"]

    generated = await gql(SET_RULES, {"flagId": flag.id, "rules": [
        {"name": "x", "value": True, "ruleType": "PLAN_ENTITLEMENT"}]})
    error = generated["data"]["setFlagRules"]["errors"][0]
    assert error["message"] == "rule_type plan_entitlement is generated from plan entitlements and company overrides"


async def test_other_environment_sees_nothing_and_cannot_mutate(gql: GraphQL, scope: Scope, other_keys: Keys) -> None:
    feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    flag = await flags.create_flag(scope, key="beta", name="Beta")
    plan = await plans.create_plan(scope, name="Pro")
    staging = other_keys.secret
    listed = await gql.ok("{ features { totalCount } flags { totalCount } plans { totalCount } }", key=staging)
    assert listed == {"features": {"totalCount": 0}, "flags": {"totalCount": 0}, "plans": {"totalCount": 0}}
    found = await gql.ok("""query($f: String, $p: String!) { feature(id: $f) { id } flag(key: "beta") { id }
                            plan(id: $p) { id } }""", {"f": feature.id, "p": plan.id}, key=staging)
    assert found == {"feature": None, "flag": None, "plan": None}
    for mutation, variables in (
        ('mutation($id: String!) { deleteFeature(id: $id) { errors { code } } }', {"id": feature.id}),
        ('mutation($id: String!) { updateFlag(id: $id, input: {name: "x"}) { errors { code } } }', {"id": flag.id}),
        ('mutation($id: String!) { deletePlan(id: $id) { errors { code } } }', {"id": plan.id}),
        ('mutation($id: String!) { setFlagRules(flagId: $id, rules: []) { errors { code } } }', {"id": flag.id}),
    ):
        data = (await gql(mutation, variables, key=staging))["data"]
        assert next(iter(data.values()))["errors"] == [{"code": "NOT_FOUND"}]
    assert await Feature.exists(id=feature.id)


async def test_publishable_and_read_only_keys_are_refused(gql: GraphQL, keys: Keys) -> None:
    body = await gql("{ features { totalCount } }", key=keys.publishable)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(CREATE_FEATURE, {"input": {"name": "X", "featureType": "BOOLEAN"}}, key=keys.publishable)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_listing_flags_with_rules_has_a_fixed_query_count(
    gql: GraphQL, scope: Scope, count_queries: QueryCounter
) -> None:
    query = """{ flags { nodes { key feature { name key }
                 rules { name conditions { conditionType } conditionGroups { conditions { conditionType } } } } } }"""

    async def add(n: int) -> None:
        for i in range(n):
            feature = await features.create_feature(scope, name=f"F{i}-{n}", feature_type="boolean")
            flag = await Flag.get(feature_id=feature.id)
            await set_flag_rules(scope, flag.id, [
                RuleInput(name="r1", value=True, conditions=[ConditionInput("plan_version", "eq", ["v"])],
                          condition_groups=[[ConditionInput("billing_product", "eq", ["b"])]]),
                RuleInput(name="r2", value=False, rule_type="default"),
            ])

    await gql.ok("{ environment { name } }")  # authenticate once (cached)
    await add(2)
    count_queries.statements.clear()
    await gql.ok(query)
    small = catalog_selects(count_queries)
    await add(5)
    count_queries.statements.clear()
    data = await gql.ok(query)
    assert len(data["flags"]["nodes"]) == 7
    assert catalog_selects(count_queries) == small == 6


async def test_listing_plans_with_entitlements_has_a_fixed_query_count(
    gql: GraphQL, scope: Scope, count_queries: QueryCounter
) -> None:
    query = """{ plans { nodes { name companyCount entitlements { valueType plan { name }
                 feature { name key flag { key } } } } } }"""

    async def add(n: int) -> None:
        for i in range(n):
            plan = await plans.create_plan(scope, name=f"P{i}-{n}")
            for j in range(2):
                feature = await features.create_feature(scope, name=f"F{i}-{j}-{n}", feature_type="boolean")
                await create_plan_entitlement(scope, plan_id=plan.id, feature_id=feature.id, value_type="unlimited")

    await gql.ok("{ environment { name } }")
    await add(1)
    count_queries.statements.clear()
    await gql.ok(query)
    small = catalog_selects(count_queries)
    await add(4)
    count_queries.statements.clear()
    data = await gql.ok(query)
    assert sum(len(p["entitlements"]) for p in data["plans"]["nodes"]) == 10
    assert catalog_selects(count_queries) == small == 6
