"""structlog configured so that our logs, uvicorn and Tortoise all print the same JSON lines,
each carrying the request id bound for the current request."""

import logging
import sys

import structlog


def configure_logging(level: str = "info", json: bool = True, access_log: bool = False) -> None:
    from api.middleware import add_request_id

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # uvicorn writes an access line only when its access logger has handlers; a line per request costs
    # about a fifth of a flag check, so it is opt-in. Failed requests are logged by our middleware anyway.
    logging.getLogger("uvicorn.access").propagate = access_log
    # Strawberry logs every execution error with the full query; our error handling logs what matters.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    logging.getLogger("tortoise").setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
