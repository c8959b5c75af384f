"""Flag checks, byte-compatible with Schematic: POST /flags/{key}/check, /flags/check, /flags/check-bulk."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.http import json_object
from api.rest.envelope import endpoint, ok
from domain.checks import service
from domain.checks.inputs import parse_keys, parse_preflight, require_context
from domain.errors import InvalidInput
from domain.scope import Scope


def _subject(body: dict[str, Any]) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    company = parse_keys(body.get("company"), "company")
    user = parse_keys(body.get("user"), "user")
    require_context(company, user)
    return company, user


async def check_flag(request: Request, scope: Scope) -> Response:
    body = await json_object(request)
    company, user = _subject(body)
    preflight = parse_preflight(body.get("preflight"))
    result = await service.check_flag(scope, request.path_params["key"], company, user, preflight)
    return ok(result.to_wire())


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
