from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from api.graphql.companies import loaders
from api.graphql.context import Info
from api.graphql.errors import MutationError
from domain.companies.models import Company, CompanyMembership, TraitDefinition, User
from domain.errors import InvalidInput
from domain.settings import get_settings

if TYPE_CHECKING:
    from api.graphql.catalog.types import CompanyOverrideNode, PlanNode

_CATALOG = "api.graphql.catalog.types"


@strawberry.enum
class EntityType(Enum):
    COMPANY = "company"
    USER = "user"


@strawberry.enum
class TraitType(Enum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    URL = "url"
    CURRENCY = "currency"


@strawberry.type(name="EntityKey", description="One key of a company or user: a name and its string value.")
class EntityKeyNode:
    key: str
    value: str


def _keys(found: dict[str, str]) -> list[EntityKeyNode]:
    return [EntityKeyNode(key=k, value=v) for k, v in found.items()]


def _first(first: int) -> int:
    limit = get_settings().page_size_max
    if first < 0 or first > limit:
        raise InvalidInput(f"first must be between 0 and {limit}", field="first")
    return first


@strawberry.type(name="TraitDefinition")
class TraitDefinitionNode:
    id: str
    name: str
    entity_type: EntityType
    trait_type: TraitType
    display_name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, definition: TraitDefinition) -> "TraitDefinitionNode":
        return cls(
            id=definition.id, name=definition.name, entity_type=EntityType(definition.entity_type),
            trait_type=TraitType(definition.trait_type), display_name=definition.display_name,
            created_at=definition.created_at, updated_at=definition.updated_at,
        )


@strawberry.type(name="Company")
class CompanyNode:
    id: str
    name: str
    logo_url: str | None
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, company: Company) -> "CompanyNode":
        return cls(
            id=company.id, name=company.name, logo_url=company.logo_url, last_seen_at=company.last_seen_at,
            created_at=company.created_at, updated_at=company.updated_at,
        )

    @strawberry.field
    async def keys(self, info: Info) -> list[EntityKeyNode]:
        return _keys(await info.context.loader(loaders.load_company_keys).load(self.id))

    @strawberry.field(description="Trait name → value (numbers, booleans, RFC 3339 dates, strings).")
    async def traits(self, info: Info) -> JSON:
        return await info.context.loader(loaders.load_company_traits).load(self.id)

    @strawberry.field(description="Number of users that are members of the company.")
    async def member_count(self, info: Info) -> int:
        return await info.context.loader(loaders.load_member_counts).load(self.id)

    @strawberry.field(description="The newest members of the company.")
    async def users(self, info: Info, first: int = 10) -> list["UserNode"]:
        users = await info.context.loader(loaders.load_company_users).load((self.id, _first(first)))
        return [UserNode.from_model(u) for u in users]

    @strawberry.field(description="The base plan, if any.")
    async def plan(self, info: Info) -> Annotated["PlanNode", strawberry.lazy(_CATALOG)] | None:
        from api.graphql.catalog.types import PlanNode

        base, _ = loaders.split_plans(await info.context.loader(loaders.load_company_plans).load(self.id))
        return PlanNode.from_model(base.plan) if base is not None else None

    @strawberry.field(description="Add-on plans.")
    async def add_ons(self, info: Info) -> list[Annotated["PlanNode", strawberry.lazy(_CATALOG)]]:
        from api.graphql.catalog.types import PlanNode

        _, add_ons = loaders.split_plans(await info.context.loader(loaders.load_company_plans).load(self.id))
        return [PlanNode.from_model(a.plan) for a in add_ons]

    @strawberry.field(description="Per-company overrides of plan entitlements.")
    async def overrides(self, info: Info) -> list[Annotated["CompanyOverrideNode", strawberry.lazy(_CATALOG)]]:
        from api.graphql.catalog.types import CompanyOverrideNode

        return [CompanyOverrideNode.from_model(o)
                for o in await info.context.loader(loaders.load_company_overrides).load(self.id)]


@strawberry.type(name="User")
class UserNode:
    id: str
    name: str
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, user: User) -> "UserNode":
        return cls(id=user.id, name=user.name, last_seen_at=user.last_seen_at, created_at=user.created_at,
                   updated_at=user.updated_at)

    @strawberry.field
    async def keys(self, info: Info) -> list[EntityKeyNode]:
        return _keys(await info.context.loader(loaders.load_user_keys).load(self.id))

    @strawberry.field(description="Trait name → value (numbers, booleans, RFC 3339 dates, strings).")
    async def traits(self, info: Info) -> JSON:
        return await info.context.loader(loaders.load_user_traits).load(self.id)

    @strawberry.field
    async def memberships(self, info: Info) -> list["CompanyMembershipNode"]:
        found = await info.context.loader(loaders.load_user_memberships).load(self.id)
        return [CompanyMembershipNode.from_model(m) for m in found]


@strawberry.type(name="CompanyMembership")
class CompanyMembershipNode:
    id: str
    company_id: str
    user_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, membership: CompanyMembership) -> "CompanyMembershipNode":
        return cls(
            id=membership.id, company_id=membership.company_id, user_id=membership.user_id,  # type: ignore[attr-defined]
            created_at=membership.created_at, updated_at=membership.updated_at,
        )

    @strawberry.field
    async def company(self, info: Info) -> CompanyNode | None:
        company = await info.context.loader(loaders.load_companies).load(self.company_id)
        return CompanyNode.from_model(company) if company is not None else None

    @strawberry.field
    async def user(self, info: Info) -> UserNode | None:
        user = await info.context.loader(loaders.load_users).load(self.user_id)
        return UserNode.from_model(user) if user is not None else None


@strawberry.input(description="Find companies holding this key.")
class KeyFilter:
    key: str
    value: str


@strawberry.input(description="Find companies whose trait equals this value (typed by the trait's definition).")
class TraitFilter:
    name: str
    value: JSON


@strawberry.input
class UpsertCompanyInput:
    keys: JSON = strawberry.field(description='Key name → string value, e.g. {"id": "acme"}.')
    name: str | None = None
    traits: JSON | None = strawberry.field(default=None, description="Merged into the stored traits.")
    id: str | None = strawberry.field(default=None, description="Update this company (keys may then be remapped).")
    last_seen_at: datetime | None = None
    update_only: bool = strawberry.field(default=False, description="Never create; unknown keys are an error.")
    prevent_key_remap: bool = strawberry.field(
        default=False, description="Refuse to move a key value that belongs to another company.")
    remove_keys: list[str] | None = None


@strawberry.input
class UpsertUserInput:
    keys: JSON
    name: str | None = None
    traits: JSON | None = None
    id: str | None = None
    last_seen_at: datetime | None = None
    update_only: bool = False
    remove_keys: list[str] | None = None
    company: JSON | None = strawberry.field(
        default=None, description="Keys of a company to join (created when unknown); takes priority over companies.")
    companies: list[JSON] | None = None
    company_id: str | None = strawberry.field(default=None, description="Takes priority over companyIds.")
    company_ids: list[str] | None = None


@strawberry.type
class UpsertCompanyPayload:
    company: CompanyNode | None = None
    created: bool = False
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteCompanyPayload:
    company: CompanyNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class SetCompanyTraitPayload:
    company: CompanyNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class UpsertUserPayload:
    user: UserNode | None = None
    created: bool = False
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteUserPayload:
    user: UserNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class SetUserTraitPayload:
    user: UserNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class AddCompanyMembershipPayload:
    membership: CompanyMembershipNode | None = None
    created: bool = False
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class RemoveCompanyMembershipPayload:
    membership: CompanyMembershipNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateTraitDefinitionPayload:
    trait_definition: TraitDefinitionNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateTraitDefinitionPayload:
    trait_definition: TraitDefinitionNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteTraitDefinitionPayload:
    trait_definition: TraitDefinitionNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)
