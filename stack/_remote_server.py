"""A stand-in for another homeserver: joins one room on the reference Synapse, then takes its time
over every transaction Synapse sends it, until told to answer promptly.

Run as `python -m stack._remote_server STATE_DIR SYNAPSE_PORT ROOM_ID` by the
`federation-queue-backed-up` fault. It serves HTTPS on 127.0.0.1 (a certificate for the address from
the deployment's CA, which Synapse trusts for federation), so its server name is `127.0.0.1:<port>`,
with its own ed25519 key at /_matrix/key/v2/server. It joins the room as a real server does
(make_join, then send_join v2 with an event hashed and signed by Synapse's own helpers, every
request X-Matrix signed), so Synapse counts it among the room's servers and sends it every event
there.

Then each transaction is answered only after HOLD_S, under Synapse's 60 s request timeout, so the
destination never fails (a failure would start Synapse's catch-up, which empties the queue): a
remote server that is slow, not down. Synapse keeps one transaction in flight per destination, and
everything sent meanwhile waits in its outbound queue. SIGUSR1 makes it answer at once from then on
and leave the room (the heal), SIGTERM stops it.
"""

from __future__ import annotations

import json
import secrets
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trustme
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json
from signedjson.types import SigningKey

from stack._layout import Layout
from stack._synapse import SERVER_NAME as SYNAPSE_SERVER_NAME

if TYPE_CHECKING:
    from synapse.api.room_versions import RoomVersion
# Synapse's own modules are imported where they are used: the fault that starts this server reads its
# marker names from here, and loading Synapse costs every `python -m stack` call a second.

PEER_LOCALPART = "synthetics-peer"
# Written into the state directory once it has joined the room, and once it has left it.
JOINED = "remote-server.joined"
LEFT = "remote-server.left"
# Under Synapse's federation request timeout (federation.client_timeout, 60 s by default).
HOLD_S = 50.0
_TIMEOUT = httpx.Timeout(20.0)
prompt = threading.Event()


@dataclass(frozen=True)
class _Server:
    """Who this server is: its name (`127.0.0.1:<port>`) and its signing key."""

    name: str
    key: SigningKey

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.key.version}"


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as Synapse expects of a server: with HTTP/1.0 it reuses a connection already closed.
    protocol_version = "HTTP/1.1"
    identity: _Server
    room_version: RoomVersion  # of the room it joined, which names the events Synapse sends it

    def do_GET(self) -> None:
        if self.path.startswith("/_matrix/key/v2/server"):
            self._answer(200, _server_keys(self.identity))
        elif self.path.startswith("/_matrix/federation/v1/version"):
            self._answer(200, {"server": {"name": "synthetics-remote", "version": "0"}})
        else:
            self._answer(404, {"errcode": "M_UNRECOGNIZED", "error": "not served here"})

    def do_PUT(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.startswith("/_matrix/federation/v1/send/"):
            self._answer(404, {"errcode": "M_UNRECOGNIZED", "error": "not served here"})
            return
        prompt.wait(HOLD_S)
        pdus = body.get("pdus") or []
        self._answer(200, {"pdus": {_event_id(pdu, self.room_version): {} for pdu in pdus}})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _event_id(pdu: dict[str, Any], room_version: RoomVersion) -> str:
    from synapse.events import make_event_from_dict

    # Room versions 3 and later name an event by its reference hash, which Synapse's helper computes.
    return str(make_event_from_dict(dict(pdu), room_version).event_id)


def _server_keys(server: _Server) -> dict[str, Any]:
    document = {
        "server_name": server.name,
        "valid_until_ts": int((time.time() + 3600) * 1000),
        "verify_keys": {server.key_id: {"key": encode_verify_key_base64(get_verify_key(server.key))}},
        "old_verify_keys": {},
    }
    signed: dict[str, Any] = sign_json(document, server.name, server.key)
    return signed


def _authorization(server: _Server, method: str, uri: str, content: Any = None) -> str:
    request: dict[str, Any] = {"method": method, "uri": uri, "origin": server.name, "destination": SYNAPSE_SERVER_NAME}
    if content is not None:
        request["content"] = content
    signature = sign_json(request, server.name, server.key)["signatures"][server.name][server.key_id]
    return (
        f'X-Matrix origin="{server.name}",destination="{SYNAPSE_SERVER_NAME}",key="{server.key_id}",sig="{signature}"'
    )


def _federation(client: httpx.Client, server: _Server, method: str, uri: str, content: Any = None) -> dict[str, Any]:
    headers = {"authorization": _authorization(server, method, uri, content)}
    response = client.request(method, uri, json=content, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{method} {uri.split('?')[0]} answered {response.status_code}: {response.text[:300]}")
    document: dict[str, Any] = response.json()
    return document


def membership(synapse_url: str, server: _Server, room_id: str, kind: str) -> tuple[str, RoomVersion]:
    """Join (`kind` "join") or leave ("leave") the room as @synthetics-peer on this server, as a server
    does (make_<kind>, then send_<kind> v2 with the event hashed and signed): the event's id, and the
    room's version."""
    from synapse.api.room_versions import KNOWN_ROOM_VERSIONS
    from synapse.crypto.event_signing import add_hashes_and_signatures
    from synapse.events import make_event_from_dict

    user_id = f"@{PEER_LOCALPART}:{server.name}"
    room, user = urllib.parse.quote(room_id, safe=""), urllib.parse.quote(user_id, safe="")
    versions = "&".join(f"ver={urllib.parse.quote(v)}" for v in KNOWN_ROOM_VERSIONS)
    with httpx.Client(base_url=synapse_url, timeout=_TIMEOUT, trust_env=False) as client:
        made = f"/_matrix/federation/v1/make_{kind}/{room}/{user}" + (f"?{versions}" if kind == "join" else "")
        template = _federation(client, server, "GET", made)
        room_version = KNOWN_ROOM_VERSIONS[str(template["room_version"])]
        event: dict[str, Any] = dict(template["event"])
        event["origin_server_ts"] = int(time.time() * 1000)
        add_hashes_and_signatures(room_version, event, server.name, server.key)
        event_id = str(make_event_from_dict(dict(event), room_version).event_id)
        quoted = urllib.parse.quote(event_id, safe="")
        _federation(client, server, "PUT", f"/_matrix/federation/v2/send_{kind}/{room}/{quoted}", event)
    return event_id, room_version


def _tls_context(state_dir: Path) -> ssl.SSLContext:
    layout = Layout(state_dir)
    ca = trustme.CA.from_pem(layout.ca_pem.read_bytes(), layout.ca_key.read_bytes())
    leaf = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


def main(state_dir: Path, synapse_port: int, room_id: str) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = _tls_context(state_dir).wrap_socket(server.socket, server_side=True)
    # Synapse names its generated keys `a_` plus four random characters; so does this server.
    key = generate_signing_key(f"a_{secrets.token_hex(2)}")
    _Handler.identity = me = _Server(f"127.0.0.1:{server.server_address[1]}", key)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGUSR1, lambda *_: prompt.set())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    synapse_url = f"http://127.0.0.1:{synapse_port}"
    try:
        event_id, _Handler.room_version = membership(synapse_url, me, room_id, "join")
        (state_dir / JOINED).write_text(json.dumps({"server_name": me.name, "join": event_id}) + "\n")
        print(f"{me.name} joined {room_id} with {event_id}", file=sys.stderr, flush=True)
        while not prompt.wait(1.0):
            pass
        # Told to answer at once: it leaves the room too, so that Synapse has nothing more to send it.
        event_id, _ = membership(synapse_url, me, room_id, "leave")
        (state_dir / LEFT).write_text(json.dumps({"server_name": me.name, "leave": event_id}) + "\n")
        print(f"{me.name} left {room_id} with {event_id}", file=sys.stderr, flush=True)
    except (RuntimeError, httpx.HTTPError) as err:
        print(f"{room_id}: {err}", file=sys.stderr)
        return 1
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
