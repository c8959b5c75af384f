"""Catalog queries (mutations live in mutations.py and are re-exported here)."""

import strawberry

from api.graphql.catalog.inputs import FeatureType, PlanType
from api.graphql.catalog.mutations import CatalogMutations
from api.graphql.catalog.types import CompanyOverrideNode, FeatureNode, FlagNode, PlanEntitlementNode, PlanNode
from api.graphql.context import Info
from api.graphql.pagination import Connection, paginate
from api.graphql.permissions import SecretKey
from domain.catalog import repository as repo
from domain.catalog.models import Feature, Flag
from domain.entitlements.service import overrides_query
from domain.errors import InvalidInput

__all__ = ["CatalogMutations", "CatalogQueries"]


def _one_of(id: str | None, key: str | None) -> None:
    if (id is None) == (key is None):
        raise InvalidInput("give either id or key", field="id")


@strawberry.type
class CatalogQueries:
    @strawberry.field(permission_classes=[SecretKey], description="Features, newest first.")
    async def features(
        self, info: Info, first: int | None = None, after: str | None = None,
        feature_type: FeatureType | None = None, search: str | None = None,
    ) -> Connection[FeatureNode]:
        query = repo.features_query(
            info.context.scope, feature_type=feature_type.value if feature_type else None, search=search
        )
        return await paginate(query, first, after, FeatureNode.from_model)

    @strawberry.field(permission_classes=[SecretKey], description="A feature by id or by key (its flag's key).")
    async def feature(self, info: Info, id: str | None = None, key: str | None = None) -> FeatureNode | None:
        _one_of(id, key)
        scope = info.context.scope
        feature = await (repo.scoped(Feature, scope).get_or_none(id=id) if id else repo.feature_by_key(scope, key))
        return FeatureNode.from_model(feature) if feature else None

    @strawberry.field(permission_classes=[SecretKey], description="Flags (of features and standalone), newest first.")
    async def flags(
        self, info: Info, first: int | None = None, after: str | None = None, feature_id: str | None = None,
        search: str | None = None,
    ) -> Connection[FlagNode]:
        query = repo.flags_query(info.context.scope, feature_id=feature_id, search=search)
        return await paginate(query, first, after, FlagNode.from_model)

    @strawberry.field(permission_classes=[SecretKey], description="A flag by id or by key.")
    async def flag(self, info: Info, id: str | None = None, key: str | None = None) -> FlagNode | None:
        _one_of(id, key)
        flag = await repo.scoped(Flag, info.context.scope).get_or_none(**({"id": id} if id else {"key": key}))
        return FlagNode.from_model(flag) if flag else None

    @strawberry.field(permission_classes=[SecretKey], description="Plans and add-ons, newest first.")
    async def plans(
        self, info: Info, first: int | None = None, after: str | None = None, plan_type: PlanType | None = None,
        search: str | None = None,
    ) -> Connection[PlanNode]:
        query = repo.plans_query(info.context.scope, plan_type=plan_type.value if plan_type else None, search=search)
        return await paginate(query, first, after, PlanNode.from_model)

    @strawberry.field(permission_classes=[SecretKey])
    async def plan(self, info: Info, id: str) -> PlanNode | None:
        plan = await repo.plans_query(info.context.scope).get_or_none(id=id)
        return PlanNode.from_model(plan) if plan else None

    @strawberry.field(permission_classes=[SecretKey], description="Plan entitlements, newest first.")
    async def plan_entitlements(
        self, info: Info, first: int | None = None, after: str | None = None, plan_id: str | None = None,
        feature_id: str | None = None,
    ) -> Connection[PlanEntitlementNode]:
        query = repo.plan_entitlements_query(info.context.scope, plan_id=plan_id, feature_id=feature_id)
        return await paginate(query, first, after, PlanEntitlementNode.from_model)

    @strawberry.field(permission_classes=[SecretKey], description="Company overrides, newest first.")
    async def company_overrides(
        self, info: Info, first: int | None = None, after: str | None = None, company_id: str | None = None,
        feature_id: str | None = None, without_expired: bool = False,
    ) -> Connection[CompanyOverrideNode]:
        query = overrides_query(
            info.context.scope, company_id=company_id, feature_id=feature_id, without_expired=without_expired
        )
        return await paginate(query, first, after, CompanyOverrideNode.from_model)
