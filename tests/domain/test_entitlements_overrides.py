from datetime import UTC, datetime, timedelta

import pytest

from domain.catalog import features, plans
from domain.catalog.models import Feature
from domain.entitlements import service
from domain.entitlements.models import CompanyOverride
from domain.errors import InvalidInput, NotFound
from domain.scope import Scope
from domain.timeutil import utcnow
from tests.domain.test_catalog_support import company_changed, make_company, make_trait, row_counts, staging_scope


async def _feature(scope: Scope) -> Feature:
    return await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="api.call")


async def test_create_update_delete_override(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    expires = datetime(2030, 1, 1, 12, tzinfo=UTC)
    override = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="numeric", value_numeric=5000,
        metric_period="current_month", expires_at=expires, note="sales deal",
    )
    assert (override.value_numeric, override.metric_period, override.metric_period_month_reset) == (
        5000, "current_month", "first_of_month"
    )
    assert override.expires_at == expires
    assert [n["note"] for n in override.notes] == ["sales deal"]
    assert override.notes[0]["id"].startswith("cnote_") and override.notes[0]["created_at"].endswith("Z")
    assert await company_changed(scope, company.id)

    updated = await service.update_company_override(
        scope, override.id, value_type="boolean", value_bool=False, note="switched off"
    )
    assert (updated.value_type, updated.value_bool, updated.value_numeric, updated.metric_period) == (
        "boolean", False, None, None
    )
    assert updated.expires_at == expires  # unchanged unless sent
    assert [n["note"] for n in updated.notes] == ["sales deal", "switched off"]
    cleared = await service.update_company_override(scope, override.id, value_type="unlimited", expires_at=None)
    assert cleared.expires_at is None
    await service.delete_company_override(scope, override.id)
    assert not await CompanyOverride.exists(id=override.id)


async def test_one_override_per_company_and_feature(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    await service.create_company_override(scope, company_id=company.id, feature_id=feature.id, value_type="unlimited")
    before = await row_counts()
    with pytest.raises(InvalidInput, match="already has an override"):
        await service.create_company_override(
            scope, company_id=company.id, feature_id=feature.id, value_type="boolean", value_bool=True
        )
    assert await row_counts() == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value_type": "numeric"}, "value_numeric"),
        ({"value_type": "numeric", "value_numeric": 1, "expires_at": datetime(2030, 1, 1)}, "expires_at"),
        ({"value_type": "credit", "value_credit_id": "bilcr_1", "consumption_rate": 1.5}, "consumption_rate"),
        ({"value_type": "trait", "value_trait_id": "trait_missing"}, "value_trait_id"),
        ({"value_type": "unlimited", "metric_period_month_reset": "first_of_month"}, "metric_period_month_reset"),
    ],
)
async def test_invalid_overrides_write_nothing(scope: Scope, kwargs: dict, field: str) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    before = await row_counts()
    with pytest.raises(InvalidInput) as exc:
        await service.create_company_override(scope, company_id=company.id, feature_id=feature.id, **kwargs)
    assert exc.value.field == field
    assert await row_counts() == before
    assert not await company_changed(scope, company.id)


async def test_bad_update_keeps_the_override(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    override = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="numeric", value_numeric=3, note="n1"
    )
    with pytest.raises(InvalidInput):
        await service.update_company_override(scope, override.id, value_type="numeric", value_numeric=-1, note="n2")
    with pytest.raises(InvalidInput):
        await service.update_company_override(
            scope, override.id, value_type="numeric", value_numeric=1, expires_at=datetime(2030, 1, 1)
        )
    reloaded = await CompanyOverride.get(id=override.id)
    assert (reloaded.value_numeric, len(reloaded.notes)) == (3, 1)


async def test_trait_override(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Seats", feature_type="trait", trait_name="seats_used")
    limit, company = await make_trait(scope, "seats_allowed"), await make_company(scope)
    override = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="trait", value_trait_id=limit.id
    )
    assert override.value_trait_id == limit.id  # type: ignore[attr-defined]


async def test_overrides_survive_plan_changes(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    free, pro = await plans.create_plan(scope, name="Free"), await plans.create_plan(scope, name="Pro")
    await service.set_company_plans(scope, company.id, free.id, [])
    override = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="unlimited"
    )
    await service.set_company_plans(scope, company.id, pro.id, [])
    await service.set_company_plans(scope, company.id, None, [])
    assert await CompanyOverride.exists(id=override.id)


async def test_listing_without_expired(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    other_feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    expired = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="unlimited",
        expires_at=utcnow() - timedelta(seconds=1),
    )
    live = await service.create_company_override(
        scope, company_id=company.id, feature_id=other_feature.id, value_type="boolean", value_bool=True,
        expires_at=utcnow() + timedelta(days=1),
    )
    all_ids = set(await service.overrides_query(scope, company_id=company.id).values_list("id", flat=True))
    assert all_ids == {expired.id, live.id}
    live_ids = await service.overrides_query(scope, without_expired=True).values_list("id", flat=True)
    assert live_ids == [live.id]
    assert await service.overrides_query(scope, feature_id=feature.id).count() == 1


async def test_overrides_are_isolated(scope: Scope) -> None:
    feature, company = await _feature(scope), await make_company(scope)
    override = await service.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="unlimited"
    )
    other = await staging_scope()
    with pytest.raises(NotFound):
        await service.update_company_override(other, override.id, value_type="boolean", value_bool=False)
    with pytest.raises(NotFound):
        await service.delete_company_override(other, override.id)
    with pytest.raises(NotFound):
        await service.create_company_override(
            other, company_id=company.id, feature_id=feature.id, value_type="unlimited"
        )
    assert await service.overrides_query(other).count() == 0
    assert (await CompanyOverride.get(id=override.id)).value_type == "unlimited"
