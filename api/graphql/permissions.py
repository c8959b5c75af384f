from typing import Any

from strawberry.permission import BasePermission

from api.graphql.context import Info


class SecretKey(BasePermission):
    """Management fields: secret keys only. Publishable keys may only check flags and send events."""

    message = "this field needs a secret API key"
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.scope.is_secret


class WriteKey(SecretKey):
    message = "this mutation needs a secret API key that is not read-only"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.scope.is_secret and not info.context.scope.readonly
