from datetime import UTC, datetime

import pytest

from domain.cache.models import CacheChange
from domain.companies import service
from domain.companies.models import Company, CompanyKey, CompanyMembership, CompanyTrait, TraitDefinition, User, UserKey
from domain.companies.service import CompanyUpsert
from domain.companies.traits import StoredTrait
from domain.errors import InvalidInput, KeyConflict, NotFound
from domain.scope import Scope
from tests.conftest import Keys, QueryCounter


async def snapshot() -> dict[str, list]:
    """Every row a company/user write can touch, to assert that a refused write changed nothing."""
    return {
        "company": sorted(await Company.all().values_list("id", "environment_id", "name", "last_seen_at")),
        "company_key": sorted(await CompanyKey.all().values_list("company_id", "key", "value")),
        "company_trait": sorted(await CompanyTrait.all().values_list(
            "company_id", "definition_id", "value_text", "value_number", "value_bool", "value_date")),
        "definition": sorted(await TraitDefinition.all().values_list(
            "environment_id", "entity_type", "name", "trait_type", "display_name")),
        "user": sorted(await User.all().values_list("id", "environment_id", "name")),
        "user_key": sorted(await UserKey.all().values_list("user_id", "key", "value")),
        "membership": sorted(await CompanyMembership.all().values_list("company_id", "user_id")),
    }


async def traits_of(scope: Scope, company_id: str) -> dict[str, object]:
    from domain.companies.traits import trait_json

    found = (await service.company_traits(scope, [company_id]))[company_id]
    return {name: trait_json(d.trait_type, stored) for name, (d, stored) in found.items()}


async def keys_of(scope: Scope, company_id: str) -> dict[str, str]:
    return (await service.company_keys(scope, [company_id]))[company_id]


async def make(scope: Scope, keys: dict[str, str], **kwargs: object) -> Company:
    company, created = await service.upsert_company(scope, CompanyUpsert(keys=keys, **kwargs))  # type: ignore[arg-type]
    assert created
    return company


async def test_upsert_creates_with_keys_traits_and_typed_definitions(scope: Scope) -> None:
    company, created = await service.upsert_company(scope, CompanyUpsert(
        keys={"id": "acme", "stripe": "cus_1"}, name="Acme",
        traits={"seats": 5, "beta": True, "tier": "pro", "ratio": 0.5},
    ))
    assert created and company.id.startswith("comp_") and company.name == "Acme"
    assert await keys_of(scope, company.id) == {"id": "acme", "stripe": "cus_1"}
    assert await traits_of(scope, company.id) == {"seats": 5, "beta": True, "tier": "pro", "ratio": "0.5"}
    types = dict(await TraitDefinition.filter(entity_type="company").values_list("name", "trait_type"))
    assert types == {"seats": "number", "beta": "boolean", "tier": "string", "ratio": "string"}
    assert await CacheChange.exists(environment_id=scope.environment_id, scope="company", ref_id=company.id)


async def test_upsert_by_one_key_merges_traits_and_adds_keys(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"}, name="Acme", traits={"seats": 5, "tier": "pro"})
    again, created = await service.upsert_company(scope, CompanyUpsert(
        keys={"id": "acme", "hubspot": "hs_9"}, traits={"seats": "7", "region": "eu"}))
    assert not created and again.id == company.id and again.name == "Acme"
    assert await keys_of(scope, company.id) == {"id": "acme", "hubspot": "hs_9"}
    assert await traits_of(scope, company.id) == {"seats": 7, "tier": "pro", "region": "eu"}
    # the new key alone now finds it
    assert (await service.resolve_company(scope, {"hubspot": "hs_9"})).id == company.id  # type: ignore[union-attr]


async def test_upsert_changes_the_value_of_an_existing_key_name_when_found_by_id(scope: Scope) -> None:
    company = await make(scope, {"id": "acme", "slug": "acme-old"})
    await service.upsert_company(scope, CompanyUpsert(keys={"slug": "acme-new"}, id=company.id, name="Renamed"))
    assert await keys_of(scope, company.id) == {"id": "acme", "slug": "acme-new"}
    assert (await service.get_company(scope, company.id)).name == "Renamed"


async def test_remove_keys(scope: Scope) -> None:
    company = await make(scope, {"id": "acme", "old": "x"})
    await service.upsert_company(scope, CompanyUpsert(keys={"id": "acme"}, remove_keys=["old", "never-there"]))
    assert await keys_of(scope, company.id) == {"id": "acme"}


async def test_a_company_keeps_at_least_one_key(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"})
    before = await snapshot()
    with pytest.raises(InvalidInput, match="must keep at least one key"):
        await service.upsert_company(scope, CompanyUpsert(keys={"ref": company.id}, remove_keys=["id"]))
    with pytest.raises(InvalidInput, match="both set and removed"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "acme"}, remove_keys=["id"]))
    assert await snapshot() == before


async def test_key_set_matching_two_companies_is_a_conflict_and_writes_nothing(scope: Scope) -> None:
    a = await make(scope, {"id": "a"})
    b = await make(scope, {"id": "b", "stripe": "cus_b"})
    before = await snapshot()
    with pytest.raises(KeyConflict) as exc:
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "a", "stripe": "cus_b"}, name="x",
                                                          traits={"n": 1}))
    assert exc.value.message == f"keys match more than one company: {', '.join(sorted([a.id, b.id]))}"
    with pytest.raises(KeyConflict):
        await service.resolve_company(scope, {"id": "a", "stripe": "cus_b"})
    assert await snapshot() == before


async def test_remap_moves_a_key_owned_by_another_company(scope: Scope) -> None:
    a = await make(scope, {"id": "a", "stripe": "cus_old"})
    b = await make(scope, {"id": "b", "stripe": "cus_b"})
    await service.upsert_company(scope, CompanyUpsert(keys={"stripe": "cus_b"}, id=a.id))
    assert await keys_of(scope, a.id) == {"id": "a", "stripe": "cus_b"}
    assert await keys_of(scope, b.id) == {"id": "b"}
    changed = set(await CacheChange.filter(scope="company").values_list("ref_id", flat=True))
    assert {a.id, b.id} <= changed


async def test_prevent_key_remap_refuses_and_writes_nothing(scope: Scope) -> None:
    a = await make(scope, {"id": "a"})
    b = await make(scope, {"id": "b", "stripe": "cus_b"})
    before = await snapshot()
    with pytest.raises(KeyConflict, match=f"belongs to company {b.id}; prevent_key_remap"):
        await service.upsert_company(scope, CompanyUpsert(keys={"stripe": "cus_b"}, id=a.id, prevent_key_remap=True,
                                                          name="changed", traits={"t": 1}))
    assert await snapshot() == before


async def test_remap_may_not_take_the_last_key_of_another_company(scope: Scope) -> None:
    a = await make(scope, {"id": "a"})
    await make(scope, {"id": "b"})
    before = await snapshot()
    with pytest.raises(KeyConflict, match="without keys"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "b"}, id=a.id))
    assert await snapshot() == before


async def test_wrong_trait_type_writes_nothing(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"}, name="Acme", traits={"seats": 5})
    before = await snapshot()
    with pytest.raises(InvalidInput, match=r"^trait 'seats' is a number; got 'abc'$"):
        await service.upsert_company(scope, CompanyUpsert(
            keys={"id": "acme", "new": "k"}, name="Changed", traits={"fresh": "x", "seats": "abc"}))
    with pytest.raises(InvalidInput, match="trait 'seats' is a number"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "other"}, traits={"seats": 1.5}))
    assert await snapshot() == before
    assert await traits_of(scope, company.id) == {"seats": 5}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": 42}, "key 'id' must be a string value; got int"),
        ({"id": None}, "key 'id' must be a string value; got null"),
        ({"id": ""}, "key 'id' has an empty value"),
        ({"": "x"}, "key names must be non-empty strings"),
        ({}, "keys must name at least one key"),
        (["id", "acme"], "keys must be an object"),
        ({"id": "x" * 501}, "longer than 500"),
        ({"k" * 201: "x"}, "longer than 200"),
    ],
)
async def test_bad_keys_are_refused(scope: Scope, bad: object, message: str) -> None:
    before = await snapshot()
    with pytest.raises(InvalidInput, match=message) as exc:
        await service.upsert_company(scope, CompanyUpsert(keys=bad, name="x"))  # type: ignore[arg-type]
    assert exc.value.field == "keys"
    assert await snapshot() == before


async def test_bad_name_traits_and_timestamps_are_refused(scope: Scope) -> None:
    before = await snapshot()
    for bad, message in [
        (CompanyUpsert(keys={"id": "a"}, name="x" * 501), "name is longer"),
        (CompanyUpsert(keys={"id": "a"}, traits={"": 1}), "trait names"),
        (CompanyUpsert(keys={"id": "a"}, traits={"x": None}), "trait 'x' has no value"),
        (CompanyUpsert(keys={"id": "a"}, traits=["x"]), "traits must be an object"),  # type: ignore[arg-type]
        (CompanyUpsert(keys={"id": "a"}, last_seen_at=datetime(2026, 1, 1)), "must carry a timezone"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            await service.upsert_company(scope, bad)
    assert await snapshot() == before


async def test_update_only(scope: Scope) -> None:
    before = await snapshot()
    with pytest.raises(NotFound, match="no company matches keys id='ghost'"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "ghost"}, update_only=True, traits={"a": 1}))
    with pytest.raises(NotFound, match="no company with id"):
        await service.upsert_company(scope, CompanyUpsert(keys={"id": "ghost"}, id="comp_nope"))
    assert await snapshot() == before
    company = await make(scope, {"id": "real"})
    seen = datetime(2026, 3, 1, tzinfo=UTC)
    updated, created = await service.upsert_company(scope, CompanyUpsert(
        keys={"id": "real"}, update_only=True, name="Real", last_seen_at=seen))
    assert not created and updated.id == company.id
    assert (await service.get_company(scope, company.id)).last_seen_at == seen


async def test_resolution_order_keys_first_then_company_id(scope: Scope) -> None:
    a = await make(scope, {"id": "acme"})
    assert (await service.resolve_company(scope, {"id": a.id})).id == a.id  # type: ignore[union-attr]
    assert (await service.resolve_company(scope, {"anything": a.id})).id == a.id  # type: ignore[union-attr]
    assert await service.resolve_company(scope, {"id": "comp_unknown"}) is None
    assert await service.resolve_company(scope, {"id": "nobody"}) is None
    # once some company holds the value as a key, the key wins over the id
    b = await make(scope, {"slug": "b"})
    await service.upsert_company(scope, CompanyUpsert(keys={"slug": "b", "id": a.id}))
    assert (await service.resolve_company(scope, {"id": a.id})).id == b.id  # type: ignore[union-attr]


async def test_upsert_by_company_id_does_not_store_the_id_as_a_key(scope: Scope) -> None:
    a = await make(scope, {"id": "acme"})
    again, created = await service.upsert_company(scope, CompanyUpsert(keys={"id": a.id}, traits={"x": 1}))
    assert not created and again.id == a.id
    assert await keys_of(scope, a.id) == {"id": "acme"}
    assert await traits_of(scope, a.id) == {"x": 1}


async def test_environment_isolation(scope: Scope, other_keys: Keys) -> None:
    staging = other_keys.scope
    dev = await make(scope, {"id": "acme"}, traits={"seats": 1})
    assert await service.resolve_company(staging, {"id": "acme"}) is None
    assert await service.resolve_company(staging, {"id": dev.id}) is None
    with pytest.raises(NotFound):
        await service.get_company(staging, dev.id)
    with pytest.raises(NotFound):
        await service.delete_company(staging, dev.id)
    with pytest.raises(NotFound):
        await service.upsert_company(staging, CompanyUpsert(keys={"x": "y"}, id=dev.id))
    stag, created = await service.upsert_company(staging, CompanyUpsert(keys={"id": "acme"}, traits={"seats": "x"}))
    assert created and stag.id != dev.id  # same key, separate namespace; "seats" untyped there
    assert await traits_of(staging, stag.id) == {"seats": "x"}
    assert await service.company_traits(staging, [dev.id]) == {dev.id: {}}
    assert await service.company_keys(staging, [dev.id]) == {dev.id: {}}
    assert await traits_of(scope, dev.id) == {"seats": 1}


async def test_delete_company(scope: Scope) -> None:
    company = await make(scope, {"id": "acme"}, traits={"a": 1})
    deleted = await service.delete_company(scope, company.id)
    assert deleted.id == company.id
    assert not await Company.exists(id=company.id)
    assert not await CompanyKey.exists(company_id=company.id)
    assert await service.resolve_company(scope, {"id": "acme"}) is None
    with pytest.raises(NotFound):
        await service.delete_company(scope, company.id)


async def test_batch_reads_run_one_query_each(scope: Scope, count_queries: QueryCounter) -> None:
    ids = [(await make(scope, {"id": f"c{i}"}, traits={"n": i, "t": "x"})).id for i in range(5)]
    count_queries.statements.clear()
    traits = await service.company_traits(scope, [*ids, "comp_missing"])
    keys = await service.company_keys(scope, ids)
    counts = await service.member_counts(scope, ids)
    assert count_queries.selects == 3
    assert traits["comp_missing"] == {}
    definition, stored = traits[ids[3]]["n"]
    assert definition.trait_type == "number" and stored == StoredTrait(value_number=3)
    assert keys[ids[2]] == {"id": "c2"}
    assert counts == dict.fromkeys(ids, 0)


async def test_touch_last_seen_is_one_update_per_table(scope: Scope, count_queries: QueryCounter) -> None:
    a = await make(scope, {"id": "a"})
    b = await make(scope, {"id": "b"})
    user, _ = await service.upsert_user(scope, service.UserUpsert(keys={"id": "u"}))
    at = datetime(2026, 5, 1, tzinfo=UTC)
    count_queries.statements.clear()
    await service.touch_last_seen(scope, [a.id, b.id, a.id], [user.id], at)
    assert len(count_queries.statements) == 2
    assert set(await Company.all().values_list("last_seen_at", flat=True)) == {at}
    assert (await service.get_user(scope, user.id)).last_seen_at == at
