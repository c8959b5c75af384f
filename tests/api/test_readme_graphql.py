"""The README's GraphQL walkthrough works as written: a newcomer's first session, run against the API."""

import re
from pathlib import Path

from tests.conftest import GraphQL, Keys

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


async def test_readme_graphql_examples_run_in_order(gql: GraphQL, keys: Keys) -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", README, re.S)
    assert len(blocks) >= 4
    variables: dict[str, str] = {}
    results = []
    for block in blocks:
        wanted = set(re.findall(r"\$(\w+)", block))
        data = await gql.ok(block, {name: variables[name] for name in wanted})
        results.append(data)
        for field, name in (("createFeature", "feature"), ("createPlan", "plan"), ("upsertCompany", "company")):
            payload = data.get(field)
            if payload:
                variables[name] = payload[name]["id"]
    check = next(r["checkFlag"] for r in results if "checkFlag" in r)
    assert check["value"] is True and check["ruleType"] == "plan_entitlement"
    assert check["entitlement"]["allocation"] == 1000
    assigned = next(r["assignCompanyPlans"] for r in results if "assignCompanyPlans" in r)
    assert assigned["company"]["plan"]["name"] == "Starter"
