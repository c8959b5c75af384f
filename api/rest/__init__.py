"""Schematic- and Segment-compatible REST routes."""

from starlette.routing import BaseRoute


def rest_routes() -> list[BaseRoute]:
    from api.rest import catalog, checks, companies, entitlements, users
    from api.rest.capture import capture_routes
    from api.rest.events import event_routes
    from api.rest.segment import segment_routes

    return [
        *checks.routes,
        *capture_routes(),
        *event_routes(),
        *segment_routes(),
        *companies.routes,
        *users.routes,
        *catalog.routes,
        *entitlements.routes,
    ]
