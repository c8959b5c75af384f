"""Schematic's response envelope: {"data": ..., "params": {...}} (params is required by the SDK)."""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.http import JSONResponse, authenticate, domain_error_response
from domain.errors import DomainError
from domain.scope import Scope


def ok(data: Any, params: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": data, "params": params or {}}, status_code=status)


Handler = Callable[[Request, Scope], Awaitable[Response]]


def endpoint(
    handler: Handler, kinds: tuple[str, ...] = ("secret", "publishable")
) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run the handler, map domain errors to Schematic-style `{"error": ...}` bodies."""

    async def run(request: Request) -> Response:
        try:
            scope = await authenticate(request, kinds)
            return await handler(request, scope)
        except DomainError as exc:
            return domain_error_response(exc)

    run.__name__ = handler.__name__
    return run
