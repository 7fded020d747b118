"""`python -m stack.dns <dns.json>`: serve the zone until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from stack.dns._server import serve


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stack.dns DNS_JSON", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
