"""A small catalog built through the domain services, and helpers to send usage through ingestion."""

from dataclasses import dataclass

import pytest_asyncio

from domain.catalog import entitlements, features, plans
from domain.catalog.models import Feature, Plan
from domain.companies.service import CompanyUpsert, upsert_company
from domain.db import unit_of_work
from domain.entitlements.service import set_company_plans
from domain.metering.ingest import IncomingEvent, ingest
from domain.scope import Scope
from tests.conftest import Keys


@dataclass
class Catalog:
    api_calls: Feature
    export: Feature
    seats: Feature
    pro: Plan
    company_id: str


@pytest_asyncio.fixture
async def catalog(keys: Keys) -> Catalog:
    scope = keys.scope
    async with unit_of_work():
        api_calls = await features.create_feature(
            scope, name="API calls", key="api-calls", feature_type="event", event_subtype="api-call"
        )
        export = await features.create_feature(scope, name="Export", key="export", feature_type="boolean")
        seats = await features.create_feature(scope, name="Seats", key="seats", feature_type="trait",
                                              trait_name="seats_used")
        pro = await plans.create_plan(scope, name="Pro")
        await entitlements.create_plan_entitlement(
            scope, plan_id=pro.id, feature_id=api_calls.id, value_type="numeric", value_numeric=5,
            metric_period="current_month", metric_period_month_reset="first_of_month",
        )
        await entitlements.create_plan_entitlement(scope, plan_id=pro.id, feature_id=export.id,
                                                   value_type="boolean", value_bool=True)
        company, _ = await upsert_company(scope, CompanyUpsert(keys={"id": "acme"}, name="Acme",
                                                               traits={"seats_used": 2, "beta": True}))
        await set_company_plans(scope, company.id, pro.id, [])
    return Catalog(api_calls, export, seats, pro, company.id)


async def track(scope: Scope, event: str, quantity: int = 1, company: dict | None = None) -> None:
    async with unit_of_work():
        results = await ingest([IncomingEvent(
            scope=scope, type="track",
            body={"event": event, "quantity": quantity, "company": company or {"id": "acme"}},
        )])
    assert results[0].status == "processed", results[0]
