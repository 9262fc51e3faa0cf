"""Running the app under uvicorn in a thread of this process (demo, tests)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from jobledger.adapters.http.app import create_app
from jobledger.adapters.http.services import Services
from jobledger.domain.errors import ConfigurationError


def bound_url(server: uvicorn.Server) -> str:
    """The address a started server listens on (its port was perhaps 0: any free one)."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


def serving(
    services: Services, host: str = "127.0.0.1", port: int = 0
) -> contextlib.AbstractContextManager[str]:
    """Serve ``services`` until the block ends; yields the server's URL once it listens."""
    return running(create_app(services), host, port)


@contextlib.contextmanager
def running(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run any ASGI app until the block ends; yields its URL once it listens."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigurationError(f"the API server did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield bound_url(server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
