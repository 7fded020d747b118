"""Assertions on the admin API's view of the server: why it is slow, where federation fails."""

from __future__ import annotations

from typing import Any

from synthetics import match
from synthetics.catalogue import Mode
from synthetics.exchange import Exchange, describe_json
from synthetics.http_failure import read_failure
from synthetics.must._core import fail, match_response


def _admin_json(exchange: Exchange) -> dict[str, Any]:
    """The JSON object of an admin endpoint that reads the database.

    The admin API is the origin itself (often reached directly): no answer means the origin is
    down; Synapse's own 5xx behind a working edge means what the endpoint reads, the database.
    """
    __tracebackhide__ = True
    synapse_error = exchange.error is None and (exchange.status or 0) >= 500 and read_failure(exchange) is None
    cause = Mode.DATABASE_ERRORS if synapse_error else Mode.ORIGIN_DOWN
    match_response(exchange, match.status(200), match.json_body(), failure_mode=cause)
    document = exchange.json()
    if not isinstance(document, dict):
        raise fail(f"{exchange.request_line}: answered {describe_json(document)}, expected a JSON object")
    return document


def _listed(exchange: Exchange, document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of the document's list `key` (none when absent); a list of anything else is a finding."""
    __tracebackhide__ = True
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise fail(f"{exchange.request_line}: {key} is {describe_json(value)}, expected a list of objects")
    return value


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def answer_the_server_version(exchange: Exchange) -> None:
    __tracebackhide__ = True
    match_response(exchange, match.status(200), match.json_key_present("server_version"))


def have_no_pending_background_updates(exchange: Exchange) -> None:
    __tracebackhide__ = True
    document = _admin_json(exchange)
    current = document.get("current_updates") or {}
    if not isinstance(current, dict):
        raise fail(f"{exchange.request_line}: current_updates is {describe_json(current)}, expected an object")
    if current:
        names = ", ".join(
            f"{db}: {update.get('name') if isinstance(update, dict) else describe_json(update)}"
            for db, update in current.items()
        )
        raise fail(
            f"Synapse is running background updates ({names}): Synapse needs background job time before it is fast"
        )


def keep_rooms_small(exchange: Exchange, threshold: float) -> None:
    __tracebackhide__ = True
    rooms = _listed(exchange, _admin_json(exchange), "rooms")
    huge = [room for room in rooms if _number(room.get("state_events")) > threshold]
    if huge:
        detail = ", ".join(f"{r.get('room_id')} ({r.get('state_events')} state events)" for r in huge[:3])
        raise fail(f"too many rooms or events: {detail} over {threshold:.0f}")


def reach_destinations(exchange: Exchange) -> None:
    """No federation destination is failing (outbound federation, which testers cannot see)."""
    __tracebackhide__ = True
    destinations = _listed(exchange, _admin_json(exchange), "destinations")
    failing = [d for d in destinations if d.get("failure_ts") and _number(d.get("retry_interval")) > 0]
    if failing:
        names = ", ".join(str(d.get("destination")) for d in failing[:5])
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        raise fail(f"outbound federation is failing to {names}{more}")
