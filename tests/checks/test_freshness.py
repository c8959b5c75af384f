"""A change made through one server process reaches checks in every other process within one second."""

import time

import httpx

from tests.checks.conftest import Catalog
from tests.conftest import Keys
from tests.live import run_server

CHECK = {"company": {"id": "acme"}}


def check(http: httpx.Client, url: str, flag: str) -> dict:
    response = http.post(f"{url}/flags/{flag}/check", json=CHECK)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def seconds_until(http: httpx.Client, url: str, flag: str, expected: bool) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 5:
        if check(http, url, flag)["value"] is expected:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{flag} never became {expected} on the other process")


def graphql(http: httpx.Client, url: str, query: str, variables: dict) -> dict:
    body = http.post(f"{url}/graphql", json={"query": query, "variables": variables}).json()
    assert not body.get("errors"), body
    return body["data"]


async def test_writes_through_one_process_reach_checks_in_another(keys: Keys, catalog: Catalog) -> None:
    with run_server() as writer, run_server() as reader, \
            httpx.Client(headers={"X-Schematic-Api-Key": keys.secret}, timeout=10) as http:
        # Warm the reader's caches, then change a company's plans through the writer.
        assert check(http, reader, "export")["value"] is True
        graphql(http, writer, "mutation($c: String!) { assignCompanyPlans(companyId: $c, addOnIds: []) "
                              "{ errors { message } } }", {"c": catalog.company_id})
        assert seconds_until(http, reader, "export", False) < 1.0

        # A catalog change (the plan regains the feature) made through the writer.
        graphql(http, writer, "mutation($c: String!, $p: String!) { assignCompanyPlans(companyId: $c, "
                              "basePlanId: $p, addOnIds: []) { errors { message } } }",
                {"c": catalog.company_id, "p": catalog.pro.id})
        assert seconds_until(http, reader, "export", True) < 1.0
        entitlement = graphql(http, writer, "{ planEntitlements(first: 10) { edges { node { id feature { key } } } } }",
                              {})["planEntitlements"]["edges"]
        export_id = next(e["node"]["id"] for e in entitlement if e["node"]["feature"]["key"] == "export")
        graphql(http, writer, "mutation($id: String!) { deletePlanEntitlement(id: $id) { errors { message } } }",
                {"id": export_id})
        assert seconds_until(http, reader, "export", False) < 1.0

        # Usage tracked through the writer's capture endpoint exhausts the limit seen by the reader.
        assert check(http, reader, "api-calls")["value"] is True
        batch = {"events": [{"api_key": keys.secret, "type": "track", "idempotency_key": f"fresh-{i}",
                             "body": {"event": "api-call", "company": CHECK["company"], "quantity": 1}}
                            for i in range(5)]}
        assert http.post(f"{writer}/batch", json=batch).status_code < 300
        assert seconds_until(http, reader, "api-calls", False) < 1.0
        exceeded = check(http, reader, "api-calls")
        assert exceeded["rule_type"] == "plan_entitlement_usage_exceeded"
        assert exceeded["entitlement"]["usage"] == 5
