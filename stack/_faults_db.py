"""Faults of the database layer: PostgreSQL stopped, and every connection slot taken (Synapse's reconnects refused)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import httpx

from stack import _postgres
from stack._errors import StackError
from stack._fault_types import Controls, Fault, start_helper
from stack._process import is_running, stop, wait_until
from stack._synapse import SERVER_NAME

HOLDER = "slot-holder"
READY_S = 15.0
RECOVERY_S = 30.0
POOL_SIZE = 5  # Synapse's cp_max in the reference homeserver.yaml


def database_answers(controls: Controls) -> bool:
    """True when Synapse's database answers: a room-alias lookup gives 404 (500 when it fails)."""
    url = f"http://127.0.0.1:{controls.record.ports['synapse']}/_matrix/client/v3/directory/room/%23probe:{SERVER_NAME}"
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 404
    except httpx.HTTPError:
        return False


def _wait_for_database(controls: Controls, *, healthy: bool) -> None:
    # Concurrent rounds, so every pooled connection is used: one cut by the fault fails only when it
    # is next used, and a sequence of requests may well be served by the same connection each time.
    def settled() -> bool:
        with ThreadPoolExecutor(max_workers=POOL_SIZE * 2) as pool:
            answers = list(pool.map(lambda _: database_answers(controls), range(POOL_SIZE * 2)))
        return all(answer is healthy for answer in answers)

    def settled_twice() -> bool:
        return settled() and settled()

    if not wait_until(settled_twice, timeout_s=RECOVERY_S, interval_s=0.2):
        state = "answer again" if healthy else "fail"
        raise StackError(f"Synapse's database-backed endpoints did not {state} within {RECOVERY_S:.0f} s")


def stop_postgres(controls: Controls) -> None:
    record = controls.record
    if "postgres" not in record.stopped:
        record.stopped.append("postgres")
    controls.save()
    # pg_ctl's fast mode: a plain SIGTERM would wait for Synapse's connections to end on their own.
    _postgres.stop_cluster(controls.layout, record.processes.get("postgres"))


def start_postgres(controls: Controls) -> None:
    record = controls.record
    if not is_running(record.processes.get("postgres")):
        record.processes["postgres"] = _postgres.start_cluster(controls.layout)
    if "postgres" in record.stopped:
        record.stopped.remove("postgres")
    controls.save()
    _wait_for_database(controls, healthy=True)


def hold_slots(controls: Controls, *, spare_only: bool = False) -> None:
    """Every connection slot Synapse's role may use taken (see stack/_slot_holder.py): Synapse's own
    connections cut first, or, `spare_only`, left to it with no more to be had."""
    if is_running(controls.record.processes.get(HOLDER)):
        return
    argv = [sys.executable, "-m", "stack._slot_holder", str(controls.layout.root)]
    start_helper(controls, HOLDER, [*argv, *(["--spare-only"] if spare_only else [])], f"{HOLDER}.ready")


def release_slots(controls: Controls) -> None:
    record = controls.record
    stop(record.processes.pop(HOLDER, None), grace_s=5)
    controls.save()
    (controls.layout.root / "slot-holder.ready").unlink(missing_ok=True)


def _refuse_connections(controls: Controls) -> None:
    hold_slots(controls)
    _wait_for_database(controls, healthy=False)


def _accept_connections(controls: Controls) -> None:
    release_slots(controls)
    _wait_for_database(controls, healthy=True)


FAULTS: tuple[Fault, ...] = (
    Fault(
        name="db-down",
        failure_mode="database-errors",
        summary="PostgreSQL is stopped; Synapse answers 500 on database-backed endpoints",
        inject=stop_postgres,
        heal=start_postgres,
    ),
    Fault(
        name="db-connections-refused",
        failure_mode="database-errors",
        summary="every PostgreSQL connection slot Synapse may use is taken; its reconnects are refused",
        inject=_refuse_connections,
        heal=_accept_connections,
    ),
)
