from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.companies.types import (
    AddCompanyMembershipPayload,
    CompanyMembershipNode,
    CompanyNode,
    CreateTraitDefinitionPayload,
    DeleteCompanyPayload,
    DeleteTraitDefinitionPayload,
    DeleteUserPayload,
    EntityType,
    KeyFilter,
    RemoveCompanyMembershipPayload,
    SetCompanyTraitPayload,
    SetUserTraitPayload,
    TraitDefinitionNode,
    TraitFilter,
    TraitType,
    UpdateTraitDefinitionPayload,
    UpsertCompanyInput,
    UpsertCompanyPayload,
    UpsertUserInput,
    UpsertUserPayload,
    UserNode,
)
from api.graphql.context import Info
from api.graphql.errors import perform
from api.graphql.pagination import Connection, paginate
from api.graphql.permissions import SecretKey, WriteKey
from api.graphql.scalars import BigInt
from domain.companies import repository, service
from domain.companies.service import MISSING, CompanyUpsert, UserUpsert

SetValue = Annotated[JSON | None, strawberry.argument(name="set", description="The new value.")]


@strawberry.type
class CompanyQueries:
    @strawberry.field(permission_classes=[SecretKey])
    async def company(self, info: Info, id: str) -> CompanyNode | None:
        company = await repository.companies(info.context.scope).get_or_none(id=id)
        return CompanyNode.from_model(company) if company is not None else None

    @strawberry.field(permission_classes=[SecretKey], description="The company the keys resolve to (§1.5 order).")
    async def company_by_keys(self, info: Info, keys: JSON) -> CompanyNode | None:
        company = await service.resolve_company(info.context.scope, keys)
        return CompanyNode.from_model(company) if company is not None else None

    @strawberry.field(permission_classes=[SecretKey], description="Companies, newest first.")
    async def companies(
        self, info: Info, first: int | None = None, after: str | None = None,
        search: Annotated[str | None, strawberry.argument(description="Name contains (case-insensitive).")] = None,
        key: KeyFilter | None = None, trait: TraitFilter | None = None,
        plan_id: Annotated[str | None, strawberry.argument(description="On this base plan or add-on.")] = None,
    ) -> Connection[CompanyNode]:
        query = await service.company_list(
            info.context.scope, search, (key.key, key.value) if key else None,
            (trait.name, trait.value) if trait else None, plan_id,
        )
        return await paginate(query, first, after, CompanyNode.from_model)

    @strawberry.field(permission_classes=[SecretKey])
    async def user(self, info: Info, id: str) -> UserNode | None:
        user = await repository.users(info.context.scope).get_or_none(id=id)
        return UserNode.from_model(user) if user is not None else None

    @strawberry.field(permission_classes=[SecretKey], description="The user the keys resolve to.")
    async def user_by_keys(self, info: Info, keys: JSON) -> UserNode | None:
        user = await service.resolve_user(info.context.scope, keys)
        return UserNode.from_model(user) if user is not None else None

    @strawberry.field(permission_classes=[SecretKey], description="Users, newest first.")
    async def users(
        self, info: Info, first: int | None = None, after: str | None = None, search: str | None = None,
        company_id: Annotated[str | None, strawberry.argument(description="Members of this company.")] = None,
    ) -> Connection[UserNode]:
        query = await service.user_list(info.context.scope, search, company_id)
        return await paginate(query, first, after, UserNode.from_model)

    @strawberry.field(permission_classes=[SecretKey])
    async def trait_definitions(self, info: Info, entity_type: EntityType | None = None) -> list[TraitDefinitionNode]:
        found = await service.list_trait_definitions(info.context.scope, entity_type.value if entity_type else None)
        return [TraitDefinitionNode.from_model(d) for d in found]


def _company_upsert(data: UpsertCompanyInput) -> CompanyUpsert:
    return CompanyUpsert(
        keys=data.keys, name=data.name, traits=data.traits, id=data.id, last_seen_at=data.last_seen_at,
        update_only=data.update_only, prevent_key_remap=data.prevent_key_remap, remove_keys=data.remove_keys,
    )


def _user_upsert(data: UpsertUserInput) -> UserUpsert:
    return UserUpsert(
        keys=data.keys, name=data.name, traits=data.traits, id=data.id, last_seen_at=data.last_seen_at,
        update_only=data.update_only, remove_keys=data.remove_keys, company=data.company,
        companies=data.companies, company_id=data.company_id, company_ids=data.company_ids,
    )


def _trait_change(set_value: Any, incr: int | None) -> dict[str, Any]:
    return {"set_value": MISSING if set_value is strawberry.UNSET else set_value, "incr": incr}


@strawberry.type
class CompanyMutations:
    @strawberry.mutation(permission_classes=[WriteKey], description="Create or update a company by its keys.")
    async def upsert_company(self, info: Info, input: UpsertCompanyInput) -> UpsertCompanyPayload:
        result, errors = await perform(lambda: service.upsert_company(info.context.scope, _company_upsert(input)))
        if result is None:
            return UpsertCompanyPayload(errors=errors)
        return UpsertCompanyPayload(company=CompanyNode.from_model(result[0]), created=result[1])

    @strawberry.mutation(permission_classes=[WriteKey])
    async def delete_company(self, info: Info, id: str) -> DeleteCompanyPayload:
        company, errors = await perform(lambda: service.delete_company(info.context.scope, id))
        return DeleteCompanyPayload(company=CompanyNode.from_model(company) if company else None, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Set a trait, or add a signed integer to it.")
    async def set_company_trait(
        self, info: Info, keys: JSON, trait: str, set: SetValue = strawberry.UNSET, incr: BigInt | None = None,
        update_only: bool = False,
    ) -> SetCompanyTraitPayload:
        change = _trait_change(set, incr)
        company, errors = await perform(
            lambda: service.set_company_trait(info.context.scope, keys, trait, update_only=update_only, **change))
        return SetCompanyTraitPayload(company=CompanyNode.from_model(company) if company else None, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Create or update a user by its keys.")
    async def upsert_user(self, info: Info, input: UpsertUserInput) -> UpsertUserPayload:
        result, errors = await perform(lambda: service.upsert_user(info.context.scope, _user_upsert(input)))
        if result is None:
            return UpsertUserPayload(errors=errors)
        return UpsertUserPayload(user=UserNode.from_model(result[0]), created=result[1])

    @strawberry.mutation(permission_classes=[WriteKey])
    async def delete_user(self, info: Info, id: str) -> DeleteUserPayload:
        user, errors = await perform(lambda: service.delete_user(info.context.scope, id))
        return DeleteUserPayload(user=UserNode.from_model(user) if user else None, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Set a user trait, or add a signed integer to it.")
    async def set_user_trait(
        self, info: Info, keys: JSON, trait: str, set: SetValue = strawberry.UNSET, incr: BigInt | None = None,
        update_only: bool = False,
    ) -> SetUserTraitPayload:
        change = _trait_change(set, incr)
        user, errors = await perform(
            lambda: service.set_user_trait(info.context.scope, keys, trait, update_only=update_only, **change))
        return SetUserTraitPayload(user=UserNode.from_model(user) if user else None, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Add a user to a company (get-or-create).")
    async def add_company_membership(self, info: Info, company_id: str, user_id: str) -> AddCompanyMembershipPayload:
        result, errors = await perform(lambda: service.ensure_membership(info.context.scope, company_id, user_id))
        if result is None:
            return AddCompanyMembershipPayload(errors=errors)
        return AddCompanyMembershipPayload(membership=CompanyMembershipNode.from_model(result[0]), created=result[1])

    @strawberry.mutation(permission_classes=[WriteKey])
    async def remove_company_membership(self, info: Info, id: str) -> RemoveCompanyMembershipPayload:
        membership, errors = await perform(lambda: service.delete_membership(info.context.scope, id))
        node = CompanyMembershipNode.from_model(membership) if membership else None
        return RemoveCompanyMembershipPayload(membership=node, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Get-or-create a trait definition.")
    async def create_trait_definition(
        self, info: Info, entity_type: EntityType, name: str, trait_type: TraitType, display_name: str = ""
    ) -> CreateTraitDefinitionPayload:
        definition, errors = await perform(lambda: service.get_or_create_trait_definition(
            info.context.scope, entity_type.value, name, trait_type.value, display_name))
        node = TraitDefinitionNode.from_model(definition) if definition else None
        return CreateTraitDefinitionPayload(trait_definition=node, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey],
                         description="Change the type (stored values are converted) or the display name.")
    async def update_trait_definition(
        self, info: Info, id: str, trait_type: TraitType | None = None, display_name: str | None = None
    ) -> UpdateTraitDefinitionPayload:
        definition, errors = await perform(lambda: service.update_trait_definition(
            info.context.scope, id, trait_type.value if trait_type else None, display_name))
        node = TraitDefinitionNode.from_model(definition) if definition else None
        return UpdateTraitDefinitionPayload(trait_definition=node, errors=errors)

    @strawberry.mutation(permission_classes=[WriteKey], description="Delete a trait definition and its values.")
    async def delete_trait_definition(self, info: Info, id: str) -> DeleteTraitDefinitionPayload:
        definition, errors = await perform(lambda: service.delete_trait_definition(info.context.scope, id))
        node = TraitDefinitionNode.from_model(definition) if definition else None
        return DeleteTraitDefinitionPayload(trait_definition=node, errors=errors)
