"""Test helpers: a fake-engine pool, and a real uvicorn server on a free port in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from modelmint.runtime.fake import FakeEngine
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec, Registry


def fake_pool(
    token_delay: float = 0.0, parallel: int = 4, max_queue: int = 16, context_length: int = 256
) -> ModelPool:
    registry = Registry(
        [
            ModelSpec(
                name="fake-chat",
                aliases=["default"],
                engine="fake",
                context_length=context_length,
                parallel=parallel,
            ),
            ModelSpec(
                name="fake-embed",
                aliases=["embed", "text-embedding-default"],
                engine="fake",
                context_length=512,
            ),
        ]
    )
    return ModelPool(
        registry,
        {
            "fake-chat": FakeEngine(
                context_length=context_length,
                parallel=parallel,
                max_queue=max_queue,
                token_delay=token_delay,
            ),
            "fake-embed": FakeEngine(context_length=512),
        },
    )


@contextmanager
def running_server(app, startup_timeout: float = 180.0) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 and a free port; yield the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
