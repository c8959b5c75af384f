"""Pure ASGI middleware: request ids bound into every log line, and a cap on request body size
(after gunzip, so a gzip bomb is refused as well)."""

import contextvars
import itertools
import logging
import os
import time
import zlib

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("plangate.access")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
BODY_SCOPE_KEY = "plangate.body"


def add_request_id(logger: object, method: str, event: dict) -> dict:
    """structlog processor: every log line of a request carries its id."""
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(scope, status, started)
            request_id_var.reset(token)


_access_log = logging.getLogger("plangate.access")
# Request ids: a random per-process prefix and a counter. Unique without a syscall per request.
_ID_PREFIX = os.urandom(11).hex()
_ids = itertools.count(1)


def request_id_for(scope: Scope) -> str:
    """The caller's X-Request-Id, or a new one."""
    return _header(scope, b"x-request-id") or f"{_ID_PREFIX}{next(_ids):010x}"


def log_request(scope: Scope, status: int, started: float) -> None:
    """Failed requests are always logged (with the request id bound by the caller); others at debug level."""
    if status >= 400 or _access_log.isEnabledFor(logging.DEBUG):
        log.info(
            "request", method=scope["method"], path=scope["path"], status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class BodyTooLarge(Exception):
    pass


class BadEncoding(Exception):
    pass


async def read_body(receive: Receive, limit: int, gzip_encoded: bool) -> bytes:
    """Read a request body, refusing more than `limit` bytes before or after decompression."""
    chunks: list[bytes] = []
    size = 0
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip_encoded else None
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        data = message.get("body", b"")
        if inflater is not None and data:
            try:
                data = inflater.decompress(data, limit - size + 1)
            except zlib.error as exc:
                raise BadEncoding(f"body is not valid gzip: {exc}") from None
            if inflater.unconsumed_tail:
                raise BodyTooLarge
        size += len(data)
        if size > limit:
            raise BodyTooLarge
        chunks.append(data)
        if not message.get("more_body", False):
            break
    if inflater is not None and not inflater.eof and size == 0:
        raise BadEncoding("body is not valid gzip")
    return b"".join(chunks)


class BodyLimitMiddleware:
    """Buffers the body (gunzipping `Content-Encoding: gzip`) and replays it to the app, so every
    route sees a bounded, plain body. Oversized bodies get 413 before any route runs."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            await _reject(send, 413, b'{"error": "request body too large"}')
            return
        encoding = (_header(scope, b"content-encoding") or "").lower()
        if encoding not in ("", "identity", "gzip"):
            await _reject(send, 415, b'{"error": "unsupported Content-Encoding; send identity or gzip"}')
            return
        try:
            body = await read_body(receive, self.limit, encoding == "gzip")
        except BodyTooLarge:
            await _reject(send, 413, b'{"error": "request body too large"}')
            return
        except BadEncoding as exc:
            await _reject(send, 400, orjson.dumps({"error": str(exc)}))
            return
        scope[BODY_SCOPE_KEY] = body
        if encoding == "gzip":
            scope = dict(scope)
            dropped = (b"content-encoding", b"content-length")
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in dropped]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _reject(send: Send, status: int, body: bytes) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
