"""Faults that Synapse's own metrics show first: its connection pool saturated by slow queries (with
the database's other connection slots taken too, or not), an event processor stalled on a held
lock, its open-files limit lowered to just above its use, and its reactor blocked by a module's
synchronous calls.

Each is made as production makes it (queries that wait on a lock, a write that cannot happen) and
read back on the metrics listener before it counts as injected, as the checks read it; healing
stops what the fault started and waits until the metrics say so.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from stack._errors import StackError
from stack._fault_types import Controls, Fault, homeserver_config, restart_synapse_with, start_helper
from stack._faults_db import POOL_SIZE, _wait_for_database, hold_slots, release_slots
from stack._faults_synapse import _call
from stack._lock_holder import ready_file
from stack._process import is_running, stop, wait_until
from stack._users import CANARY_ROOM

POOL_FAULT = "db-pool-saturated"
EXHAUSTED_FAULT = "db-pool-exhausted"
PROCESSING_FAULT = "event-processing-stalled"
SATURATOR = "pool-saturator"
STALLER = "processing-lock-holder"
STALLED_TABLE = "federation_stream_position"
PROCESSOR = "federation_sender"
FD_FAULT = "synapse-fds-near-limit"
FD_HOLDER = "fd-holder"
# Idle connections held to Synapse (about 30 descriptors are open without them), and the descriptors
# left to it under its lowered limit: 85 % of the limit in use, with room for what a run opens (with
# only 6 spare, the run's own connections used them up and the metrics listener stopped answering).
FD_IDLE = 120
FD_SPARE = 25
READY_S = 15.0
SETTLE_S = 30.0


def _gauge(controls: Controls, family: str, name: str | None = None, *, sample: str | None = None) -> float | None:
    """A gauge of Synapse's metrics listener (the one labelled `name` when given), read directly; or
    the family's `sample` (a histogram's `_sum`)."""
    url = f"http://127.0.0.1:{controls.record.ports['metrics']}/_synapse/metrics"
    try:
        response = httpx.get(url, timeout=5.0, trust_env=False)
    except httpx.HTTPError as err:
        raise StackError(f"synapse's metrics listener: {type(err).__name__}: {err}") from err
    if response.status_code != 200:
        return None  # its exporter fails a scrape now and then (element-hq/synapse#18764): not yet read
    for found in text_string_to_metric_families(response.text):
        if found.name == family:
            for each in found.samples:
                if (name is None or each.labels.get("name") == name) and sample in (None, each.name):
                    return float(each.value)
    return None


def _settle(what: str, condition: Callable[[], bool]) -> None:
    if not wait_until(condition, timeout_s=SETTLE_S, interval_s=0.25):
        raise StackError(f"synapse: {what} within {SETTLE_S:.0f} s")


# -- db-pool-saturated -----------------------------------------------------------------------------


def _busy_connections(controls: Controls) -> float:
    return _gauge(controls, "synapse_threadpool_working_threads", "database-master") or 0.0


def _saturate(controls: Controls) -> None:
    if is_running(controls.record.processes.get(SATURATOR)):
        return
    argv = [
        sys.executable,
        "-m",
        "stack._pool_saturator",
        str(controls.layout.root),
        str(controls.record.ports["synapse"]),
    ]
    start_helper(controls, SATURATOR, argv, "pool-saturator.ready")
    _settle("its connection pool did not fill", lambda: _busy_connections(controls) >= POOL_SIZE)


def _drain(controls: Controls) -> None:
    stop(controls.record.processes.pop(SATURATOR, None), grace_s=5)
    controls.save()
    (controls.layout.root / "pool-saturator.ready").unlink(missing_ok=True)
    _settle("its connection pool did not drain", lambda: _busy_connections(controls) < POOL_SIZE)
    _wait_for_database(controls, healthy=True)


# -- db-pool-exhausted -----------------------------------------------------------------------------
# The pool saturated as above, and then every PostgreSQL slot nobody uses taken, Synapse's untouched:
# its connections stay busy with slow queries, and no more can be had to relieve them (raising
# cp_max would not help; a restart would not get its connections back).


def _exhaust(controls: Controls) -> None:
    _saturate(controls)
    hold_slots(controls, spare_only=True)


def _replenish(controls: Controls) -> None:
    release_slots(controls)
    _drain(controls)


# -- event-processing-stalled ----------------------------------------------------------------------


def _behind(controls: Controls) -> float:
    persisted = _gauge(controls, "synapse_event_persisted_position") or 0.0
    position = _gauge(controls, "synapse_event_processing_positions", PROCESSOR)
    return 0.0 if position is None else persisted - position


def _stall(controls: Controls) -> None:
    if _sender_position(controls) is None:
        # A Synapse that has sent no event since it started has no position to show yet: one event
        # first, processed while nothing is locked, so the stall shows as a position left behind.
        _send_event(controls)
        _settle(f"the {PROCESSOR} showed no position", lambda: _sender_position(controls) is not None)
    if not is_running(controls.record.processes.get(STALLER)):
        argv = [sys.executable, "-m", "stack._lock_holder", str(controls.layout.root), STALLED_TABLE]
        start_helper(controls, STALLER, argv, ready_file(controls.layout.root, STALLED_TABLE).name)
    # One event for the sender to process: it stores its new position, and waits there on the lock.
    _send_event(controls)
    _settle(f"the {PROCESSOR} did not fall behind", lambda: _behind(controls) > 0)


def _send_event(controls: Controls) -> None:
    alias = urllib.parse.quote(CANARY_ROOM, safe="")
    found = _call(controls, "GET", f"/_matrix/client/v3/directory/room/{alias}", as_user="canary")
    if found.status_code != 200:
        raise StackError(f"synapse: looking up {CANARY_ROOM} answered {found.status_code}")
    room = urllib.parse.quote(found.json()["room_id"], safe="")
    path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{secrets.token_hex(8)}"
    sent = _call(controls, "PUT", path, as_user="canary", body={"msgtype": "m.notice", "body": "synthetics: stall"})
    if sent.status_code != 200:
        raise StackError(f"synapse: sending into {CANARY_ROOM} answered {sent.status_code}")


def _sender_position(controls: Controls) -> float | None:
    return _gauge(controls, "synapse_event_processing_positions", PROCESSOR)


def _resume(controls: Controls) -> None:
    stop(controls.record.processes.pop(STALLER, None), grace_s=5)
    controls.save()
    ready_file(controls.layout.root, STALLED_TABLE).unlink(missing_ok=True)
    # Released, the sender stores its position and catches up with everything persisted meanwhile.
    _settle(f"the {PROCESSOR} did not catch up", lambda: _behind(controls) <= 0)


# -- synapse-fds-near-limit -----------------------------------------------------------------------


def _synapse_pid(controls: Controls) -> int:
    process = controls.record.processes.get("synapse")
    if not is_running(process):
        raise StackError("synapse is not running")
    assert process is not None
    return process.pid


def _lower_fd_limit(controls: Controls) -> None:
    if FD_FAULT in controls.record.extra:
        return
    pid = _synapse_pid(controls)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    # Noted first, so that heal puts back what was there (as a task definition's ulimit would be fixed).
    controls.record.extra[FD_FAULT] = {"pid": pid, "soft": soft}
    controls.save()
    port = str(controls.record.ports["synapse"])
    argv = [sys.executable, "-m", "stack._fd_holder", str(controls.layout.root), port, str(FD_IDLE)]
    start_helper(controls, FD_HOLDER, argv, "fd-holder.ready")
    _settle("the idle connections did not show", lambda: (_gauge(controls, "process_open_fds") or 0) >= FD_IDLE)
    lowered = len(os.listdir(f"/proc/{pid}/fd")) + FD_SPARE
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowered, hard))
    _settle("its lowered file limit did not show", lambda: _gauge(controls, "process_max_fds") == lowered)


def _restore_fd_limit(controls: Controls) -> None:
    saved = controls.record.extra.get(FD_FAULT)
    if saved is None:
        return  # never injected (or already healed)
    stop(controls.record.processes.pop(FD_HOLDER, None), grace_s=5)
    controls.save()
    (controls.layout.root / "fd-holder.ready").unlink(missing_ok=True)
    pid = _synapse_pid(controls)
    if pid == saved["pid"]:  # a Synapse started since has its own, unlowered limit
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (int(saved["soft"]), hard))
        _settle("its file limit did not come back", lambda: _gauge(controls, "process_max_fds") == saved["soft"])
    del controls.record.extra[FD_FAULT]
    controls.save()


# -- reactor-blocked ------------------------------------------------------------------------------

REACTOR_FAULT = "reactor-blocked"
# The module as Synapse imports it: the file copied next to homeserver.yaml, where Synapse runs.
BLOCKER = "reactor_blocker"
BLOCKER_SOURCE = Path(__file__).with_name("_reactor_blocker.py")
# A synchronous call of 300 ms every 400 ms: the reactor blocked three quarters of the time. Hard
# enough that no average hides it, and the quarter left keeps requests answering (slowly) inside
# the run's deadlines, as a Synapse with such a module does.
BLOCK_MS, EVERY_MS = 300, 400
# The share of a second the reactor spends in its ticks: blocked over the one, healed under the other
# (an idle Synapse spends well under 1 %).
BLOCKED_SHARE, HEALED_SHARE = 0.5, 0.1
SHARE_WINDOW_S = 1.0


def _reactor_share(controls: Controls) -> float | None:
    """The share of about a second that Synapse's reactor spent running callbacks, from its tick time
    (None when a scrape was not read: its exporter fails one now and then)."""

    def ticked() -> float | None:
        return _gauge(controls, "python_twisted_reactor_tick_time", sample="python_twisted_reactor_tick_time_sum")

    before, started = ticked(), time.monotonic()
    time.sleep(SHARE_WINDOW_S)
    after = ticked()
    if before is None or after is None:
        return None
    return max(0.0, after - before) / (time.monotonic() - started)


def _reactor_share_is(controls: Controls, over: float | None = None, under: float | None = None) -> bool:
    share = _reactor_share(controls)
    return share is not None and (over is None or share > over) and (under is None or share < under)


def _block_reactor(controls: Controls) -> None:
    if REACTOR_FAULT in controls.record.extra:
        return  # already injected
    config = homeserver_config(controls)
    # What heal puts back: the modules as they were (None: no `modules:` at all), kept in state.json.
    controls.record.extra[REACTOR_FAULT] = {"modules": config.get("modules")}
    controls.save()
    shutil.copyfile(BLOCKER_SOURCE, controls.layout.root / f"{BLOCKER}.py")
    blocker = {"module": f"{BLOCKER}.ReactorBlocker", "config": {"block_ms": BLOCK_MS, "every_ms": EVERY_MS}}
    config["modules"] = [*(config.get("modules") or []), blocker]
    restart_synapse_with(controls, config)
    _settle("its reactor did not show blocked", lambda: _reactor_share_is(controls, over=BLOCKED_SHARE))


def _unblock_reactor(controls: Controls) -> None:
    saved = controls.record.extra.get(REACTOR_FAULT)
    if saved is None:
        return  # never injected (or already healed)
    config = homeserver_config(controls)
    if saved["modules"] is None:
        config.pop("modules", None)
    else:
        config["modules"] = saved["modules"]
    restart_synapse_with(controls, config)
    (controls.layout.root / f"{BLOCKER}.py").unlink(missing_ok=True)
    _settle("its reactor stayed busy", lambda: _reactor_share_is(controls, under=HEALED_SHARE))
    del controls.record.extra[REACTOR_FAULT]
    controls.save()


FAULTS: tuple[Fault, ...] = (
    Fault(
        name=POOL_FAULT,
        failure_mode="database-errors",
        summary="slow queries (waiting on a table lock) hold every connection of Synapse's own pool (cp_max): "
        "every other transaction waits for one",
        inject=_saturate,
        heal=_drain,
    ),
    Fault(
        name=EXHAUSTED_FAULT,
        failure_mode="database-errors",
        summary="slow queries hold every connection of Synapse's own pool (cp_max) and every other PostgreSQL "
        "connection slot is taken: transactions wait for a connection none can be opened to relieve",
        inject=_exhaust,
        heal=_replenish,
    ),
    Fault(
        name=PROCESSING_FAULT,
        failure_mode="slow-performance",
        summary=f"Synapse's {PROCESSOR} cannot store its stream position (its table is locked against writes): "
        "it stops processing new events",
        inject=_stall,
        heal=_resume,
    ),
    Fault(
        name=FD_FAULT,
        failure_mode="slow-performance",
        summary=f"{FD_IDLE} idle client connections are held to Synapse and its open-files limit is lowered to "
        f"{FD_SPARE} above the descriptors it has open (a low nofile ulimit)",
        inject=_lower_fd_limit,
        heal=_restore_fd_limit,
    ),
    Fault(
        name=REACTOR_FAULT,
        failure_mode="slow-performance",
        summary=f"a Synapse module makes a synchronous call of {BLOCK_MS} ms every {EVERY_MS} ms on Synapse's "
        "reactor (its event loop): every request waits behind it",
        inject=_block_reactor,
        heal=_unblock_reactor,
    ),
)
