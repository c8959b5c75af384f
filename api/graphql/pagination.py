"""Cursor connections with keyset pagination on ULID ids (newest first). Cursors are opaque."""

import base64
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry
from tortoise.queryset import QuerySet

from domain.errors import InvalidInput
from domain.settings import get_settings

N = TypeVar("N")
M = TypeVar("M")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[N]):
    cursor: str
    node: N


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo
    _count_query: strawberry.Private[QuerySet | None] = None

    @strawberry.field(description="Number of items matching the filters (one extra query).")
    async def total_count(self) -> int:
        return await self._count_query.count() if self._count_query is not None else len(self.edges)

    @strawberry.field
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("after is not a cursor returned by this API", field="after") from None


async def paginate(query: QuerySet, first: int | None, after: str | None, to_node: Callable[[M], N]) -> Connection[N]:
    limit = get_settings().page_size_max
    first = limit if first is None else first
    if first < 0 or first > limit:
        raise InvalidInput(f"first must be between 0 and {limit}", field="first")
    page = query.order_by("-id")
    if after:
        page = page.filter(id__lt=decode_cursor(after))
    rows = await page.limit(first + 1)
    edges = [Edge(cursor=encode_cursor(row.id), node=to_node(row)) for row in rows[:first]]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
        _count_query=query,
    )
