from collections.abc import Iterator

import pytest

from domain.companies import service
from domain.companies.resolver import KeyResolver
from domain.companies.resolver import resolver as shared_resolver
from domain.companies.service import CompanyUpsert, UserUpsert
from domain.db import unit_of_work
from domain.errors import InvalidInput, KeyConflict
from domain.scope import Scope
from tests.conftest import Keys, QueryCounter
from tests.domain.test_companies import make


@pytest.fixture
def resolver() -> Iterator[KeyResolver]:
    """The process-wide instance (the one subscribed to the change feed), emptied around each test."""
    shared_resolver.clear()
    yield shared_resolver
    shared_resolver.clear()


async def test_cache_hit_issues_no_query(scope: Scope, resolver: KeyResolver, count_queries: QueryCounter) -> None:
    company = await make(scope, {"id": "acme", "stripe": "cus_1"})
    count_queries.statements.clear()
    assert await resolver.company_id(scope, {"id": "acme"}) == company.id
    assert count_queries.selects == 1
    count_queries.statements.clear()
    for keys in ({"id": "acme"}, {"stripe": "cus_1"}, {"stripe": "cus_1", "id": "acme"}):
        assert await resolver.company_id(scope, keys) == company.id
    assert count_queries.statements == []


async def test_unknown_keys_are_not_cached(scope: Scope, resolver: KeyResolver) -> None:
    assert await resolver.company_id(scope, {"id": "later"}) is None
    company = await make(scope, {"id": "later"})
    assert await resolver.company_id(scope, {"id": "later"}) == company.id


async def test_partial_hit_queries_and_still_detects_conflicts(scope: Scope, resolver: KeyResolver) -> None:
    a = await make(scope, {"id": "a"})
    await make(scope, {"id": "b", "slug": "b"})
    assert await resolver.company_id(scope, {"id": "a"}) == a.id
    assert await resolver.company_id(scope, {"id": "a", "unknown": "x"}) == a.id
    with pytest.raises(KeyConflict):
        await resolver.company_id(scope, {"id": "a", "slug": "b"})


async def test_invalidated_after_a_key_remap(scope: Scope, resolver: KeyResolver, count_queries: QueryCounter) -> None:
    a = await make(scope, {"id": "a"})
    b = await make(scope, {"id": "b", "stripe": "cus_x"})
    assert await resolver.company_id(scope, {"stripe": "cus_x"}) == b.id
    async with unit_of_work():
        await service.upsert_company(scope, CompanyUpsert(keys={"stripe": "cus_x"}, id=a.id))
    assert await resolver.company_id(scope, {"stripe": "cus_x"}) == a.id
    count_queries.statements.clear()
    assert await resolver.company_id(scope, {"stripe": "cus_x"}) == a.id
    assert count_queries.statements == []


async def test_invalidated_after_delete_and_rolled_back_writes_leave_it_alone(
    scope: Scope, resolver: KeyResolver
) -> None:
    company = await make(scope, {"id": "gone"})
    assert await resolver.company_id(scope, {"id": "gone"}) == company.id
    with pytest.raises(RuntimeError):
        async with unit_of_work():
            await service.delete_company(scope, company.id)
            raise RuntimeError("rollback")
    assert await resolver.company_id(scope, {"id": "gone"}) == company.id
    async with unit_of_work():
        await service.delete_company(scope, company.id)
    assert await resolver.company_id(scope, {"id": "gone"}) is None


async def test_matched_by_id_resolves_but_is_not_cached(
    scope: Scope, resolver: KeyResolver, count_queries: QueryCounter
) -> None:
    company = await make(scope, {"id": "acme"})
    assert await resolver.company_id(scope, {"id": company.id}) == company.id
    count_queries.statements.clear()
    assert await resolver.company_id(scope, {"id": company.id}) == company.id
    assert count_queries.selects >= 1


async def test_users_and_environments_are_separate(scope: Scope, other_keys: Keys, resolver: KeyResolver) -> None:
    company = await make(scope, {"id": "same"})
    user, _ = await service.upsert_user(scope, UserUpsert(keys={"id": "same"}))
    assert await resolver.company_id(scope, {"id": "same"}) == company.id
    assert await resolver.user_id(scope, {"id": "same"}) == user.id
    assert await resolver.company_id(other_keys.scope, {"id": "same"}) is None
    assert await resolver.user_id(other_keys.scope, {"id": "same"}) is None


async def test_bad_keys_are_refused(scope: Scope, resolver: KeyResolver) -> None:
    with pytest.raises(InvalidInput):
        await resolver.company_id(scope, {"id": ["x"]})  # type: ignore[dict-item]
