"""Holds idle client connections open to Synapse, each one a descriptor Synapse keeps, until stopped.

Run as `python -m stack._fd_holder STATE_DIR PORT COUNT` by the `synapse-fds-near-limit` fault: as
idle clients (or a leak of connections) do, they raise the descriptors Synapse has open, so that a
limit just above its use leaves it the share of spare descriptors a busy server would have.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

READY = "fd-holder.ready"


def main(state_dir: Path, port: int, count: int) -> int:
    held = []
    for _ in range(count):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError as error:
            print(f"fd holder: {error}", file=sys.stderr)
            return 1
    (state_dir / READY).write_text(f"{len(held)}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
