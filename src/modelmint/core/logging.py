"""Logging setup: every line carries the current request id (from a context variable)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # these log whole bodies or streamed answers at DEBUG: never in our logs (PII)
    for chatty in ("sse_starlette", "httpx", "httpcore", "aiohttp.client"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
