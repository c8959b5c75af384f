"""Helpers every HTTP route shares: fast JSON, body parsing, authentication, error bodies."""

from collections.abc import Iterable
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


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidInput("request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


async def _raw_body(request: Request) -> bytes:
    raw = request.scope.get(BODY_SCOPE_KEY)
    return raw if raw is not None else await request.body()


async def json_body(request: Request) -> Any:
    return parse_json(await _raw_body(request))


async def json_object(request: Request) -> dict[str, Any]:
    return parse_json_object(await _raw_body(request))


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The API key from `X-Schematic-Api-Key` or `Authorization: Bearer` (raw ASGI headers)."""
    bearer = None
    for name, value in headers:
        if name == b"x-schematic-api-key":
            key = value.decode("latin-1").strip()
            if key:
                return key
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:].decode("latin-1").strip()
    return bearer or None


def presented_key(request: Request) -> str | None:
    return key_from_headers(request.scope["headers"])


async def authenticate(request: Request, kinds: tuple[str, ...] = ("secret", "publishable")) -> Scope:
    return await authenticator.authenticate(presented_key(request), kinds=kinds)
