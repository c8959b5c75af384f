import pytest

from domain.catalog import features, flag_rules, plans
from domain.catalog.entitlements import create_plan_entitlement
from domain.catalog.flag_rules import ConditionInput, RuleInput
from domain.catalog.models import Condition, Feature, Flag, PlanEntitlement, Rule
from domain.companies.models import TraitDefinition
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyOverride
from domain.errors import Forbidden, InvalidInput, KeyConflict, NotFound
from domain.scope import Scope
from tests.domain.test_catalog_support import (
    catalog_changes,
    company_changed,
    make_company,
    make_trait,
    readonly,
    row_counts,
    staging_scope,
)


async def test_create_boolean_feature_creates_its_flag(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Dark Mode!", feature_type="boolean", description="UI")
    flag = await Flag.get(feature_id=feature.id)
    assert (flag.key, flag.name, flag.description, flag.environment_id) == (  # type: ignore[attr-defined]
        "dark-mode", "Dark Mode!", "UI", scope.environment_id
    )
    assert feature.id.startswith("feat_") and flag.id.startswith("flag_")
    assert await catalog_changes(scope) == 1


async def test_explicit_key_and_event_feature(scope: Scope) -> None:
    feature = await features.create_feature(
        scope, name="API calls", feature_type="event", key="api_calls", event_subtype="api.call-v2_x"
    )
    assert feature.event_subtype == "api.call-v2_x"
    assert (await Flag.get(feature_id=feature.id)).key == "api_calls"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "feature_type": "boolean"}, "name"),
        ({"name": "x" * 201, "feature_type": "boolean"}, "name"),
        ({"name": "A", "feature_type": "license"}, "feature_type"),
        ({"name": "A", "feature_type": "boolean", "key": "has space"}, "key"),
        ({"name": "!!!", "feature_type": "boolean"}, "key"),
        ({"name": "A", "feature_type": "event"}, "event_subtype"),
        ({"name": "A", "feature_type": "event", "event_subtype": "bad name"}, "event_subtype"),
        ({"name": "A", "feature_type": "event", "event_subtype": "e" * 201}, "event_subtype"),
        ({"name": "A", "feature_type": "boolean", "event_subtype": "calls"}, "event_subtype"),
        ({"name": "A", "feature_type": "boolean", "trait_name": "seats"}, "trait_id"),
        ({"name": "A", "feature_type": "trait"}, "trait_id"),
        ({"name": "A", "feature_type": "trait", "trait_id": "trait_missing"}, "trait_id"),
        ({"name": "A", "feature_type": "trait", "trait_id": "t", "trait_name": "seats"}, "trait_id"),
    ],
)
async def test_invalid_feature_writes_nothing(scope: Scope, kwargs: dict, field: str) -> None:
    before = await row_counts()
    with pytest.raises(InvalidInput) as exc:
        await features.create_feature(scope, **kwargs)
    assert exc.value.field == field
    assert await row_counts() == before
    assert await catalog_changes(scope) == 0


async def test_duplicate_key_conflicts_with_any_flag(scope: Scope) -> None:
    await features.create_feature(scope, name="Export", feature_type="boolean")
    from domain.catalog import flags

    await flags.create_flag(scope, key="beta", name="Beta")
    before = await row_counts()
    for key in ("export", "beta"):
        with pytest.raises(KeyConflict):
            await features.create_feature(scope, name="Other", feature_type="boolean", key=key)
    assert await row_counts() == before


async def test_trait_feature_by_name_creates_a_number_trait(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Seats", feature_type="trait", trait_name="seats_used")
    trait = await TraitDefinition.get(id=feature.trait_definition_id)  # type: ignore[attr-defined]
    assert (trait.entity_type, trait.name, trait.trait_type) == ("company", "seats_used", "number")
    again = await features.create_feature(scope, name="Seats 2", feature_type="trait", trait_name="seats_used")
    assert again.trait_definition_id == trait.id  # type: ignore[attr-defined]


async def test_trait_feature_needs_a_numeric_company_trait(scope: Scope) -> None:
    user_trait = await make_trait(scope, "age", entity_type="user")
    text_trait = await make_trait(scope, "tier", trait_type="string")
    before = await row_counts()
    with pytest.raises(InvalidInput, match="company trait"):
        await features.create_feature(scope, name="A", feature_type="trait", trait_id=user_trait.id)
    with pytest.raises(InvalidInput, match="number trait"):
        await features.create_feature(scope, name="A", feature_type="trait", trait_name="tier")
    with pytest.raises(InvalidInput, match="number trait"):
        await features.create_feature(scope, name="A", feature_type="trait", trait_id=text_trait.id)
    assert await row_counts() == before
    seats = await make_trait(scope, "seats")
    feature = await features.create_feature(scope, name="Seats", feature_type="trait", trait_id=seats.id)
    assert feature.trait_definition_id == seats.id  # type: ignore[attr-defined]


async def test_update_feature_follows_to_flag(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="call")
    updated = await features.update_feature(
        scope, feature.id, name="API Calls", description="d", key="api-calls", event_subtype="api.call",
        feature_type="event", icon="bolt",
    )
    assert (updated.name, updated.description, updated.event_subtype, updated.icon) == (
        "API Calls", "d", "api.call", "bolt"
    )
    flag = await Flag.get(feature_id=feature.id)
    assert (flag.key, flag.name, flag.description) == ("api-calls", "API Calls", "d")


async def test_feature_type_is_immutable_and_bad_updates_write_nothing(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Calls", feature_type="event", event_subtype="call")
    await features.create_feature(scope, name="Other", feature_type="boolean")
    changes_before = await catalog_changes(scope)
    for kwargs, error in (
        ({"feature_type": "boolean"}, InvalidInput),
        ({"name": "New", "event_subtype": "bad name"}, InvalidInput),
        ({"name": "New", "key": "other"}, KeyConflict),
        ({"name": "New", "trait_name": "seats"}, InvalidInput),
    ):
        with pytest.raises(error):
            await features.update_feature(scope, feature.id, **kwargs)
    reloaded = await Feature.get(id=feature.id)
    assert (reloaded.name, reloaded.event_subtype) == ("Calls", "call")
    assert (await Flag.get(feature_id=feature.id)).key == "calls"
    assert await catalog_changes(scope) == changes_before


async def test_update_usage_trait_of_trait_feature(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Seats", feature_type="trait", trait_name="seats")
    updated = await features.update_feature(scope, feature.id, trait_name="members")
    trait = await TraitDefinition.get(id=updated.trait_definition_id)  # type: ignore[attr-defined]
    assert trait.name == "members"


async def test_delete_feature_removes_flag_rules_entitlements_and_overrides(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    flag = await Flag.get(feature_id=feature.id)
    plan = await plans.create_plan(scope, name="Pro")
    await create_plan_entitlement(scope, plan_id=plan.id, feature_id=feature.id, value_type="boolean", value_bool=True)
    company = await make_company(scope)
    await holdings.create_company_override(
        scope, company_id=company.id, feature_id=feature.id, value_type="boolean", value_bool=False
    )
    await flag_rules.set_flag_rules(scope, flag.id, [
        RuleInput(name="beta", value=True, conditions=[ConditionInput("company", "eq", [company.id])]),
    ])
    deleted = await features.delete_feature(scope, feature.id)
    assert deleted.id == feature.id
    for model in (Feature, Flag, Rule, Condition, PlanEntitlement, CompanyOverride):
        assert await model.all().count() == 0, model
    assert await company_changed(scope, company.id)


async def test_features_are_invisible_to_other_environments(scope: Scope) -> None:
    feature = await features.create_feature(scope, name="Export", feature_type="boolean")
    other = await staging_scope()
    with pytest.raises(NotFound):
        await features.update_feature(other, feature.id, name="Hijack")
    with pytest.raises(NotFound):
        await features.delete_feature(other, feature.id)
    same_key = await features.create_feature(other, name="Export", feature_type="boolean")
    assert same_key.environment_id == other.environment_id  # type: ignore[attr-defined]
    assert (await Feature.get(id=feature.id)).name == "Export"


async def test_read_only_keys_cannot_write(scope: Scope) -> None:
    with pytest.raises(Forbidden):
        await features.create_feature(readonly(scope), name="Export", feature_type="boolean")
    assert await Feature.all().count() == 0
