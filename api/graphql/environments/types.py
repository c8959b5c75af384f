from datetime import datetime
from enum import Enum

import strawberry

from api.graphql.errors import MutationError
from domain.environments.models import ApiKey, Environment


@strawberry.enum
class ApiKeyType(Enum):
    SECRET = "secret"
    PUBLISHABLE = "publishable"
    SEGMENT = "segment"


@strawberry.type(name="Environment")
class EnvironmentType:
    id: str
    name: str
    environment_type: str
    created_at: datetime

    @classmethod
    def from_model(cls, env: Environment) -> "EnvironmentType":
        return cls(id=env.id, name=env.name, environment_type=env.environment_type, created_at=env.created_at)


@strawberry.type(name="ApiKey", description="An API key. The key itself is shown once, when it is created.")
class ApiKeyNode:
    id: str
    name: str
    description: str
    type: ApiKeyType
    readonly: bool
    display_prefix: str = strawberry.field(description="The first characters of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, key: ApiKey) -> "ApiKeyNode":
        return cls(
            id=key.id, name=key.name, description=key.description, type=ApiKeyType(key.kind),
            readonly=key.readonly, display_prefix=key.display_prefix, created_at=key.created_at,
            last_used_at=key.last_used_at, revoked_at=key.revoked_at,
        )


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKeyNode | None = None
    secret: str | None = strawberry.field(default=None, description="The new key. Shown only in this response.")
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKeyNode | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)
