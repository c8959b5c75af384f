"""Helpers every HTTP route shares: fast JSON, body parsing, authentication, error bodies."""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.middleware import BODY_SCOPE_KEY
from domain.environments.service import authenticator
from domain.errors import DomainError, InvalidInput
from domain.scope import Scope


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default, option=orjson.OPT_UTC_Z)


def _default(value: Any) -> Any:
    from datetime import datetime
    from decimal import Decimal

    from domain.timeutil import isoformat

    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def domain_error_response(exc: DomainError) -> JSONResponse:
    return error_response(exc.status, exc.message, code=exc.code, **({"field": exc.field} if exc.field else {}))


async def json_body(request: Request) -> Any:
    raw = request.scope.get(BODY_SCOPE_KEY)
    if raw is None:
        raw = await request.body()
    if not raw.strip():
        raise InvalidInput("request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-schematic-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


async def authenticate(request: Request, kinds: tuple[str, ...] = ("secret", "publishable")) -> Scope:
    return await authenticator.authenticate(presented_key(request), kinds=kinds)
