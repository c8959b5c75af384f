"""Per-request GraphQL context: the caller's scope and the request's DataLoaders."""

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from domain.scope import Scope

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BatchLoad = Callable[[Scope, Sequence[K]], Awaitable[Sequence[V]]]


class Context:
    def __init__(self, request: Request, scope: Scope) -> None:
        self.request = request
        self.scope = scope
        self._loaders: dict[object, DataLoader[Any, Any]] = {}

    def loader(self, load: BatchLoad[K, V]) -> DataLoader[K, V]:
        """The request's DataLoader for `load(scope, keys)`, created on first use. Batch functions are
        module-level, so each area declares its own without a central registry."""
        existing = self._loaders.get(load)
        if existing is None:
            scope = self.scope

            async def batch(keys: list[K]) -> Sequence[V]:
                return await load(scope, keys)

            existing = DataLoader(load_fn=batch)
            self._loaders[load] = existing
        return existing


Info = StrawberryInfo[Context, None]
