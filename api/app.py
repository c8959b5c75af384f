"""The ASGI application."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp
from tortoise import Tortoise
from tortoise.contrib.starlette import RegisterTortoise

from api.http import JSONResponse, domain_error_response, error_response
from api.logging import configure_logging
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.rest.checks import CheckFastPath
from domain.cache.changes import ChangeFeedPoller
from domain.checks.service import recorder as check_recorder
from domain.checks.service import run_recorder
from domain.db import tortoise_config
from domain.errors import DomainError
from domain.metering.retention import run_pruning
from domain.settings import Settings, get_settings

log = structlog.get_logger(__name__)
# Names of the background tasks every process runs (asserted by tests that count SQL).
BACKGROUND_TASKS = ("flag-check-recorder", "idempotency-key-pruning", "change-feed-poller")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception as exc:
        log.warning("readiness check failed", error=str(exc))
        return JSONResponse({"status": "unavailable", "error": "database unreachable"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return domain_error_response(exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return error_response(500, "Server error")


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response(404, f"no route {request.method} {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response(405, f"method {request.method} not allowed on {request.url.path}")


def routes(settings: Settings) -> list[BaseRoute]:
    from api.graphql.app import graphql_routes
    from api.rest import rest_routes

    # REST first: flag checks are the hot path and Starlette matches routes in order.
    return [
        *rest_routes(),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *graphql_routes(settings),
    ]


def create_app(settings: Settings | None = None, *, generate_schemas: bool = False) -> ASGIApp:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json, settings.access_log)
    poller = ChangeFeedPoller(settings.cache_poll_interval)

    @contextlib.asynccontextmanager
    async def background() -> AsyncIterator[None]:
        poller.start()
        tasks = [
            asyncio.create_task(run_recorder(), name="flag-check-recorder"),
            asyncio.create_task(run_pruning(), name="idempotency-key-pruning"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await poller.stop()
            await check_recorder.flush()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if Tortoise._inited:  # tests initialise the ORM themselves
            async with background():
                yield
            return
        config = tortoise_config(settings.database_url)
        async with RegisterTortoise(app, config=config, generate_schemas=generate_schemas), background():
            freeze_startup_objects()
            yield

    app = Starlette(
        routes=routes(settings),
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes),
        ],
        exception_handlers={
            DomainError: _domain_error,
            Exception: _server_error,
            404: _not_found,
            405: _method_not_allowed,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.poller = poller
    # Flag checks, the hot path, are answered before Starlette's stack (see api/rest/checks.py).
    return CheckFastPath(app, limit=settings.max_body_bytes)


def freeze_startup_objects() -> None:
    """Take what startup loaded (modules, GraphQL schema, ORM metadata) out of the garbage collector's
    view. Otherwise every full collection walks it again while requests allocate: measured at ~30 % of
    a worker's CPU under ingestion load (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def app_factory() -> ASGIApp:
    """Entry point for uvicorn (`--factory api.app:app_factory`)."""
    return create_app()
