from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info
from api.graphql.environments.types import (
    ApiKeyNode,
    ApiKeyType,
    CreateApiKeyPayload,
    EnvironmentType,
    RevokeApiKeyPayload,
)
from api.graphql.errors import perform
from api.graphql.permissions import SecretKey, WriteKey
from domain.environments import service
from domain.environments.models import Environment


@strawberry.type
class EnvironmentQueries:
    @strawberry.field(description="The environment the API key belongs to.")
    async def environment(self, info: Info) -> EnvironmentType:
        return EnvironmentType.from_model(await Environment.get(id=info.context.scope.environment_id))

    @strawberry.field(permission_classes=[SecretKey], description="All environments of the installation.")
    async def environments(self, info: Info) -> list[EnvironmentType]:
        return [EnvironmentType.from_model(env) for env in await service.list_environments()]

    @strawberry.field(permission_classes=[SecretKey], description="API keys of this environment.")
    async def api_keys(self, info: Info) -> list[ApiKeyNode]:
        return [ApiKeyNode.from_model(key) for key in await service.list_keys(info.context.scope.environment_id)]


@strawberry.type
class EnvironmentMutations:
    @strawberry.mutation(permission_classes=[WriteKey], description="Create an API key in this environment.")
    async def create_api_key(
        self, info: Info, type: ApiKeyType, name: str = "", description: str = "", readonly: bool = False,
        segment_mapping: Annotated[
            JSON | None, strawberry.argument(description="Segment write keys: mapping settings (docs/metering.md).")
        ] = None,
    ) -> CreateApiKeyPayload:
        async def work() -> service.CreatedKey:
            env = await Environment.get(id=info.context.scope.environment_id)
            return await service.create_key(env, type.value, name, description, readonly, settings=segment_mapping)

        created, errors = await perform(work)
        if created is None:
            return CreateApiKeyPayload(errors=errors)
        return CreateApiKeyPayload(api_key=ApiKeyNode.from_model(created.key), secret=created.plaintext)

    @strawberry.mutation(permission_classes=[WriteKey], description="Revoke an API key; it stops working at once.")
    async def revoke_api_key(self, info: Info, id: str) -> RevokeApiKeyPayload:
        key, errors = await perform(lambda: service.revoke_key(id, info.context.scope.environment_id))
        return RevokeApiKeyPayload(api_key=ApiKeyNode.from_model(key) if key else None, errors=errors)
