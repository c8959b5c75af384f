"""/graphql over HTTP: GraphiQL for browsers, API-key authentication for operations."""

from typing import Any

import structlog
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.graphql.context import Context
from api.graphql.schema import schema
from api.http import authenticate, domain_error_response
from domain.errors import DomainError
from domain.settings import Settings

log = structlog.get_logger(__name__)


def _format_error(error: GraphQLError) -> dict[str, Any]:
    formatted = error.formatted
    original = error.original_error
    extensions = dict(formatted.get("extensions") or {})
    if isinstance(original, DomainError):
        extensions["code"] = original.code
    elif isinstance(original, GraphQLError | ValueError) and not extensions.get("code"):
        # Input coercion (e.g. a naive DateTime variable): the message says what was wrong.
        extensions["code"] = "INVALID_INPUT"
    elif original is not None and not extensions.get("code"):
        log.error("graphql resolver failed", path=error.path, exc_info=original)
        formatted["message"] = "Server error"
        extensions["code"] = "INTERNAL"
    elif not extensions.get("code"):
        extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
    formatted["extensions"] = extensions
    return formatted


class PlangateGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Request, response: Any = None) -> Context:  # type: ignore[override]
        return Context(request=request, scope=request.scope["plangate_scope"])

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:  # type: ignore[override]
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            data["errors"] = [_format_error(error) for error in result.errors]
        return data


class AuthenticatedGraphQL:
    """Authenticates the API key before Strawberry runs; the GraphiQL page itself needs no key."""

    def __init__(self, graphql: PlangateGraphQL, graphiql: bool) -> None:
        self.graphql = graphql
        self.graphiql = graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        wants_page = (
            request.method == "GET" and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )
        if wants_page:
            if not self.graphiql:
                await Response("GraphiQL is disabled", status_code=404)(scope, receive, send)
                return
            await self.graphql(scope, receive, send)
            return
        try:
            scope["plangate_scope"] = await authenticate(request)
        except DomainError as exc:
            await domain_error_response(exc)(scope, receive, send)
            return
        await self.graphql(scope, receive, send)


def graphql_routes(settings: Settings) -> list[BaseRoute]:
    graphql = PlangateGraphQL(schema, graphql_ide="graphiql" if settings.graphiql else None)
    endpoint = AuthenticatedGraphQL(graphql, settings.graphiql)
    return [Route("/graphql", endpoint, methods=["GET", "POST"])]
