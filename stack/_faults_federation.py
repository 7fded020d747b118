"""A fault of outbound federation that Synapse's metrics show first: a remote server, joined to a
room here, that takes its time over every transaction, while the room is busy.

The remote is a real one as far as Synapse can tell (stack/_remote_server.py: its own key, a signed
join). Synapse keeps one transaction in flight per destination, so while the remote holds one,
every event sent into the room waits in Synapse's outbound queue: the gauge
synapse_federation_transaction_queue_pending_pdus, read back on the metrics listener before the
fault counts as injected. Nothing fails meanwhile (the remote answers each transaction before
Synapse's timeout), so no destination is listed as failing: only the queue says so.

Healing lets the remote answer at once and leave the room (the queue drains), deletes the room with
the admin API, and forgets the remote as the deployment never knew it, once Synapse has nothing left
to send it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg2

from stack._errors import StackError
from stack._fault_types import Controls, Fault, start_helper
from stack._faults_metrics import _gauge
from stack._faults_synapse import _call, _sql, forget_destination
from stack._process import is_running, stop, wait_until
from stack._remote_server import JOINED, LEFT

QUEUE_FAULT = "federation-queue-backed-up"
REMOTE = "remote-server"
PENDING = "synapse_federation_transaction_queue_pending_pdus"
# Over the default of thresholds.federation_pending_pdus (1000) with room to spare: the remote takes
# 50 PDUs (one transaction) about every 50 s, so the queue stays over 1000 for about five minutes,
# longer than a run of the suite takes.
EVENTS = 1300
QUEUED = 1000
# Concurrent senders: Synapse takes 300 messages in 7.3 s from 4 at a time, in 4.9 s from 16 (measured here).
SENDERS = 16
READY_S = 30.0
SEND_S = 120.0
SETTLE_S = 60.0
_TIMEOUT = httpx.Timeout(10.0)


def _pending(controls: Controls) -> float:
    return _gauge(controls, PENDING) or 0.0


def _settle(what: str, condition: Callable[[], bool], timeout_s: float = SETTLE_S) -> None:
    if not wait_until(condition, timeout_s=timeout_s, interval_s=0.5):
        raise StackError(f"synapse: {what} within {timeout_s:.0f} s")


def _create_room(controls: Controls) -> str:
    # The canary's (its messages are not rate-limited), public so that another server may join it.
    body = {"preset": "public_chat", "name": "synthetics: federation queue"}
    created = _call(controls, "POST", "/_matrix/client/v3/createRoom", as_user="canary", body=body)
    if created.status_code != 200:
        raise StackError(f"synapse: creating the room answered {created.status_code}")
    return str(created.json()["room_id"])


def _join_remote(controls: Controls, room_id: str) -> str:
    """Start the remote server, which joins the room; its server name."""
    root = controls.layout.root
    argv = [sys.executable, "-m", "stack._remote_server", str(root), str(controls.record.ports["synapse"]), room_id]
    start_helper(controls, REMOTE, argv, JOINED, timeout_s=READY_S)
    return str(json.loads((root / JOINED).read_text())["server_name"])


def _send_events(controls: Controls, room_id: str) -> None:
    """EVENTS messages into the room as the canary, a few at a time, within SEND_S."""
    url = f"http://127.0.0.1:{controls.record.ports['synapse']}"
    token = controls.layout.canary_token.read_text().strip()
    room = urllib.parse.quote(room_id, safe="")
    deadline = time.monotonic() + SEND_S
    with httpx.Client(
        base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=_TIMEOUT, trust_env=False
    ) as client:

        def send(number: int) -> int:
            if time.monotonic() > deadline:
                return 0
            path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{secrets.token_hex(8)}"
            try:
                return client.put(path, json={"msgtype": "m.notice", "body": f"synthetics: {number}"}).status_code
            except httpx.HTTPError:
                return 0

        with ThreadPoolExecutor(SENDERS) as senders:
            answers = list(senders.map(send, range(EVENTS)))
    refused = len(answers) - answers.count(200)
    if refused:
        raise StackError(f"synapse: {refused} of {EVENTS} messages into the room were not sent")


def _back_up(controls: Controls) -> None:
    record = controls.record
    if QUEUE_FAULT in record.extra:
        return  # already injected
    # Noted first, so a heal after an inject that failed midway still takes out what it made.
    record.extra[QUEUE_FAULT] = {}
    controls.save()
    room_id = _create_room(controls)
    record.extra[QUEUE_FAULT] = {"room": room_id}
    controls.save()
    destination = _join_remote(controls, room_id)
    record.extra[QUEUE_FAULT] = {"room": room_id, "destination": destination}
    controls.save()
    _send_events(controls, room_id)
    _settle(f"{PENDING} did not pass {QUEUED}", lambda: _pending(controls) >= QUEUED)


def _delete_room(controls: Controls, room_id: str) -> None:
    room = urllib.parse.quote(room_id, safe="")
    deleted = _call(controls, "DELETE", f"/_synapse/admin/v2/rooms/{room}", body={"purge": True})
    if deleted.status_code != 200:
        raise StackError(f"synapse: deleting the room answered {deleted.status_code}")
    delete_id = str(deleted.json()["delete_id"])

    def purged() -> bool:
        status = _call(controls, "GET", f"/_synapse/admin/v2/rooms/delete_status/{delete_id}")
        return status.status_code == 200 and status.json().get("status") == "complete"

    _settle(f"the room {room_id} was not deleted", purged)


def _unblock(controls: Controls) -> None:
    record = controls.record
    saved = record.extra.get(QUEUE_FAULT)
    if saved is None:
        return  # never injected (or already healed)
    remote = record.processes.get(REMOTE)
    if is_running(remote):
        assert remote is not None
        left = controls.layout.root / LEFT
        os.kill(remote.pid, signal.SIGUSR1)
        # Answering at once, it leaves the room: Synapse sends it nothing more from the room, nor
        # the canary's leave when the room is deleted, and takes the queue in transactions of 50.
        _settle("the remote server did not leave the room", lambda: left.exists() or not is_running(remote))
        _settle(f"{PENDING} did not drain", lambda: _pending(controls) == 0)
    if "room" in saved:
        _delete_room(controls, str(saved["room"]))
    stop(record.processes.pop(REMOTE, None), grace_s=5)
    controls.save()
    for marker in (JOINED, LEFT):
        (controls.layout.root / marker).unlink(missing_ok=True)
    if "destination" in saved:
        destination = str(saved["destination"])
        _forget_remote(controls, destination)
        forget_destination(controls, destination)
    del record.extra[QUEUE_FAULT]
    controls.save()


def _forget_remote(controls: Controls, destination: str) -> None:
    """What Synapse keeps of a remote server after the room they shared is gone: its user in the
    user directory (seen in a public room) and the keys fetched from it."""
    statements = (
        ("DELETE FROM user_directory WHERE user_id LIKE %s", f"%:{destination}"),
        ("DELETE FROM user_directory_search WHERE user_id LIKE %s", f"%:{destination}"),
        ("DELETE FROM server_keys_json WHERE server_name = %s", destination),
        ("DELETE FROM server_signature_keys WHERE server_name = %s", destination),
    )
    for statement, value in statements:
        try:
            _sql(controls, statement, (value,))
        except psycopg2.Error as err:
            raise StackError(f"synapse's database: forgetting {destination}: {err}") from err


FAULTS: tuple[Fault, ...] = (
    Fault(
        name=QUEUE_FAULT,
        failure_mode="federation-broken",
        summary=f"a remote server joined to a room here takes nearly Synapse's timeout over every transaction "
        f"while {EVENTS} messages are sent into the room: they wait in Synapse's outbound federation queue",
        inject=_back_up,
        heal=_unblock,
    ),
)
