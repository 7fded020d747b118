"""Saturates Synapse's own database connection pool (its `cp_max`) with slow queries, until stopped.

Run as `python -m stack._pool_saturator STATE_DIR SYNAPSE_PORT` by the `db-pool-saturated` fault.
A table only the admin API's list of registration tokens reads (`registration_tokens`) is locked
against reads for LOCK_S at a time, released for a moment, and locked again; meanwhile twice as
many such lists as Synapse has connections are kept in flight. Each holds one of Synapse's pooled
connections while its query waits on the lock, so every other transaction waits for a connection,
as when a real pool is taken by slow queries: the server stays up and answers, slowly. The suite's
own probes never read that table, so what they see is the wait for a connection, not the lock.
Stopping the process releases everything.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg2

from stack._postgres import credentials

APPLICATION = "synthetics-pool-saturator"
LOCK = "LOCK TABLE registration_tokens IN ACCESS EXCLUSIVE MODE"
# How long each slow query waits, and the gap in which the waiting ones finish and new ones queue.
LOCK_S = 1.0
GAP_S = 0.01
POOL_SIZE = 5  # Synapse's cp_max in the reference homeserver.yaml
WORKERS = 2 * POOL_SIZE
REQUEST_TIMEOUT_S = 10.0


def _lookups(port: int, token: str, stopping: threading.Event) -> None:
    # The admin API's list of registration tokens: read from the table each time (nothing cached),
    # and not rate limited, as a profile lookup is.
    url = f"http://127.0.0.1:{port}/_synapse/admin/v1/registration_tokens"
    with httpx.Client(
        timeout=REQUEST_TIMEOUT_S, trust_env=False, headers={"authorization": f"Bearer {token}"}
    ) as client:
        while not stopping.is_set():
            try:
                client.get(url)
            except httpx.HTTPError:
                stopping.wait(0.2)


def main(state_dir: Path, port: int) -> int:
    stopping = threading.Event()
    token = (state_dir / "secrets" / "admin-token").read_text().strip()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    connection = psycopg2.connect(
        application_name=APPLICATION,
        connect_timeout=5,
        # Every wait for the lock is bounded too: a lock that cannot be had ends the process.
        options="-c lock_timeout=5000",
        **credentials(state_dir / "secrets" / "pgpass"),
    )
    workers = [
        threading.Thread(target=_lookups, args=(port, token, stopping), name=f"lookup-{n}", daemon=True)
        for n in range(WORKERS)
    ]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LOCK)
        for worker in workers:
            worker.start()
        (state_dir / "pool-saturator.ready").write_text("saturating\n")
        while not stopping.is_set():
            stopping.wait(LOCK_S)
            connection.rollback()  # the lock goes: the waiting lookups finish, new ones queue
            time.sleep(GAP_S)
            if stopping.is_set():
                break
            with connection.cursor() as cursor:
                cursor.execute(LOCK)
    except (psycopg2.Error, OSError) as error:
        print(f"pool saturator: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        stopping.set()
        try:
            connection.rollback()
            connection.close()
        except psycopg2.Error:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
