"""Every reader of a JSON document the suite fetches is total: any shape, type, depth or size
becomes a finding (CheckFailed) or a pass, never an exception (pure code, hand-made answers)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Severity, current_check
from synthetics.exchange import Exchange, Followed
from synthetics.federation import read_server_keys, read_well_known_server
from synthetics.layers import Layer

NESTED = b"[" * 25_000 + b"]" * 25_000  # 50 KB of nested arrays: RecursionError for a naive reader
SHAPES: tuple[Any, ...] = ([], "x", 1, 1.5, True, None, {}, {"a": []}, [{}], [[[]]])
KEYS = (
    "m.homeserver", "base_url", "m.server", "server_name", "verify_keys", "signatures", "valid_until_ts",
    "current_updates", "rooms", "destinations", "flows", "stages", "state_events", "retry_interval",
    "failure_ts", "key", "ed25519:a", "name", "server_version", "versions", "errcode",
)  # fmt: skip


def documents() -> Iterator[bytes]:
    """Type confusion at every key a reader looks at, one and two levels deep, plus hostile bodies."""
    yield NESTED
    yield b"<html>401 Unauthorized</html>"
    yield b"\xff\xfe not utf-8"
    yield b'{"a": ' * 40 + b"1" + b"}" * 40
    for shape in SHAPES:
        yield json.dumps(shape).encode()
    for key, shape in itertools.product(KEYS, SHAPES):
        yield json.dumps({key: shape}).encode()
        for inner in ("base_url", "key", "name", "stages", "ed25519:a", "thephenom.app"):
            yield json.dumps({key: {inner: shape}}).encode()
            yield json.dumps({key: [{inner: shape}]}).encode()


def exchange(body: bytes, status: int = 200) -> Exchange:
    return Exchange(method="GET", url="https://chat.example.org/x", status=status, body=body,
                    headers={"content-type": "application/json"})  # fmt: skip


READERS: dict[str, Callable[[Exchange], object]] = {
    "advertise_homeserver": lambda e: must.advertise_homeserver(Followed((e,), None), "https://chat.example.org"),
    "serve_valid_keys": lambda e: must.serve_valid_keys(e, "example.org"),
    "delegate": lambda e: must.delegate(Followed((e,), None), "chat.example.org:443"),
    "background_updates": must.have_no_pending_background_updates,
    "rooms": lambda e: must.keep_rooms_small(e, 10),
    "destinations": must.reach_destinations,
    "server_version": must.answer_the_server_version,
    "registration": lambda e: must.keep_registration_closed(exchange(e.body, 401), False),
    "not_challenged": lambda e: must.not_be_challenged({"generic": e}),
    "be_unreachable": lambda e: must.be_unreachable(e, "the admin API"),
    "read_server_keys": lambda e: read_server_keys(_loose_json(e.body), "example.org"),
    "read_well_known_server": lambda e: read_well_known_server(200, {}, e.body),
}


def _loose_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


@pytest.mark.parametrize("reader", READERS)
def test_any_document_is_a_finding_or_a_pass_never_a_crash(reader: str) -> None:
    # As if inside a check: must names the failure mode the running check declared.
    current_check.set(CheckInfo("unit.reader", "a reader", Layer.CLIENT_API, Severity.NORMAL, Mode.ORIGIN_DOWN))
    crashes = []
    for body in documents():
        try:
            READERS[reader](exchange(body))
        except must.CheckFailed as failed:
            assert len(str(failed)) < 2000, str(failed)[:200]
        except Exception as error:  # the defect this test exists to find
            crashes.append(f"{body[:80]!r}: {type(error).__name__}: {error}")
    assert not crashes, f"{len(crashes)} documents crash {reader}:\n" + "\n".join(crashes[:10])
