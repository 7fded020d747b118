"""Faults inside Synapse, seen through its admin API: a background update that keeps running, an
outbound federation destination that fails, and the admin API's internal listener gone.

Both are made as Synapse makes them, through its database and its own senders, and are read back
through the admin API before the fault counts as injected (the checks read the same API). Healing
undoes what the fault added, row for row, and waits until the admin API says so.
"""

from __future__ import annotations

import secrets
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import psycopg2

from stack._errors import StackError
from stack._fault_types import Controls, Fault, homeserver_config, restart_synapse_with, start_helper
from stack._postgres import credentials
from stack._process import is_running, stop, wait_until
from stack._users import CANARY_USER_ID

ADMIN_FAULT = "admin-api-unreachable"
METRICS_LISTENER_FAULT = "metrics-listener-down"
UPDATE_FAULT = "background-update-running"
DESTINATION_FAULT = "federation-destination-failing"
HOLDER = "lock-holder"
# One of the jobs Synapse's admin API itself offers to run again (background_updates/start_job):
# it recomputes the rooms' statistics, which running once more changes nothing.
UPDATE = "populate_stats_process_rooms"
SETTLE_S = 30.0
_TIMEOUT = httpx.Timeout(10.0)


# -- Synapse's database and admin API, as the faults use them ------------------------------------


def _sql(controls: Controls, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement on Synapse's database, as Synapse's own role, committed."""
    try:
        connection = psycopg2.connect(connect_timeout=5, **credentials(controls.layout.pgpass))
    except psycopg2.Error as err:
        raise StackError(f"synapse's database: {type(err).__name__}: {err}".strip()) from err
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        connection.close()


def _call(controls: Controls, method: str, path: str, *, as_user: str = "admin", body: Any = None) -> httpx.Response:
    """A request to Synapse's loopback listener with the admin's (or the canary's) token."""
    token_file = controls.layout.admin_token if as_user == "admin" else controls.layout.canary_token
    url = f"http://127.0.0.1:{controls.record.ports['synapse']}{path}"
    headers = {"authorization": f"Bearer {token_file.read_text().strip()}"}
    try:
        return httpx.request(method, url, json=body, headers=headers, timeout=_TIMEOUT, trust_env=False)
    except httpx.HTTPError as err:
        raise StackError(f"synapse: {method} {path} failed: {type(err).__name__}: {err}") from err


def _admin_json(controls: Controls, path: str) -> dict[str, Any]:
    response = _call(controls, "GET", path)
    if response.status_code != 200:
        raise StackError(f"synapse: GET {path} answered {response.status_code}")
    document: dict[str, Any] = response.json()
    return document


def _settle(what: str, condition: Callable[[], bool]) -> None:
    if not wait_until(condition, timeout_s=SETTLE_S, interval_s=0.25):
        raise StackError(f"synapse: {what} within {SETTLE_S:.0f} s")


# -- background-update-running ---------------------------------------------------------------------


def _current_updates(controls: Controls) -> dict[str, Any]:
    current = _admin_json(controls, "/_synapse/admin/v1/background_updates/status").get("current_updates")
    return current if isinstance(current, dict) else {}


def _running(controls: Controls) -> bool:
    return any(isinstance(u, dict) and u.get("name") == UPDATE for u in _current_updates(controls).values())


def _start_update(controls: Controls) -> None:
    layout, record = controls.layout, controls.record
    # Noted first, so a heal after an inject that failed midway still takes the row out again.
    record.extra[UPDATE_FAULT] = {"update": UPDATE}
    controls.save()
    _sql(
        controls,
        "INSERT INTO background_updates (update_name, progress_json) SELECT %s, '{}' "
        "WHERE NOT EXISTS (SELECT 1 FROM background_updates WHERE update_name = %s)",
        (UPDATE, UPDATE),
    )
    if not is_running(record.processes.get(HOLDER)):
        start_helper(
            controls, HOLDER, [sys.executable, "-m", "stack._lock_holder", str(layout.root)], f"{HOLDER}.ready"
        )
    # Synapse's updater sleeps once its queue is empty; enabling it (it is enabled) wakes it up.
    woken = _call(controls, "POST", "/_synapse/admin/v1/background_updates/enabled", body={"enabled": True})
    if woken.status_code != 200:
        raise StackError(f"synapse: waking the background updater answered {woken.status_code}")
    _settle(f"the background update {UPDATE} did not start", lambda: _running(controls))


def _finish_update(controls: Controls) -> None:
    record = controls.record
    if UPDATE_FAULT not in record.extra and HOLDER not in record.processes:
        return  # never injected (or already healed)
    stop(record.processes.pop(HOLDER, None), grace_s=5)
    controls.save()
    (controls.layout.root / "lock-holder.ready").unlink(missing_ok=True)
    # Released, the update writes its progress and ends, deleting its row itself.
    _settle(f"the background update {UPDATE} did not end", lambda: not _current_updates(controls))
    _sql(controls, "DELETE FROM background_updates WHERE update_name = %s", (UPDATE,))
    record.extra.pop(UPDATE_FAULT, None)
    controls.save()


# -- federation-destination-failing ----------------------------------------------------------------


def _destination(controls: Controls) -> str:
    # A server name that is an address where nothing listens (the port the edge holds closed):
    # Synapse's sender connects to it directly (no DNS, nothing leaves the machine) and fails.
    return f"127.0.0.1:{controls.record.ports['edge-8448']}"


def _listed(controls: Controls, destination: str) -> dict[str, Any] | None:
    document = _admin_json(controls, "/_synapse/admin/v1/federation/destinations?limit=100")
    for entry in document.get("destinations") or []:
        if isinstance(entry, dict) and entry.get("destination") == destination:
            return entry
    return None


def _failing(controls: Controls, destination: str) -> bool:
    entry = _listed(controls, destination)
    return entry is not None and bool(entry.get("failure_ts")) and int(entry.get("retry_interval") or 0) > 0


def _send_to_unreachable(controls: Controls) -> None:
    destination = _destination(controls)
    controls.record.extra[DESTINATION_FAULT] = {"destination": destination}
    controls.save()
    # A to-device message to a user there: Synapse's federation sender sends it in a transaction,
    # which fails, and backs the destination off (its retry timings, which the admin API lists).
    txn = secrets.token_hex(8)
    path = f"/_matrix/client/v3/sendToDevice/m.synthetics.probe/{txn}"
    body = {"messages": {f"@synthetics-peer:{destination}": {"*": {"sent_by": CANARY_USER_ID}}}}
    sent = _call(controls, "PUT", path, as_user="canary", body=body)
    if sent.status_code != 200:
        raise StackError(f"synapse: PUT {path} answered {sent.status_code}")
    _settle(f"outbound federation to {destination} did not fail", lambda: _failing(controls, destination))


def _forget_destination(controls: Controls) -> None:
    saved = controls.record.extra.get(DESTINATION_FAULT)
    if saved is None:
        return  # never injected (or already healed)
    forget_destination(controls, str(saved["destination"]))
    del controls.record.extra[DESTINATION_FAULT]
    controls.save()


def forget_destination(controls: Controls, destination: str) -> None:
    """Synapse forgets an outbound destination, as the healthy deployment, which knows none."""
    # What the sender would try again: the to-device messages queued for it.
    _sql(controls, "DELETE FROM device_federation_outbox WHERE destination = %s", (destination,))
    # Through the admin API, so Synapse's cached retry timings are reset with the row (400: nothing to reset).
    quoted = urllib.parse.quote(destination, safe="")
    reset = _call(controls, "POST", f"/_synapse/admin/v1/federation/destinations/{quoted}/reset_connection", body={})
    if reset.status_code not in (200, 400, 404):
        raise StackError(f"synapse: resetting {destination} answered {reset.status_code}")
    # The healthy deployment knows no destination at all.
    _sql(controls, "DELETE FROM destinations WHERE destination = %s", (destination,))
    _settle(f"{destination} is still listed", lambda: _listed(controls, destination) is None)


# -- admin-api-unreachable, metrics-listener-down --------------------------------------------------


def _listeners(controls: Controls) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config = homeserver_config(controls)
    return config, list(config["listeners"])


def _listener_fault(name: str, port_name: str, summary: str) -> Fault:
    """Synapse restarted without one of its internal listeners (the one on `port_name`'s port)."""

    def drop(controls: Controls) -> None:
        port = controls.record.ports[port_name]
        config, listeners = _listeners(controls)
        kept = [listener for listener in listeners if listener.get("port") != port]
        if len(kept) == len(listeners):
            return  # already gone
        # What heal puts back, and where: the listeners as they were, kept across processes in state.json.
        controls.record.extra[name] = {"listeners": listeners}
        controls.save()
        config["listeners"] = kept
        restart_synapse_with(controls, config)

    def restore(controls: Controls) -> None:
        saved = controls.record.extra.get(name)
        if saved is None:
            return  # never injected (or already healed)
        config, _ = _listeners(controls)
        config["listeners"] = saved["listeners"]
        restart_synapse_with(controls, config)
        del controls.record.extra[name]
        controls.save()

    return Fault(name=name, failure_mode="origin-down", summary=summary, inject=drop, heal=restore)


FAULTS: tuple[Fault, ...] = (
    _listener_fault(
        ADMIN_FAULT,
        "admin",
        "Synapse restarted without its internal admin listener (the target's admin_url): the admin API "
        "refuses connections while the public edge answers",
    ),
    _listener_fault(
        METRICS_LISTENER_FAULT,
        "metrics",
        "Synapse restarted without its metrics listener (the target's metrics_url): the scrape is refused "
        "while the public edge answers",
    ),
    Fault(
        name=UPDATE_FAULT,
        failure_mode="slow-performance",
        summary=f"Synapse runs the background update {UPDATE}, which does not end (its table is locked against writes)",
        inject=_start_update,
        heal=_finish_update,
    ),
    Fault(
        name=DESTINATION_FAULT,
        failure_mode="federation-broken",
        summary="Synapse's federation sender fails to reach a destination (a server where nothing listens), "
        "and backs off from it",
        inject=_send_to_unreachable,
        heal=_forget_destination,
    ),
)
