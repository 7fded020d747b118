"""`python -m stack._reaper STATE_DIR OWNER_PID OWNER_START`: down the deployment when its owner dies.

So a test run that is killed (SIGKILL, OOM, a closed terminal) leaves no servers behind.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from stack._layout import Layout
from stack._process import ProcRef, is_running, python_env, spawn
from stack._statefile import load
from stack._teardown import down

POLL_S = 0.5


def start(layout: Layout, owner: ProcRef) -> ProcRef:
    argv = [sys.executable, "-m", "stack._reaper", str(layout.root), str(owner.pid), str(owner.start)]
    return spawn(argv, log=layout.reaper_log, cwd=layout.root, env=python_env())


def _superseded(layout: Layout) -> bool:
    """True once the deployment is gone or is watched by another reaper."""
    if not layout.marker.exists():
        return True
    record = load(layout.state_json)
    mine = record.processes.get("reaper") if record else None
    return mine is not None and mine.pid != os.getpid()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s reaper: %(message)s")
    root, owner = Path(argv[0]), ProcRef(pid=int(argv[1]), start=int(argv[2]))
    layout = Layout(root)
    # Bounded by the owner's lifetime: the loop ends when the owner or the deployment does.
    while is_running(owner):
        if _superseded(layout):
            return 0
        time.sleep(POLL_S)
    if _superseded(layout):
        return 0
    logging.info("owner %d is gone; tearing down %s", owner.pid, root)
    down(layout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
