"""What the fault switches in edge.json (`EdgeConfig.faults`) make the edge do.

Each switch is named after the deployment fault that sets it and carries its parameters:

- `wellknown-wrong`: `{"document": {...}}` is served as /.well-known/matrix/server;
- `wellknown-missing`: /.well-known/matrix/server answers 404 (wins over `wellknown-wrong`);
- `keys-invalid`: the origin's /_matrix/key/v2/server document is passed on with its signatures
  corrupted;
- `keys-differ-by-address`: `{"ports": [N]}`: on those listeners (`address_ports`) the origin's key
  document is replaced by one for the same server, valid and well signed, but with another key (the
  edge's own `TWIN_KEY_ID`), as a second origin with its own signing key behind some of the zone's
  addresses would serve;
- `slow-origin` and `slow-origin-warning`: `{"delay_s": 3.0}` is added before every proxied response;
- `waf-challenge`: `{"browser_tokens": ["Mozilla/"]}`; clients whose User-Agent has none of them
  get Cloudflare's managed challenge (403, `cf-mitigated: challenge`);
- `admin-exposed`: `{"prefixes": ["/_synapse/admin"]}` are proxied although blocked;
- `metrics-exposed`: `{"origin_url": "http://127.0.0.1:9000"}`: /_synapse/metrics is proxied to
  that origin (Synapse's metrics listener) although blocked, as a route left open to it would;
- `delivery-stuck`: the edge answers a client's message send (`PUT .../rooms/{room}/send/{type}/{txn}`)
  itself with 200 and a made-up event id, and never forwards it: sent, but never delivered;
- `edge-bypassed`: answers carry the origin's own identity (`server: nginx`, no `cf-ray`), as when
  traffic reaches the origin around Cloudflare;
- `edge-blip` and `edge-blip-confirmed`: `{"path": "/_matrix/client/versions", "failures": 1,
  "since": "<token>"}`: the first `failures` requests to `path` after the switch was set get
  Cloudflare's 502, every later one goes through (`since` tells one setting of the switch from the
  next, so each injection blips anew).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

log = logging.getLogger(__name__)

KEY_PATH = "/_matrix/key/v2/server"
DEFAULT_DELAY_S = 3.0
BROWSER_TOKENS = ("Mozilla/",)
# The client-server API's send endpoint, in each version prefix clients still use.
_SEND_PATH = re.compile(r"^/_matrix/client/(?:v3|r0|unstable)/rooms/[^/]+/send/[^/]+/.+$")
# Keys the made-up event ids: unguessable from outside, yet the same for a retried transaction.
_EVENT_ID_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Blip:
    """The first `failures` requests to `path` since the switch was set (`since`) fail with a 502."""

    path: str
    failures: int
    since: str


@dataclass(frozen=True)
class Switches:
    wellknown_server: Mapping[str, Any] | None = None
    wellknown_server_missing: bool = False
    corrupt_key_signatures: bool = False
    twin_key_ports: frozenset[int] = frozenset()  # listeners whose key document is signed by the twin key
    origin_delay_s: float = 0.0
    challenge_tokens: tuple[str, ...] | None = None  # None: no challenge
    exposed_prefixes: frozenset[str] = frozenset()
    metrics_origin: str | None = None  # where /_synapse/metrics is proxied to; None: blocked
    swallow_sends: bool = False
    no_edge_identity: bool = False
    blip: Blip | None = None

    def challenges(self, user_agent: str | None) -> bool:
        if self.challenge_tokens is None:
            return False
        return not any(token in (user_agent or "") for token in self.challenge_tokens)


def switches(faults: Mapping[str, Any]) -> Switches:
    """The switches in force; a malformed one is logged and left off rather than failing requests."""
    values: dict[str, Any] = {}
    for name, params in faults.items():
        try:
            values.update(_parse(name, params if params is not None else {}))
        except (TypeError, ValueError, AttributeError) as err:
            log.warning("edge: ignoring malformed fault switch %s=%r: %s", name, params, err)
    return Switches(**values)


def _parse(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if name == "wellknown-wrong":
        document = params.get("document", {})
        if not isinstance(document, Mapping):
            raise TypeError("document must be an object")
        return {"wellknown_server": dict(document)}
    if name == "wellknown-missing":
        return {"wellknown_server_missing": True}
    if name == "keys-invalid":
        return {"corrupt_key_signatures": True}
    if name == "keys-differ-by-address":
        return {"twin_key_ports": frozenset(int(port) for port in params["ports"])}
    if name in ("slow-origin", "slow-origin-warning"):
        delay = float(params.get("delay_s", DEFAULT_DELAY_S))
        if not 0 <= delay <= 600:
            raise ValueError("delay_s must be within 0..600")
        return {"origin_delay_s": delay}
    if name == "waf-challenge":
        tokens = params.get("browser_tokens", list(BROWSER_TOKENS))
        return {"challenge_tokens": tuple(str(token) for token in tokens)}
    if name == "admin-exposed":
        return {"exposed_prefixes": frozenset(str(prefix) for prefix in params.get("prefixes", []))}
    if name == "metrics-exposed":
        origin = params["origin_url"]
        if not isinstance(origin, str) or not origin.startswith("http://"):
            raise ValueError("origin_url must be an http:// URL")
        return {"metrics_origin": origin}
    if name == "delivery-stuck":
        return {"swallow_sends": True}
    if name == "edge-bypassed":
        return {"no_edge_identity": True}
    if name in ("edge-blip", "edge-blip-confirmed"):
        failures = int(params.get("failures", 1))
        if not 0 <= failures <= 100:
            raise ValueError("failures must be within 0..100")
        return {"blip": Blip(str(params["path"]), failures, str(params.get("since", "")))}
    return {}


METRICS_PATH = "/_synapse/metrics"


def is_metrics_path(path: str) -> bool:
    return path == METRICS_PATH or path.startswith(METRICS_PATH + "/")


def is_send(method: str, path: str) -> bool:
    return method == "PUT" and _SEND_PATH.match(path) is not None


def fake_event_id(authorization: str | None, path: str) -> str:
    """An event id in the shape of room versions 4 and later (`$` and 43 URL-safe base64 characters).

    Derived from the sender's credentials and the path (which ends in the transaction id), so a
    retried send gets the same id back, as the spec asks of transaction ids.
    """
    digest = hmac.new(_EVENT_ID_KEY, f"{authorization or ''}\0{path}".encode(), hashlib.sha256).digest()
    return "$" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def is_key_path(path: str) -> bool:
    # Synapse also serves the deprecated /_matrix/key/v2/server/{keyId}.
    return path == KEY_PATH or path.startswith(KEY_PATH + "/")


def corrupt_signatures(body: bytes) -> bytes:
    """The same key document with one bit of every signature flipped.

    Each signature stays unpadded base64 of the same length, so only verifying it shows the fault.
    A body that is not a signed JSON object (an error, say) is passed on unchanged.
    """
    try:
        document = json.loads(body)
        signatures = document["signatures"]
        for by_key in signatures.values():
            for key_id, encoded in by_key.items():
                raw = bytearray(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
                raw[0] ^= 0x01
                by_key[key_id] = base64.b64encode(bytes(raw)).decode().rstrip("=")
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        log.warning("edge: key document left as it was (%s: %s)", type(err).__name__, err)
        return body
    return json.dumps(document).encode()


# The key a second origin would sign with: its own, under its own id (Synapse names a generated key
# "a_" and four letters; this one cannot be Synapse's). Made once per edge process.
TWIN_KEY_VERSION = "a_twin"
TWIN_KEY_ID = f"ed25519:{TWIN_KEY_VERSION}"
_twin_key: Any = None


def _the_twin_key() -> Any:
    global _twin_key
    if _twin_key is None:
        _twin_key = generate_signing_key(TWIN_KEY_VERSION)
    return _twin_key


def signed_by_twin_key(body: bytes) -> bytes:
    """The origin's key document as a second origin for the same server would serve it: the same
    server name and validity, its own verify key, signed by that key (so it verifies on its own).
    A body that is not a key document (an error, say) is passed on unchanged."""
    try:
        document = json.loads(body)
        server_name = str(document["server_name"])
        twin = {
            "server_name": server_name,
            "valid_until_ts": int(document["valid_until_ts"]),
            "verify_keys": {TWIN_KEY_ID: {"key": encode_verify_key_base64(get_verify_key(_the_twin_key()))}},
            "old_verify_keys": {},
        }
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        log.warning("edge: key document left as it was (%s: %s)", type(err).__name__, err)
        return body
    return json.dumps(sign_json(twin, server_name, _the_twin_key())).encode()
