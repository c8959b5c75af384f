import asyncio

import pytest

from domain.catalog.models import Condition, Feature, Flag, Rule
from domain.companies import service
from domain.companies.models import Company, CompanyTrait, TraitDefinition
from domain.companies.service import CompanyUpsert
from domain.db import unit_of_work
from domain.errors import InUse, InvalidInput, NotFound
from domain.scope import Scope
from tests.conftest import Keys
from tests.domain.test_companies import make, snapshot, traits_of


async def test_set_trait_on_a_known_company(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"}, traits={"seats": 1})
    updated = await service.set_company_trait(scope, {"id": "acme"}, "seats", set_value="9")
    assert updated.id == company.id
    await service.set_company_trait(scope, {"id": "acme"}, "renews", set_value="2026-04-01")
    assert await traits_of(scope, company.id) == {"seats": 9, "renews": "2026-04-01"}  # new name: inferred string


async def test_set_trait_creates_the_company_unless_update_only(scope: Scope) -> None:
    before = await snapshot()
    with pytest.raises(NotFound, match="update_only"):
        await service.set_company_trait(scope, {"id": "new"}, "seats", set_value=3, update_only=True)
    with pytest.raises(NotFound):
        await service.set_company_trait(scope, {"id": "new"}, "seats", incr=3, update_only=True)
    assert await snapshot() == before
    company = await service.set_company_trait(scope, {"id": "new"}, "seats", set_value=3)
    assert await traits_of(scope, company.id) == {"seats": 3}


async def test_incr_adds_and_creates_a_number_definition(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"})
    await service.set_company_trait(scope, {"id": "acme"}, "calls", incr=5)
    await service.set_company_trait(scope, {"id": "acme"}, "calls", incr=-2)
    assert await traits_of(scope, company.id) == {"calls": 3}
    assert await TraitDefinition.get(name="calls").values_list("trait_type", flat=True) == "number"


async def test_set_trait_refusals_write_nothing(scope: Scope) -> None:
    await make(scope, {"id": "acme"}, traits={"tier": "pro", "seats": 2})
    before = await snapshot()
    cases = [
        ({"set_value": "x", "incr": 1}, "exactly one of set or incr"),
        ({}, "exactly one of set or incr"),
        ({"incr": 1}, "trait 'tier' is a string; incr needs a number"),
        ({"incr": 1.5}, "incr must be an integer"),
        ({"incr": True}, "incr must be an integer"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidInput, match=message):
            await service.set_company_trait(scope, {"id": "acme"}, "tier", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="trait 'seats' is a number"):
        await service.set_company_trait(scope, {"id": "unknown"}, "seats", set_value="many")
    with pytest.raises(InvalidInput, match="must be a string value"):
        await service.set_company_trait(scope, {"id": 1}, "seats", set_value=1)  # type: ignore[dict-item]
    assert await snapshot() == before


async def test_set_trait_in_another_environment_does_not_touch_this_one(scope: Scope, other_keys: Keys) -> None:
    company = await make(scope, {"id": "acme"}, traits={"seats": 1})
    await service.set_company_trait(other_keys.scope, {"id": "acme"}, "seats", incr=10)
    with pytest.raises(NotFound):
        await service.set_company_trait(other_keys.scope, {"id": company.id}, "seats", incr=1, update_only=True)
    assert await traits_of(scope, company.id) == {"seats": 1}
    assert await Company.filter(environment_id=other_keys.scope.environment_id).count() == 1


@pytest.mark.postgres_only
async def test_incr_is_atomic_under_concurrency(scope: Scope) -> None:
    """30 concurrent requests, each its own transaction, on a company and trait that do not exist yet:
    one company, one definition, one row, and no increment lost."""

    async def bump() -> None:
        async with unit_of_work():
            await service.set_company_trait(scope, {"id": "hot"}, "calls", incr=1)

    await asyncio.gather(*(bump() for _ in range(30)))
    company = await service.resolve_company(scope, {"id": "hot"})
    assert company is not None and await Company.all().count() == 1
    assert await CompanyTrait.all().count() == 1
    assert await traits_of(scope, company.id) == {"calls": 30}

    await asyncio.gather(*(bump() for _ in range(30)))
    assert await traits_of(scope, company.id) == {"calls": 60}


@pytest.mark.postgres_only
async def test_concurrent_upserts_of_new_keys_create_one_company(scope: Scope) -> None:
    async def upsert(i: int) -> str:
        async with unit_of_work():
            company, _ = await service.upsert_company(scope, CompanyUpsert(keys={"id": "race"}, traits={f"t{i}": i}))
            return company.id

    ids = await asyncio.gather(*(upsert(i) for i in range(20)))
    assert len(set(ids)) == 1 and await Company.all().count() == 1
    assert len(await traits_of(scope, ids[0])) == 20


async def test_get_or_create_trait_definition(scope: Scope) -> None:
    created = await service.get_or_create_trait_definition(scope, "company", "seats", "number", "Seats")
    again = await service.get_or_create_trait_definition(scope, "company", "seats")
    assert again.id == created.id and again.display_name == "Seats"
    user_side = await service.get_or_create_trait_definition(scope, "user", "seats", "string")
    assert user_side.id != created.id
    before = await snapshot()
    with pytest.raises(InvalidInput, match="already exists as a number"):
        await service.get_or_create_trait_definition(scope, "company", "seats", "string")
    with pytest.raises(InvalidInput, match="entity_type"):
        await service.get_or_create_trait_definition(scope, "team", "x")
    with pytest.raises(InvalidInput, match="trait_type"):
        await service.get_or_create_trait_definition(scope, "company", "x", "color")
    assert await snapshot() == before
    # a value now has to fit the explicit type
    with pytest.raises(InvalidInput, match="trait 'seats' is a number"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "a"}, traits={"seats": "lots"}))


async def test_update_trait_definition_converts_stored_values(scope: Scope) -> None:
    company = await make(scope, {"id": "a"}, traits={"seats": "12"})  # inferred string
    definition = await TraitDefinition.get(name="seats")
    updated = await service.update_trait_definition(scope, definition.id, "number", "Seats")
    assert (updated.trait_type, updated.display_name) == ("number", "Seats")
    assert await traits_of(scope, company.id) == {"seats": 12}
    await service.update_trait_definition(scope, definition.id, "string")
    assert await traits_of(scope, company.id) == {"seats": "12"}


async def test_update_trait_definition_refuses_a_type_the_values_do_not_fit(scope: Scope) -> None:
    await make(scope, {"id": "a"}, traits={"tier": "12"})
    await make(scope, {"id": "b"}, traits={"tier": "pro"})
    definition = await TraitDefinition.get(name="tier")
    before = await snapshot()
    with pytest.raises(InvalidInput, match="a stored value does not fit"):
        await service.update_trait_definition(scope, definition.id, "number", "Tier")
    assert await snapshot() == before


async def test_trait_definitions_of_another_environment_are_invisible(scope: Scope, other_keys: Keys) -> None:
    definition = await service.get_or_create_trait_definition(scope, "company", "seats", "number")
    for call in (service.update_trait_definition(other_keys.scope, definition.id, "string"),
                 service.delete_trait_definition(other_keys.scope, definition.id)):
        with pytest.raises(NotFound):
            await call
    assert await service.list_trait_definitions(other_keys.scope) == []
    assert [d.id for d in await service.list_trait_definitions(scope, "company")] == [definition.id]


async def test_delete_trait_definition(scope: Scope) -> None:
    company = await make(scope, {"id": "a"}, traits={"seats": 3, "tier": "pro"})
    seats = await TraitDefinition.get(name="seats")
    await service.delete_trait_definition(scope, seats.id)
    assert await traits_of(scope, company.id) == {"tier": "pro"}


async def test_delete_trait_definition_in_use(scope: Scope) -> None:
    env = scope.environment_id
    used_by_feature = await service.get_or_create_trait_definition(scope, "company", "seats", "number")
    await Feature.create(environment_id=env, name="Seats", feature_type="trait", trait_definition=used_by_feature)
    used_by_condition = await service.get_or_create_trait_definition(scope, "user", "role", "string")
    flag = await Flag.create(environment_id=env, key="beta", name="Beta")
    rule = await Rule.create(environment_id=env, flag=flag, name="admins", rule_type="standard", value=True)
    await Condition.create(environment_id=env, rule=rule, condition_type="trait", operator="eq",
                           comparison_trait_definition=used_by_condition)
    before = await snapshot()
    with pytest.raises(InUse, match="trait 'seats' is used by a feature"):
        await service.delete_trait_definition(scope, used_by_feature.id)
    with pytest.raises(InUse, match="trait 'role' is used by a condition"):
        await service.delete_trait_definition(scope, used_by_condition.id)
    assert await snapshot() == before
