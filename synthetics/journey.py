"""Synthetic user journeys: a message sent arrives, a file uploaded comes back.

Each journey is a list of steps; the first that fails says which failure mode it points to. Every
id is unique, so journeys may run concurrently, and they leave the room tidy (the message redacted,
the media deleted when an admin token allows).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from synthetics.catalogue import Mode
from synthetics.exchange import Exchange
from synthetics.probe import Prober
from synthetics.target import Canary

__all__ = ["Journey", "Step", "media_journey", "message_journey"]

# Calls that read or write the database: a 5xx from one points at the database.
_DATABASE_STEPS = frozenset({"whoami", "resolve room", "initial sync", "send", "sync"})
_SYNC_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class Step:
    name: str
    exchange: Exchange | None
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class Journey:
    steps: tuple[Step, ...]
    problem: str | None = None  # what went wrong, when no single exchange shows it
    latency_ms: float | None = None

    @property
    def failed(self) -> Step | None:
        return next((step for step in self.steps if not step.ok), None)

    def lower_cause(self) -> Mode | None:
        """The database's failure when a step that reads it failed with a 5xx; else None (the
        journey's own failure)."""
        failed = self.failed
        exchange = failed.exchange if failed is not None else None
        if failed is not None and failed.name in _DATABASE_STEPS and exchange and (exchange.status or 0) >= 500:
            return Mode.DATABASE_ERRORS
        return None


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _json(exchange: Exchange) -> dict[str, Any]:
    """The answer's JSON object; {} for anything else (the step's status says what went wrong)."""
    try:
        document = exchange.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _dig(document: Any, *keys: str) -> Any:
    """document[k1][k2]... through objects only; None where the path is missing or not an object."""
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


class _Run:
    def __init__(self, prober: Prober, token: str) -> None:
        self.prober = prober
        self.headers = _auth(token)
        self.steps: list[Step] = []

    def call(self, name: str, path: str, *, method: str = "GET", body: Any = None, content: bytes | None = None,
             content_type: str | None = None, expect: int = 200) -> Exchange | None:  # fmt: skip
        headers = dict(self.headers) | ({"content-type": content_type} if content_type else {})
        exchange = self.prober.fetch(path, method=method, headers=headers, json_body=body, content=content)
        ok = exchange.error is None and exchange.status == expect
        self.steps.append(Step(name, exchange, ok))
        return exchange if ok else None

    def done(self, problem: str | None = None, latency_ms: float | None = None) -> Journey:
        return Journey(tuple(self.steps), problem, latency_ms)


def message_journey(prober: Prober, canary: Canary, token: str) -> Journey:
    """whoami, then a message with a unique transaction id, seen again through /sync within the budget."""
    run = _Run(prober, token)
    whoami = run.call("whoami", "/_matrix/client/v3/account/whoami")
    if whoami is None:
        return run.done()
    user = _json(whoami).get("user_id")
    if user != canary.user_id:
        run.steps[-1] = Step("whoami", whoami, False, f"the token belongs to {user!r}, not {canary.user_id!r}")
        return run.done(f"the canary token belongs to {user!r}, not {canary.user_id!r}")
    room_id = canary.room
    if room_id.startswith("#"):
        resolved = run.call("resolve room", f"/_matrix/client/v3/directory/room/{quote(canary.room, safe='')}")
        if resolved is None:
            return run.done()
        room_id = str(_json(resolved).get("room_id"))
    room = quote(room_id, safe="")
    sync_filter = quote(json.dumps({
        "room": {"rooms": [room_id], "timeline": {"limit": 5}, "state": {"lazy_load_members": True}},
        "presence": {"types": []}, "account_data": {"types": []},
    }, separators=(",", ":")), safe="")  # fmt: skip
    initial = run.call("initial sync", f"/_matrix/client/v3/sync?timeout=0&filter={sync_filter}")
    if initial is None:
        return run.done()
    since = _json(initial).get("next_batch")
    marker = f"synthetics canary {secrets.token_hex(8)}"
    txn = f"synthetics-{secrets.token_hex(12)}"
    sent_at = time.monotonic()
    sent = run.call("send", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", method="PUT",
                    body={"msgtype": "m.notice", "body": marker})  # fmt: skip
    if sent is None:
        return run.done()
    event_id = str(_json(sent).get("event_id", ""))
    deadline = sent_at + canary.message_budget_s
    seen_at: float | None = None
    while seen_at is None and time.monotonic() < deadline:
        polled = run.call(
            "sync", f"/_matrix/client/v3/sync?timeout={_SYNC_TIMEOUT_MS}&since={since}&filter={sync_filter}"
        )
        if polled is None:
            return run.done()
        document = _json(polled)
        since = document.get("next_batch", since)
        timeline = _dig(document, "rooms", "join", room_id, "timeline", "events")
        if isinstance(timeline, list) and any(_dig(event, "content", "body") == marker for event in timeline):
            seen_at = time.monotonic()
        run.steps.pop()  # one step for all the polling: the evidence is the last poll
        run.steps.append(Step("sync", polled, True))
    if event_id:
        # Tidy: the canary message is redacted, whatever the outcome (a failure here is no finding).
        prober.fetch(f"/_matrix/client/v3/rooms/{room}/redact/{quote(event_id, safe='')}/{txn}-redact",
                     method="PUT", headers=run.headers, json_body={"reason": "synthetics canary"})  # fmt: skip
    if seen_at is None:
        run.steps.append(Step("seen in /sync", None, False))
        return run.done(
            f"the message sent as {event_id or '?'} was not seen in /sync within {canary.message_budget_s:g} s"
        )
    return run.done(latency_ms=round((seen_at - sent_at) * 1000, 1))


def media_journey(prober: Prober, server_name: str, token: str, admin: tuple[str, str] | None) -> Journey:
    """Upload a small file, download it back through the authenticated media API, compare the bytes.

    `admin` is (admin API base URL, admin token): with it, the canary file is deleted afterwards.
    """
    run = _Run(prober, token)
    payload = secrets.token_bytes(48)
    uploaded = run.call("upload", "/_matrix/media/v3/upload?filename=synthetics-canary.bin", method="POST",
                        content=payload, content_type="application/octet-stream")  # fmt: skip
    if uploaded is None:
        return run.done()
    uri = str(_json(uploaded).get("content_uri", ""))
    if not uri.startswith("mxc://"):
        run.steps[-1] = Step("upload", uploaded, False, "no content_uri")
        return run.done(f"the upload answered without a content_uri ({uri!r})")
    media_server, _, media_id = uri.removeprefix("mxc://").partition("/")
    downloaded = run.call("download", f"/_matrix/client/v1/media/download/{media_server}/{media_id}")
    if admin is not None:
        admin_url, admin_token = admin
        prober.fetch(f"{admin_url}/_synapse/admin/v1/media/{server_name}/{media_id}", method="DELETE",
                     headers=_auth(admin_token))  # fmt: skip
    if downloaded is None:
        return run.done()
    if downloaded.body != payload:
        run.steps[-1] = Step("download", downloaded, False, "the bytes differ")
        return run.done(
            f"{uri} came back with {len(downloaded.body)} bytes that differ from the {len(payload)} uploaded"
        )
    return run.done()
