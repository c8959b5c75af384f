"""Helpers shared by the catalog and entitlement tests (no tests of its own)."""

from dataclasses import replace

from domain.cache.models import CacheChange
from domain.catalog.models import Condition, ConditionGroup, Feature, Flag, Plan, PlanEntitlement, Rule
from domain.companies.models import Company, TraitDefinition, User
from domain.entitlements.models import CompanyOverride, CompanyPlan, CompanyTrial
from domain.environments import service as environments
from domain.scope import Scope

MODELS = (
    Feature, Flag, Rule, ConditionGroup, Condition, Plan, PlanEntitlement, CompanyPlan, CompanyOverride,
    CompanyTrial, TraitDefinition,
)


async def row_counts() -> dict[str, int]:
    """Rows per catalog/entitlement table, to assert that a refused call wrote nothing."""
    return {model.__name__: await model.all().count() for model in MODELS}


async def catalog_changes(scope: Scope) -> int:
    return await CacheChange.filter(environment_id=scope.environment_id, scope="environment", ref_id="*").count()


async def company_changed(scope: Scope, company_id: str) -> bool:
    return await CacheChange.exists(environment_id=scope.environment_id, scope="company", ref_id=company_id)


async def make_company(scope: Scope, name: str = "Acme") -> Company:
    return await Company.create(environment_id=scope.environment_id, name=name)


async def make_user(scope: Scope, name: str = "Ada") -> User:
    return await User.create(environment_id=scope.environment_id, name=name)


async def make_trait(
    scope: Scope, name: str, entity_type: str = "company", trait_type: str = "number"
) -> TraitDefinition:
    return await TraitDefinition.create(
        environment_id=scope.environment_id, entity_type=entity_type, name=name, trait_type=trait_type
    )


async def staging_scope() -> Scope:
    return await environments.system_scope("staging")


def readonly(scope: Scope) -> Scope:
    return replace(scope, readonly=True)
