"""`python -m stack.edge <edge.json>`: serve the edge until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from stack.edge._app import EdgeApp
from stack.edge._config import ConfigSource, EdgeConfig


def hypercorn_config(config: EdgeConfig) -> Config:
    hc = Config()
    hc.bind = [f"{config.listen_host}:{config.listen_port}"]
    hc.certfile = config.certfile
    hc.keyfile = config.keyfile
    hc.alpn_protocols = list(config.alpn)
    # Cloudflare answers `server: cloudflare`; the app sets it, so hypercorn must not add its own.
    hc.include_server_header = False
    hc.accesslog = "-"
    hc.errorlog = "-"
    hc.graceful_timeout = 2.0
    return hc


async def run(path: Path) -> None:
    source = ConfigSource(path)
    config = source.current()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # Per-request timeouts come from edge.json; this default only guards anything that forgets one.
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False, follow_redirects=False) as client:
        await serve(
            EdgeApp(source, client),  # type: ignore[arg-type]  # plain ASGI 3 callable
            hypercorn_config(config),
            shutdown_trigger=stopping.wait,
        )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stack.edge EDGE_JSON", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # hypercorn's access log already has one line per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(run(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
