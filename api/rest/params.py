"""Parsing of Schematic-style request input for the management REST routes (product model §7.2).

Query strings: object parameters in bracket notation (`keys[id]=acme`), arrays as repeated names
(`ids=a&ids=b`), booleans as `true`/`false`, pages as `limit`/`offset`. JSON bodies: `null` means absent.
Every helper raises `InvalidInput` naming the parameter, which the REST layer answers with 400."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from tortoise.queryset import QuerySet

from api.rest.envelope import endpoint
from domain.errors import InvalidInput
from domain.scope import Scope
from domain.settings import get_settings
from domain.timeutil import parse_timestamp

DEFAULT_LIMIT = 100
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")

Handler = Callable[[Request, Scope], Awaitable[Response]]


# ---------------------------------------------------------------- authorisation wrappers


def secret_read(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A management read: secret keys only (read-only secret keys included); publishable keys get 403."""

    async def run(request: Request, scope: Scope) -> Response:
        scope.require_secret(f"{request.method} {request.url.path}")
        return await handler(request, scope)

    run.__name__ = handler.__name__
    return endpoint(run)


def secret_write(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A management write: a secret key that is not read-only; anything else gets 403."""

    async def run(request: Request, scope: Scope) -> Response:
        scope.require_write(f"{request.method} {request.url.path}")
        return await handler(request, scope)

    run.__name__ = handler.__name__
    return endpoint(run)


# ---------------------------------------------------------------- query strings


def query_bool(query: QueryParams, name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(f"{name} must be true or false (got {raw!r})", field=name)


def query_str(query: QueryParams, name: str) -> str | None:
    raw = query.get(name)
    return raw if raw else None


def query_list(query: QueryParams, name: str) -> list[str]:
    """A repeated parameter (`ids=a&ids=b`); `ids[]=a` and comma-free single values work too."""
    values = [*query.getlist(name), *query.getlist(f"{name}[]")]
    return list(dict.fromkeys(v for v in values if v))


def query_object(query: QueryParams, name: str) -> dict[str, str]:
    """An object parameter: bracket notation `name[key]=value`, or `name={"key": "value"}` as JSON."""
    prefix = f"{name}["
    result: dict[str, str] = {}
    for key, value in query.multi_items():
        if key.startswith(prefix) and key.endswith("]"):
            inner = key[len(prefix):-1]
            if not inner or "[" in inner or "]" in inner:
                raise InvalidInput(f"{name}: nested or empty key in {key!r}", field=name)
            result[inner] = value
    raw = query.get(name)
    if raw is not None:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidInput(f"{name} must be bracket notation ({name}[id]=acme) or a JSON object", field=name) \
                from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise InvalidInput(f"{name} must be an object of key name to string value", field=name)
        result.update(parsed)
    return result


def lookup_keys(query: QueryParams, name: str = "keys") -> dict[str, str]:
    """Keys of a lookup: `keys[id]=acme`, `keys={"id":"acme"}`, or bare `id=acme` pairs."""
    keys = query_object(query, name)
    if not keys:
        keys = {k: v for k, v in query.items() if k not in ("limit", "offset")}
    if not keys:
        raise InvalidInput(f"send the keys to look up, e.g. ?{name}[id]=acme", field=name)
    return keys


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int

    def params(self) -> dict[str, int]:
        return {"limit": self.limit, "offset": self.offset}

    def apply(self, query: QuerySet) -> QuerySet:
        return query.offset(self.offset).limit(self.limit)


def _non_negative(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a non-negative integer (got {raw!r})", field=name) from None
    if value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer (got {raw!r})", field=name)
    return value


def page(query: QueryParams) -> Page:
    """`limit` (default 100, capped at PLANGATE_PAGE_SIZE_MAX) and `offset` (default 0)."""
    cap = get_settings().page_size_max
    limit = _non_negative(query, "limit")
    offset = _non_negative(query, "offset")
    return Page(min(DEFAULT_LIMIT if limit is None else limit, cap), offset or 0)


# ---------------------------------------------------------------- JSON bodies (null = absent)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _present(body: Mapping[str, Any], name: str, required: bool) -> Any:
    """The field's value; None when absent or null (an error when required)."""
    value = body.get(name)
    if value is None and required:
        raise InvalidInput(f"{name} is required", field=name)
    return value


def body_str(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = _present(body, name, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {_type_name(value)}", field=name)
    return value


def body_bool(body: Mapping[str, Any], name: str, *, required: bool = False) -> bool | None:
    value = _present(body, name, required)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be true or false, not {_type_name(value)}", field=name)
    return value


def body_int(body: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = _present(body, name, required)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, not {_type_name(value)}", field=name)
    return value


def body_decimal(body: Mapping[str, Any], name: str) -> str | None:
    """A rate sent as a JSON number (the SDK types it float) or a decimal string, as a string."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{name} must be a number, not {_type_name(value)}", field=name)
    return repr(value) if isinstance(value, float) else str(value)


def body_str_list(body: Mapping[str, Any], name: str, *, required: bool = False) -> list[str] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required (a list, possibly empty)", field=name)
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{name} must be a list of strings", field=name)
    return value


def body_object(body: Mapping[str, Any], name: str, *, required: bool = False) -> dict[str, Any] | None:
    value = _present(body, name, required)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be an object, not {_type_name(value)}", field=name)
    return value


def body_keys(body: Mapping[str, Any], name: str = "keys") -> dict[str, str]:
    """A required keys object; its values are checked by the domain."""
    keys = body_object(body, name, required=True)
    assert keys is not None
    return keys


def body_timestamp(body: Mapping[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    return None if value is None else parse_timestamp(value, name)
