"""Schematic- and Segment-compatible REST routes."""

from starlette.routing import BaseRoute


def rest_routes() -> list[BaseRoute]:
    return []
