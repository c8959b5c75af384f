"""A change made through one server process reaches checks in every other process within one second."""

import asyncio
import time

import httpx

from tests.checks.conftest import Catalog
from tests.conftest import Keys
from tests.live import run_server

CHECK = {"company": {"id": "acme"}}


class Servers:
    def __init__(self, http: httpx.AsyncClient, writer: str, reader: str) -> None:
        self.http, self.writer, self.reader = http, writer, reader

    async def check(self, flag: str) -> dict:
        response = await self.http.post(f"{self.reader}/flags/{flag}/check", json=CHECK)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def seconds_until(self, flag: str, expected: bool) -> float:
        started = time.monotonic()
        while time.monotonic() - started < 5:
            if (await self.check(flag))["value"] is expected:
                return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise AssertionError(f"{flag} never became {expected} on the other process")

    async def write(self, query: str, variables: dict | None = None) -> dict:
        response = await self.http.post(f"{self.writer}/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


async def test_writes_through_one_process_reach_checks_in_another(keys: Keys, catalog: Catalog) -> None:
    with run_server() as writer, run_server() as reader:
        async with httpx.AsyncClient(headers={"X-Schematic-Api-Key": keys.secret}, timeout=10) as http:
            servers = Servers(http, writer, reader)
            # Warm the reader's caches, then change the company's plans through the writer.
            assert (await servers.check("export"))["value"] is True
            unassign = ("mutation($c: String!) { assignCompanyPlans(companyId: $c, addOnIds: []) "
                        "{ errors { message } } }")
            await servers.write(unassign, {"c": catalog.company_id})
            assert await servers.seconds_until("export", False) < 1.0

            assign = ("mutation($c: String!, $p: String!) { assignCompanyPlans(companyId: $c, basePlanId: $p, "
                      "addOnIds: []) { errors { message } } }")
            await servers.write(assign, {"c": catalog.company_id, "p": catalog.pro.id})
            assert await servers.seconds_until("export", True) < 1.0

            # A catalog change: the plan loses the feature.
            listed = await servers.write("{ planEntitlements(first: 10) { edges { node { id feature { key } } } } }")
            export_id = next(e["node"]["id"] for e in listed["planEntitlements"]["edges"]
                             if e["node"]["feature"]["key"] == "export")
            await servers.write("mutation($id: String!) { deletePlanEntitlement(id: $id) { errors { message } } }",
                                {"id": export_id})
            assert await servers.seconds_until("export", False) < 1.0

            # Usage tracked through the writer's capture endpoint exhausts the limit the reader enforces.
            assert (await servers.check("api-calls"))["value"] is True
            batch = {"events": [{"api_key": keys.secret, "type": "track", "idempotency_key": f"fresh-{i}",
                                 "body": {"event": "api-call", "company": CHECK["company"], "quantity": 1}}
                                for i in range(5)]}
            assert (await http.post(f"{writer}/batch", json=batch)).status_code < 300
            assert await servers.seconds_until("api-calls", False) < 1.0
            exceeded = await servers.check("api-calls")
            assert exceeded["rule_type"] == "plan_entitlement_usage_exceeded"
            assert exceeded["entitlement"]["usage"] == 5
