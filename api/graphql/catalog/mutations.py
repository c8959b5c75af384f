"""Catalog mutations: thin wrappers that run one domain service in a transaction (perform)."""

import strawberry

from api.graphql.catalog import payloads as p
from api.graphql.catalog import types as t
from api.graphql.catalog.inputs import (
    CompanyOverrideInput,
    CreateFeatureInput,
    CreateFlagInput,
    CreatePlanInput,
    PlanEntitlementInput,
    RuleInput,
    UpdateFeatureInput,
    UpdateFlagInput,
    UpdatePlanInput,
    sent,
)
from api.graphql.context import Info
from api.graphql.errors import perform
from api.graphql.permissions import WriteKey
from domain.catalog import entitlements, features, flag_rules, flags, plans, promotion
from domain.catalog import repository as repo
from domain.catalog.models import Flag, Rule
from domain.catalog.validation import UNSET
from domain.companies.models import Company
from domain.entitlements import service as holdings
from domain.entitlements.models import CompanyPlan


def _feature(row: object) -> t.FeatureNode | None:
    return t.FeatureNode.from_model(row) if row is not None else None  # type: ignore[arg-type]


def _flag(row: object) -> t.FlagNode | None:
    return t.FlagNode.from_model(row) if row is not None else None  # type: ignore[arg-type]


def _plan(row: object) -> t.PlanNode | None:
    return t.PlanNode.from_model(row) if row is not None else None  # type: ignore[arg-type]


def _entitlement(row: object) -> t.PlanEntitlementNode | None:
    return t.PlanEntitlementNode.from_model(row) if row is not None else None  # type: ignore[arg-type]


def _override(row: object) -> t.CompanyOverrideNode | None:
    return t.CompanyOverrideNode.from_model(row) if row is not None else None  # type: ignore[arg-type]


_FEATURE_FIELDS = (
    "name", "description", "key", "feature_type", "event_subtype", "trait_id", "trait_name", "icon",
    "lifecycle_phase", "plural_name", "singular_name",
)
_PLAN_FIELDS = (
    "name", "description", "icon", "is_default", "charge_type", "is_trialable", "trial_days", "currency",
    "monthly_price", "quarterly_price", "yearly_price", "one_time_price",
)


@strawberry.type
class CatalogMutations:
    # ------------------------------------------------------------ features

    @strawberry.mutation(permission_classes=[WriteKey], description="Create a feature and its flag (same key).")
    async def create_feature(self, info: Info, input: CreateFeatureInput) -> p.CreateFeaturePayload:
        kwargs = sent(input, *_FEATURE_FIELDS)
        row, errors = await perform(lambda: features.create_feature(info.context.scope, **kwargs))
        return p.CreateFeaturePayload(feature=_feature(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey])
    async def update_feature(self, info: Info, id: str, input: UpdateFeatureInput) -> p.UpdateFeaturePayload:
        kwargs = sent(input, *_FEATURE_FIELDS)
        row, errors = await perform(lambda: features.update_feature(info.context.scope, id, **kwargs))
        return p.UpdateFeaturePayload(feature=_feature(row), errors=errors)

    @strawberry.mutation(
        permission_classes=[WriteKey],
        description="Delete a feature with its flag, rules, plan entitlements and company overrides.",
    )
    async def delete_feature(self, info: Info, id: str) -> p.DeleteFeaturePayload:
        row, errors = await perform(lambda: features.delete_feature(info.context.scope, id))
        return p.DeleteFeaturePayload(feature=_feature(row), errors=errors)

    # ------------------------------------------------------------ flags and rules

    @strawberry.mutation(permission_classes=[WriteKey], description="Create a standalone flag.")
    async def create_flag(self, info: Info, input: CreateFlagInput) -> p.CreateFlagPayload:
        kwargs = sent(input, "key", "name", "description", "default_value")
        row, errors = await perform(lambda: flags.create_flag(info.context.scope, **kwargs))
        return p.CreateFlagPayload(flag=_flag(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey])
    async def update_flag(self, info: Info, id: str, input: UpdateFlagInput) -> p.UpdateFlagPayload:
        kwargs = sent(input, "key", "name", "description", "default_value")
        row, errors = await perform(lambda: flags.update_flag(info.context.scope, id, **kwargs))
        return p.UpdateFlagPayload(flag=_flag(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Delete a standalone flag and its rules.")
    async def delete_flag(self, info: Info, id: str) -> p.DeleteFlagPayload:
        row, errors = await perform(lambda: flags.delete_flag(info.context.scope, id))
        return p.DeleteFlagPayload(flag=_flag(row), errors=errors)

    @strawberry.mutation(
        permission_classes=[WriteKey],
        description="Replace all client rules (standard, default, global_override) of a flag. All or nothing.",
    )
    async def set_flag_rules(self, info: Info, flag_id: str, rules: list[RuleInput]) -> p.SetFlagRulesPayload:
        domain_rules = [rule.to_domain() for rule in rules]

        async def work() -> tuple[Flag, list[Rule]]:
            stored = await flag_rules.set_flag_rules(info.context.scope, flag_id, domain_rules)
            return await repo.get_flag(info.context.scope, flag_id), stored

        result, errors = await perform(work)
        if result is None:
            return p.SetFlagRulesPayload(errors=errors)
        flag, stored = result
        return p.SetFlagRulesPayload(flag=_flag(flag), rules=[t.RuleNode.from_model(r) for r in stored])

    # ------------------------------------------------------------ plans

    @strawberry.mutation(permission_classes=[WriteKey], description="Create a plan or an add-on.")
    async def create_plan(self, info: Info, input: CreatePlanInput) -> p.CreatePlanPayload:
        kwargs = sent(input, "plan_type", *_PLAN_FIELDS)
        row, errors = await perform(lambda: plans.create_plan(info.context.scope, **kwargs))
        return p.CreatePlanPayload(plan=_plan(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey])
    async def update_plan(self, info: Info, id: str, input: UpdatePlanInput) -> p.UpdatePlanPayload:
        kwargs = sent(input, *_PLAN_FIELDS)
        row, errors = await perform(lambda: plans.update_plan(info.context.scope, id, **kwargs))
        return p.UpdatePlanPayload(plan=_plan(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Delete a plan; refused while companies are on it.")
    async def delete_plan(self, info: Info, id: str) -> p.DeletePlanPayload:
        row, errors = await perform(lambda: plans.delete_plan(info.context.scope, id))
        return p.DeletePlanPayload(plan=_plan(row), errors=errors)

    # ------------------------------------------------------------ plan entitlements

    @strawberry.mutation(permission_classes=[WriteKey], description="Grant a feature on a plan.")
    async def create_plan_entitlement(
        self, info: Info, plan_id: str, feature_id: str, input: PlanEntitlementInput
    ) -> p.CreatePlanEntitlementPayload:
        kwargs = input.to_kwargs()
        row, errors = await perform(lambda: entitlements.create_plan_entitlement(
            info.context.scope, plan_id=plan_id, feature_id=feature_id, **kwargs
        ))
        return p.CreatePlanEntitlementPayload(plan_entitlement=_entitlement(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Replace the value of a plan entitlement.")
    async def update_plan_entitlement(
        self, info: Info, id: str, input: PlanEntitlementInput
    ) -> p.UpdatePlanEntitlementPayload:
        kwargs = input.to_kwargs()
        row, errors = await perform(lambda: entitlements.update_plan_entitlement(info.context.scope, id, **kwargs))
        return p.UpdatePlanEntitlementPayload(plan_entitlement=_entitlement(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey])
    async def delete_plan_entitlement(self, info: Info, id: str) -> p.DeletePlanEntitlementPayload:
        row, errors = await perform(lambda: entitlements.delete_plan_entitlement(info.context.scope, id))
        return p.DeletePlanEntitlementPayload(plan_entitlement=_entitlement(row), errors=errors)

    # ------------------------------------------------------------ what companies hold

    @strawberry.mutation(
        permission_classes=[WriteKey],
        description="Put a company on exactly this base plan (null: none) and these add-ons. A trialable base plan "
        "starts a trial the first time the company gets it.",
    )
    async def assign_company_plans(
        self, info: Info, company_id: str, add_on_ids: list[str], base_plan_id: str | None = None
    ) -> p.AssignCompanyPlansPayload:
        from api.graphql.companies.types import CompanyNode

        scope = info.context.scope

        async def work() -> tuple[Company, list[CompanyPlan]]:
            company = await holdings.set_company_plans(scope, company_id, base_plan_id, add_on_ids)
            return company, await holdings.company_plans(scope, company_id).order_by("id")

        result, errors = await perform(work)
        if result is None:
            return p.AssignCompanyPlansPayload(errors=errors)
        company, rows = result
        nodes = sorted((t.CompanyPlanNode.from_model(r) for r in rows), key=lambda n: not n.is_base_plan)
        return p.AssignCompanyPlansPayload(company=CompanyNode.from_model(company), plans=nodes)

    @strawberry.mutation(permission_classes=[WriteKey], description="Override what a company gets of a feature.")
    async def create_company_override(
        self, info: Info, company_id: str, feature_id: str, input: CompanyOverrideInput
    ) -> p.CreateCompanyOverridePayload:
        kwargs = input.to_kwargs()
        kwargs["expires_at"] = None if kwargs["expires_at"] is UNSET else kwargs["expires_at"]
        row, errors = await perform(lambda: holdings.create_company_override(
            info.context.scope, company_id=company_id, feature_id=feature_id, **kwargs
        ))
        return p.CreateCompanyOverridePayload(company_override=_override(row), errors=errors)

    @strawberry.mutation(
        permission_classes=[WriteKey],
        description="Replace an override's value; expiresAt changes only when sent; note is appended.",
    )
    async def update_company_override(
        self, info: Info, id: str, input: CompanyOverrideInput
    ) -> p.UpdateCompanyOverridePayload:
        kwargs = input.to_kwargs()
        row, errors = await perform(lambda: holdings.update_company_override(info.context.scope, id, **kwargs))
        return p.UpdateCompanyOverridePayload(company_override=_override(row), errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey])
    async def delete_company_override(self, info: Info, id: str) -> p.DeleteCompanyOverridePayload:
        row, errors = await perform(lambda: holdings.delete_company_override(info.context.scope, id))
        return p.DeleteCompanyOverridePayload(company_override=_override(row), errors=errors)

    # ------------------------------------------------------------ promotion

    @strawberry.mutation(
        permission_classes=[WriteKey],
        description="Copy the catalog into this environment from the environment of `sourceKey` (a secret key of "
        "that environment). Upserts by flag key, plan name and trait name; running it twice changes nothing.",
    )
    async def promote_catalog(self, info: Info, source_key: str) -> p.PromoteCatalogPayload:
        summary, errors = await perform(lambda: promotion.copy_catalog_from_key(info.context.scope, source_key))
        return p.PromoteCatalogPayload(
            summary=t.PromotionSummaryNode.from_summary(summary) if summary else None, errors=errors
        )
