"""The `GET /<things>` and `GET /<things>/count` pair of one filtered listing (Schematic's REST): both
build the same rows from the query string and echo the filters and the page in `params`."""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from tortoise.queryset import QuerySet

from api.rest import params as p
from api.rest import serializers as s
from api.rest.envelope import ok
from domain.scope import Scope

Rows = QuerySet[Any] | list[Any]  # a query, or rows already computed in memory
Build = Callable[[Request, Scope], Awaitable[tuple[Rows, dict[str, Any]]]]  # -> rows, echoed filters
Present = Callable[[Scope, list[Any], dict[str, Any]], Awaitable[Any]]  # a page of rows -> wire data
Handler = Callable[[Request, Scope], Awaitable[Response]]


def list_and_count(build: Build, present: Present | None = None) -> tuple[Handler, Handler]:
    """The list handler (one page of rows, shaped by `present`; rows as they are without it) and the
    count handler (all rows) of a listing."""

    async def list_rows(request: Request, scope: Scope) -> Response:
        page = p.page(request.query_params)
        rows, echo = await build(request, scope)
        chosen = rows[page.offset: page.offset + page.limit] if isinstance(rows, list) else await page.apply(rows)
        data = chosen if present is None else await present(scope, chosen, echo)
        return ok(data, {**echo, **page.params()})

    async def count_rows(request: Request, scope: Scope) -> Response:
        page = p.page(request.query_params)
        rows, echo = await build(request, scope)
        return ok(s.count(len(rows) if isinstance(rows, list) else await rows.count()), {**echo, **page.params()})

    return list_rows, count_rows
