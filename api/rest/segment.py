"""Segment HTTP tracking API (product model §6.2): `POST /v1/batch`, `/v1/track`, `/v1/identify`,
`/v1/group`. Authenticated by a Segment write key (HTTP Basic user name; the body's `writeKey` is the
fallback); gzip bodies are inflated by the body-limit middleware; `messageId` is the idempotency key.
Answers `{"success": true}`. The mapping lives in `domain.metering.segment`."""

import base64
import binascii
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.http import JSONResponse
from api.rest.capture import submit
from domain.environments.service import authenticator
from domain.errors import InvalidInput, Unauthenticated
from domain.metering.segment import SegmentMapping, to_event

MAX_MESSAGES = 2_000


def _basic_user(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed Basic authorization header") from None
    return decoded.split(":", 1)[0] or None


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


async def _ingest(request: Request, messages: list[Any], body: dict[str, Any]) -> Response:
    key = _basic_user(request) or body.get("writeKey")
    if not isinstance(key, str) or not key:
        raise Unauthenticated("missing write key: send it as the HTTP Basic user name")
    entry = await authenticator.lookup(key)
    if entry.kind != "segment":
        raise Unauthenticated("not a Segment write key; create one with `plangate keys create --type segment`")
    mapping = SegmentMapping.from_settings(entry.settings)
    events = [event for event in (to_event(entry.scope, mapping, m) for m in messages) if event is not None]
    if events:
        await submit(events)
    return JSONResponse({"success": True})


async def segment_batch(request: Request) -> Response:
    body = await _json(request)
    messages = body.get("batch")
    if not isinstance(messages, list):
        raise InvalidInput('send {"batch": [...]}', field="batch")
    if len(messages) > MAX_MESSAGES:
        raise InvalidInput(f"batch too large: at most {MAX_MESSAGES} messages", field="batch")
    return await _ingest(request, messages, body)


def _single(kind: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        body = await _json(request)
        message = {**body, "type": kind}
        return await _ingest(request, [message], body)

    handler.__name__ = f"segment_{kind}"
    return handler


def segment_routes() -> list[BaseRoute]:
    return [
        Route("/v1/batch", segment_batch, methods=["POST"]),
        *(Route(f"/v1/{kind}", _single(kind), methods=["POST"]) for kind in ("track", "identify", "group")),
    ]
