"""Takes every PostgreSQL connection slot Synapse's role may use, and holds them until stopped.

Run as `python -m stack._slot_holder STATE_DIR` by the `db-connections-refused` fault. It connects
as Synapse's own role (a role may terminate its own backends), so Synapse's open connections are cut
and its reconnects meet "too many clients" or "remaining connection slots are reserved", as when the
database's connection limit is reached. With `--spare-only` (the `db-pool-exhausted` fault) it takes
only the slots nobody uses and cuts nothing: Synapse keeps the connections it has, and gets no more.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import psycopg2

from stack._postgres import credentials

APPLICATION = "synthetics-slot-holder"
# Bounds: how long to keep taking slots freed by Synapse's reconnects, and how many to hold at most.
SETTLE_S = 3.0
MAX_SLOTS = 200


def _connect(credentials: dict[str, Any]) -> Any | None:
    try:
        return psycopg2.connect(application_name=APPLICATION, connect_timeout=2, **credentials)
    except psycopg2.OperationalError:
        return None


def _terminate_others(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE usename = current_user AND application_name <> %s AND pid <> pg_backend_pid()",
            (APPLICATION,),
        )
        row = cursor.fetchone()
    connection.commit()
    return int(row[0]) if row else 0


def main(state_dir: Path, *, cut: bool = True) -> int:
    keys = credentials(state_dir / "secrets" / "pgpass")
    held: list[Any] = []
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and len(held) < MAX_SLOTS:
        connection = _connect(keys)
        if connection is not None:
            held.append(connection)
            continue
        if not cut:
            break  # full: every slot left is taken, Synapse's own untouched
        # Full: cut Synapse's connections so that it must reconnect, then take what they freed.
        if held and _terminate_others(held[0]) == 0 and time.monotonic() > deadline - SETTLE_S / 2:
            break
        time.sleep(0.05)
    if not held:
        print("could not take a single connection slot", file=sys.stderr)
        return 1
    (state_dir / "slot-holder.ready").write_text(f"{len(held)}\n")
    print(f"holding {len(held)} connection slots", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), cut="--spare-only" not in sys.argv[2:]))
