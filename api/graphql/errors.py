"""Typed mutation errors. Every mutation returns a payload with `errors: [MutationError!]!`;
expected failures land there with a stable code, never in the top-level `errors`."""

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TypeVar

import strawberry
import structlog
from tortoise.exceptions import IntegrityError

from domain.db import unit_of_work
from domain.errors import DomainError

log = structlog.get_logger(__name__)
T = TypeVar("T")


@strawberry.enum
class ErrorCode(Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    KEY_CONFLICT = "KEY_CONFLICT"
    IN_USE = "IN_USE"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CONFLICT = "CONFLICT"


@strawberry.type
class MutationError:
    code: ErrorCode
    message: str
    field: str | None = None

    @classmethod
    def from_exception(cls, exc: DomainError) -> "MutationError":
        return cls(code=ErrorCode(exc.code), message=exc.message, field=exc.field)


async def perform(work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[MutationError]]:
    """Run `work` in one transaction. A DomainError rolls everything back and becomes a typed error."""
    try:
        async with unit_of_work():
            return await work(), []
    except DomainError as exc:
        return None, [MutationError.from_exception(exc)]
    except IntegrityError as exc:  # a race the service could not see coming; nothing was written
        log.info("mutation conflicted", error=str(exc))
        return None, [MutationError(code=ErrorCode.CONFLICT, message="conflicts with a concurrent change; retry")]
