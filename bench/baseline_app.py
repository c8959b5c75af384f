"""The baseline for HTTP benchmarks: a bare Starlette route returning a constant JSON body.

The body is the environment variable PLANGATE_BASELINE_BODY when set (the benchmark puts a real check
response there, so both servers send the same bytes), else a short check-shaped response."""

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    b'{"data":{"flag":"api-calls","value":true,"reason":"Matched plan entitlement rule","flag_id":null,'
    b'"rule_id":null,"rule_type":"plan_entitlement","company_id":null,"user_id":null,"entitlement":null},'
    b'"params":{}}'
)
BODY = os.environ.get("PLANGATE_BASELINE_BODY", "").encode() or BODY


async def constant(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/flags/{key}/check", constant, methods=["POST"])])
