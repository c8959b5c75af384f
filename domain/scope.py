"""Who is calling: the environment an API key fixes, and what that key may do."""

from dataclasses import dataclass

from domain.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Scope:
    environment_id: str
    account_id: str
    environment_name: str
    environment_type: str
    key_id: str | None = None
    key_kind: str = "secret"  # secret | publishable | segment | system (CLI, demo loader)
    readonly: bool = False

    @property
    def is_secret(self) -> bool:
        return self.key_kind in ("secret", "system")

    def require_secret(self, action: str = "this operation") -> None:
        if not self.is_secret:
            raise Forbidden(f"{action} needs a secret API key")

    def require_write(self, action: str = "this operation") -> None:
        self.require_secret(action)
        if self.readonly:
            raise Forbidden(f"{action} is a write; this API key is read-only")
