import pytest

from domain.companies import service
from domain.companies.models import CompanyMembership, TraitDefinition
from domain.companies.service import UserUpsert
from domain.companies.traits import trait_json
from domain.errors import InvalidInput, KeyConflict, NotFound
from domain.scope import Scope
from tests.conftest import Keys
from tests.domain.test_companies import keys_of, make, snapshot


async def user_traits_of(scope: Scope, user_id: str) -> dict[str, object]:
    found = (await service.user_traits(scope, [user_id]))[user_id]
    return {name: trait_json(d.trait_type, stored) for name, (d, stored) in found.items()}


async def memberships_of(user_id: str) -> set[str]:
    return set(await CompanyMembership.filter(user_id=user_id).values_list("company_id", flat=True))


async def test_user_keys_are_a_separate_namespace(scope: Scope) -> None:
    company = await make(scope, {"id": "same"})
    user, created = await service.upsert_user(
        scope, UserUpsert(keys={"id": "same"}, name="Ann", traits={"admin": True}))
    assert created and user.id.startswith("user_")
    assert (await service.resolve_user(scope, {"id": "same"})).id == user.id  # type: ignore[union-attr]
    assert (await service.resolve_company(scope, {"id": "same"})).id == company.id  # type: ignore[union-attr]
    assert await user_traits_of(scope, user.id) == {"admin": True}
    assert await TraitDefinition.filter(entity_type="user", name="admin", trait_type="boolean").exists()
    assert (await service.user_keys(scope, [user.id]))[user.id] == {"id": "same"}


async def test_user_upsert_rules_mirror_companies(scope: Scope) -> None:
    a, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "a", "email": "a@x"}, traits={"n": 1}))
    b, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "b"}))
    again, created = await service.upsert_user(scope, UserUpsert(keys={"email": "a@x"}, traits={"m": "x"},
                                                                remove_keys=["id"]))
    assert not created and again.id == a.id
    assert await user_traits_of(scope, a.id) == {"n": 1, "m": "x"}
    before = await snapshot()
    with pytest.raises(KeyConflict, match="keys match more than one user"):
        await service.upsert_user(scope, UserUpsert(keys={"email": "a@x", "id": "b"}))
    with pytest.raises(NotFound):
        await service.upsert_user(scope, UserUpsert(keys={"id": "ghost"}, update_only=True))
    with pytest.raises(InvalidInput, match="trait 'n' is a number"):
        await service.upsert_user(scope, UserUpsert(keys={"id": "b"}, traits={"n": "one"}))
    with pytest.raises(InvalidInput, match="must keep at least one key"):
        await service.upsert_user(scope, UserUpsert(keys={"ref": b.id}, remove_keys=["id"]))
    assert await snapshot() == before


async def test_user_upsert_joins_companies(scope: Scope) -> None:
    c1 = await make(scope, {"id": "c1"})
    c2 = await make(scope, {"id": "c2"})
    c3 = await make(scope, {"id": "c3"})
    user, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, companies=[{"id": "c1"}, {"id": "c2"}]))
    assert await memberships_of(user.id) == {c1.id, c2.id}
    # company takes priority over companies; company_id over company_ids; existing memberships are kept
    await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, company={"id": "c3"}, companies=[{"id": "nope"}],
                                                company_id=c1.id, company_ids=["comp_nope"]))
    assert await memberships_of(user.id) == {c1.id, c2.id, c3.id}
    await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, company_ids=[c3.id, c3.id]))
    assert await CompanyMembership.filter(user_id=user.id).count() == 3


async def test_user_upsert_creates_the_company_named_by_company_keys(scope: Scope) -> None:
    user, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, company={"id": "brand-new"}))
    company = await service.resolve_company(scope, {"id": "brand-new"})
    assert company is not None and await keys_of(scope, company.id) == {"id": "brand-new"}
    assert await memberships_of(user.id) == {company.id}


async def test_unknown_membership_targets_write_nothing(scope: Scope) -> None:
    await make(scope, {"id": "c1"})
    before = await snapshot()
    cases = [
        (UserUpsert(keys={"id": "u"}, companies=[{"id": "c1"}, {"id": "ghost"}]), "companies"),
        (UserUpsert(keys={"id": "u"}, company_ids=["comp_ghost"]), "company_ids"),
        (UserUpsert(keys={"id": "u"}, company_id="comp_ghost"), "company_id"),
    ]
    for data, field in cases:
        with pytest.raises(NotFound) as exc:
            await service.upsert_user(scope, data)
        assert exc.value.field == field
    with pytest.raises(InvalidInput, match="company: key 'id' must be a string"):
        await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, company={"id": 7}))  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="trait 'x' has no value"):  # `company` is only created after the user
        await service.upsert_user(scope, UserUpsert(keys={"id": "u"}, traits={"x": None}, company={"id": "new"}))
    assert await snapshot() == before


async def test_set_user_trait_and_delete_user(scope: Scope) -> None:
    user = await service.set_user_trait(scope, {"id": "u"}, "logins", incr=2)
    await service.set_user_trait(scope, {"id": "u"}, "logins", incr=3)
    await service.set_user_trait(scope, {"id": "u"}, "role", set_value="admin")
    assert await user_traits_of(scope, user.id) == {"logins": 5, "role": "admin"}
    await service.delete_user(scope, user.id)
    assert await service.resolve_user(scope, {"id": "u"}) is None
    with pytest.raises(NotFound):
        await service.get_user(scope, user.id)


async def test_memberships(scope: Scope, other_keys: Keys) -> None:
    company = await make(scope, {"id": "c"})
    user, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "u"}))
    membership, created = await service.ensure_membership(scope, company.id, user.id)
    again, created_again = await service.ensure_membership(scope, company.id, user.id)
    assert created and not created_again and again.id == membership.id
    assert (await service.member_counts(scope, [company.id])) == {company.id: 1}
    for call in (service.ensure_membership(other_keys.scope, company.id, user.id),
                 service.delete_membership(other_keys.scope, membership.id),
                 service.ensure_membership(scope, "comp_nope", user.id),
                 service.ensure_membership(scope, company.id, "user_nope")):
        with pytest.raises(NotFound):
            await call
    await service.delete_membership(scope, membership.id)
    assert not await CompanyMembership.exists(id=membership.id)
    with pytest.raises(NotFound):
        await service.delete_membership(scope, membership.id)
