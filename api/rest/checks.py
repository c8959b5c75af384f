"""Flag checks, byte-compatible with Schematic: POST /flags/{key}/check, /flags/check, /flags/check-bulk.

`POST /flags/{key}/check` is the hot path. `CheckFastPath` serves it as plain ASGI, ahead of Starlette's
routing and request objects; it shares `check_one` with the Starlette route, which still serves what the
fast path passes on (gzip bodies)."""

import time
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from api.http import json_object, key_from_headers, parse_json_object
from api.middleware import BadEncoding, BodyTooLarge, log_request, read_body, request_id_for, request_id_var
from api.rest.envelope import endpoint, ok
from domain.checks import service
from domain.checks.inputs import parse_keys, parse_preflight, require_context
from domain.environments.service import authenticator
from domain.errors import DomainError, InvalidInput
from domain.scope import Scope

log = structlog.get_logger(__name__)
CHECKER_KINDS = ("secret", "publishable")


def _subject(body: dict[str, Any]) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    company = parse_keys(body.get("company"), "company")
    user = parse_keys(body.get("user"), "user")
    require_context(company, user)
    return company, user


async def check_one(scope: Scope, flag_key: str, body: dict[str, Any]) -> dict[str, Any]:
    company, user = _subject(body)
    preflight = parse_preflight(body.get("preflight"))
    return (await service.check_flag(scope, flag_key, company, user, preflight)).to_wire()


async def check_flag(request: Request, scope: Scope) -> Response:
    return ok(await check_one(scope, request.path_params["key"], await json_object(request)))


def _flags_payload(results: list[service.CheckResult]) -> dict[str, Any]:
    return {"flags": [r.to_wire() for r in results], "credit_spend_policies": []}


async def check_flags(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    company, user = _subject(body)
    preflight = parse_preflight(body.get("preflight"))
    return ok(_flags_payload(await service.check_flags(scope, company, user, preflight)))


async def check_bulk(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    contexts = body.get("contexts")
    if not isinstance(contexts, list):
        raise InvalidInput("contexts must be a list of {company, user, preflight} objects", field="contexts")
    if len(contexts) > 100:
        raise InvalidInput("at most 100 contexts per request", field="contexts")
    results = []
    for index, context in enumerate(contexts):
        if not isinstance(context, dict):
            raise InvalidInput(f"contexts[{index}] must be an object", field="contexts")
        company, user = _subject(context)
        preflight = parse_preflight(context.get("preflight"))
        results.append(_flags_payload(await service.check_flags(scope, company, user, preflight)))
    return ok({"data": results})


routes = [
    Route("/flags/check", endpoint(check_flags), methods=["POST"]),
    Route("/flags/check-bulk", endpoint(check_bulk), methods=["POST"]),
    Route("/flags/{key}/check", endpoint(check_flag), methods=["POST"]),
]


def _flag_key(scope: AsgiScope) -> str | None:
    """The flag key when this is `POST /flags/{key}/check` with a plain body, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not (path.startswith("/flags/") and path.endswith("/check")):
        return None
    key = path[7:-6]
    if not key or "/" in key or key in ("check", "check-bulk"):
        return None
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            return None
    return key


class CheckFastPath:
    """The outermost ASGI layer: serves single flag checks itself, passes everything else to `app`."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        flag_key = _flag_key(scope)
        if flag_key is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_for(scope)
        token = request_id_var.set(request_id)
        status = 200
        try:
            body = await read_body(receive, self.limit, gzip_encoded=False)
            caller = await authenticator.authenticate(key_from_headers(scope["headers"]), kinds=CHECKER_KINDS)
            payload: dict[str, Any] = {"data": await check_one(caller, flag_key, parse_json_object(body)),
                                       "params": {}}
        except BodyTooLarge:
            status, payload = 413, {"error": "request body too large"}
        except BadEncoding as exc:
            status, payload = 400, {"error": str(exc)}
        except DomainError as exc:
            status, payload = exc.status, {"error": exc.message, "code": exc.code}
        except Exception:
            log.error("flag check failed", path=scope["path"], exc_info=True)
            status, payload = 500, {"error": "Server error"}
        content = orjson.dumps(payload, option=orjson.OPT_UTC_Z)
        try:
            await send({
                "type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
                            (b"x-request-id", request_id.encode())],
            })
            await send({"type": "http.response.body", "body": content})
        finally:
            log_request(scope, status, started)
            request_id_var.reset(token)
