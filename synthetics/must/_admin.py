"""Assertions on the admin API's view of the server: why it is slow, where federation fails."""

from __future__ import annotations

from typing import Any

from synthetics import match
from synthetics.catalogue import Mode
from synthetics.exchange import Exchange
from synthetics.http_failure import read_failure
from synthetics.must._core import fail, match_response


def _admin_json(exchange: Exchange) -> Any:
    """The document of an admin endpoint that reads the database.

    The admin API is the origin itself (often reached directly): no answer means the origin is
    down; Synapse's own 5xx behind a working edge means what the endpoint reads, the database.
    """
    __tracebackhide__ = True
    synapse_error = exchange.error is None and (exchange.status or 0) >= 500 and read_failure(exchange) is None
    cause = Mode.DATABASE_ERRORS if synapse_error else Mode.ORIGIN_DOWN
    match_response(exchange, match.status(200), match.json_body(), failure_mode=cause)
    return exchange.json()


def answer_the_server_version(exchange: Exchange) -> None:
    __tracebackhide__ = True
    match_response(exchange, match.status(200), match.json_key_present("server_version"))


def have_no_pending_background_updates(exchange: Exchange) -> None:
    __tracebackhide__ = True
    document = _admin_json(exchange)
    current = document.get("current_updates") or {}
    if current:
        names = ", ".join(f"{db}: {update.get('name')}" for db, update in current.items())
        raise fail(
            f"Synapse is running background updates ({names}): Synapse needs background job time before it is fast"
        )


def keep_rooms_small(exchange: Exchange, threshold: float) -> None:
    __tracebackhide__ = True
    rooms = _admin_json(exchange).get("rooms", [])
    huge = [room for room in rooms if (room.get("state_events") or 0) > threshold]
    if huge:
        detail = ", ".join(f"{r.get('room_id')} ({r.get('state_events')} state events)" for r in huge[:3])
        raise fail(f"too many rooms or events: {detail} over {threshold:.0f}")


def reach_destinations(exchange: Exchange) -> None:
    """No federation destination is failing (outbound federation, which testers cannot see)."""
    __tracebackhide__ = True
    destinations = _admin_json(exchange).get("destinations", [])
    failing = [d for d in destinations if d.get("failure_ts") and (d.get("retry_interval") or 0) > 0]
    if failing:
        names = ", ".join(str(d.get("destination")) for d in failing[:5])
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        raise fail(f"outbound federation is failing to {names}{more}")
