"""Holds a lock on one of Synapse's tables that lets it be read but not written.

Run as `python -m stack._lock_holder STATE_DIR [TABLE]` by the `background-update-running` fault
(the default table, background_updates) and the `event-processing-stalled` one (the federation
sender's position, federation_stream_position). Synapse's
updater reads its queue and starts on the update at its head, then waits on its first write of the
table (its progress, or the update's end): the update stays running for as long as the lock is
held, as a long background update after an upgrade does. Nothing else Synapse does writes that
table, so every other request is served as usual. The lock goes with the connection: stopping this
process (or PostgreSQL) releases it.
"""

from __future__ import annotations

import select
import signal
import sys
from pathlib import Path

import psycopg2

from stack._postgres import credentials

APPLICATION = "synthetics-lock-holder"
# Blocks INSERT, UPDATE and DELETE (ROW EXCLUSIVE), not SELECT (ACCESS SHARE).
LOCK = "LOCK TABLE background_updates IN EXCLUSIVE MODE"
# The tables a fault may lock (never a name from outside this set into SQL).
LOCKS = {
    "background_updates": LOCK,
    "federation_stream_position": "LOCK TABLE federation_stream_position IN EXCLUSIVE MODE",
}


def ready_file(state_dir: Path, table: str = "background_updates") -> Path:
    """The file the holder writes once it holds the lock on `table`."""
    return state_dir / ("lock-holder.ready" if table == "background_updates" else f"lock-holder.{table}.ready")


def main(state_dir: Path, table: str = "background_updates") -> int:
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    connection = psycopg2.connect(
        application_name=APPLICATION, connect_timeout=5, **credentials(state_dir / "secrets" / "pgpass")
    )
    with connection.cursor() as cursor:
        cursor.execute(LOCKS[table])  # in the transaction psycopg2 opened, left open
    ready_file(state_dir, table).write_text("locked\n")
    try:
        while not stopping:
            # The server says something only when it ends the connection (PostgreSQL stopped).
            readable, _, _ = select.select([connection.fileno()], [], [], 0.5)
            if readable:
                connection.poll()
    except (psycopg2.Error, OSError, ValueError):
        return 1
    finally:
        try:
            connection.rollback()
            connection.close()
        except psycopg2.Error:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), *sys.argv[2:3]))
