"""Schematic REST events: `POST /events` and `POST /event-batch` (field `event_type`), answered in the
{"data": ..., "params": ...} envelope with `RawEventResponseData` per event (plus `status`, `error`,
`idempotency_key`)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.http import JSONResponse, authenticate, json_object
from api.rest.capture import MAX_BATCH, batch_too_large, submit
from domain.errors import InvalidInput
from domain.metering.ingest import EventResult, IncomingEvent
from domain.scope import Scope
from domain.timeutil import isoformat, utcnow

_ENVELOPE_FIELDS = ("event_type", "body", "idempotency_key", "sent_at", "trusted_client_clock", "backfill")


def _incoming(scope: Scope, raw: object) -> IncomingEvent:
    if not isinstance(raw, dict):
        return IncomingEvent(scope, None, {"event": raw}, source="rest")
    return IncomingEvent(
        scope, raw.get("event_type"), raw.get("body"), raw.get("idempotency_key"), raw.get("sent_at"),
        raw.get("trusted_client_clock"), raw.get("backfill"), "rest",
    )


def _response_data(request: Request, result: EventResult) -> dict[str, Any]:
    client = request.client
    data: dict[str, Any] = {
        "captured_at": isoformat(result.captured_at or utcnow()),
        "remote_ip": client.host if client else "",
        "remote_addr": f"{client.host}:{client.port}" if client else None,
        "user_agent": request.headers.get("user-agent", ""),
        **result.as_dict(),
    }
    return data


async def create_event(request: Request) -> Response:
    scope = await authenticate(request)
    body = await json_object(request)
    if body.get("event_type") is None:
        raise InvalidInput("event_type is required (identify or track)", field="event_type")
    [result] = await submit([_incoming(scope, body)])
    params = {k: body[k] for k in _ENVELOPE_FIELDS if k in body and k != "body"}
    return JSONResponse({"data": _response_data(request, result), "params": params}, status_code=201)


async def create_event_batch(request: Request) -> Response:
    scope = await authenticate(request)
    body = await json_object(request)
    events = body.get("events")
    if not isinstance(events, list):
        raise InvalidInput('send {"events": [...]}', field="events")
    if len(events) > MAX_BATCH:
        return batch_too_large()
    results = await submit([_incoming(scope, raw) for raw in events]) if events else []
    data = {"events": [_response_data(request, r) for r in results]}
    return JSONResponse({"data": data, "params": {}}, status_code=201)


def event_routes() -> list[BaseRoute]:
    return [
        Route("/events", create_event, methods=["POST"]),
        Route("/event-batch", create_event_batch, methods=["POST"]),
    ]
