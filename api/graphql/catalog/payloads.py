"""Mutation payloads of the catalog area: each mutation has its own <Verb><Thing>Payload. The
underscored bases are never exposed."""

from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.catalog.types import (
    CompanyOverrideNode,
    CompanyPlanNode,
    FeatureNode,
    FlagNode,
    PlanEntitlementNode,
    PlanNode,
    PromotionSummaryNode,
    RuleNode,
)
from api.graphql.errors import MutationError

if TYPE_CHECKING:
    from api.graphql.companies.types import CompanyNode

_COMPANIES = "api.graphql.companies.types"


@strawberry.type
class _FeaturePayload:
    feature: FeatureNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateFeaturePayload(_FeaturePayload): ...


@strawberry.type
class UpdateFeaturePayload(_FeaturePayload): ...


@strawberry.type
class DeleteFeaturePayload(_FeaturePayload): ...


@strawberry.type
class _FlagPayload:
    flag: FlagNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateFlagPayload(_FlagPayload): ...


@strawberry.type
class UpdateFlagPayload(_FlagPayload): ...


@strawberry.type
class DeleteFlagPayload(_FlagPayload): ...


@strawberry.type
class SetFlagRulesPayload:
    flag: FlagNode | None = None
    rules: list[RuleNode] = strawberry.field(default_factory=list)
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class _PlanPayload:
    plan: PlanNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePlanPayload(_PlanPayload): ...


@strawberry.type
class UpdatePlanPayload(_PlanPayload): ...


@strawberry.type
class DeletePlanPayload(_PlanPayload): ...


@strawberry.type
class _PlanEntitlementPayload:
    plan_entitlement: PlanEntitlementNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePlanEntitlementPayload(_PlanEntitlementPayload): ...


@strawberry.type
class UpdatePlanEntitlementPayload(_PlanEntitlementPayload): ...


@strawberry.type
class DeletePlanEntitlementPayload(_PlanEntitlementPayload): ...


@strawberry.type
class AssignCompanyPlansPayload:
    company: Annotated["CompanyNode", strawberry.lazy(_COMPANIES)] | None = None
    plans: list[CompanyPlanNode] = strawberry.field(default_factory=list)
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class _CompanyOverridePayload:
    company_override: CompanyOverrideNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateCompanyOverridePayload(_CompanyOverridePayload): ...


@strawberry.type
class UpdateCompanyOverridePayload(_CompanyOverridePayload): ...


@strawberry.type
class DeleteCompanyOverridePayload(_CompanyOverridePayload): ...


@strawberry.type
class PromoteCatalogPayload:
    summary: PromotionSummaryNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)
