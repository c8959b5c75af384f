"""Expected failures of domain operations. Each carries a stable code that the API layers map
to an HTTP status (REST) or a typed error result (GraphQL)."""


class DomainError(Exception):
    code = "INVALID"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404


class KeyConflict(DomainError):
    """A key value already belongs to another entity, or a key set matches two entities."""

    code = "KEY_CONFLICT"


class InUse(DomainError):
    code = "IN_USE"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    status = 401
