"""Assertions on journeys, the admin API's view of the server, and exposure to the internet."""

from __future__ import annotations

from typing import Any

from synthetics import match
from synthetics.exchange import Exchange
from synthetics.journey import Journey
from synthetics.must._core import fail, match_response, warn


def complete(journey: Journey, *, media: bool = False) -> None:
    """Every step succeeded; the failure mode is the one the failed step points to."""
    __tracebackhide__ = True
    mode = journey.failure_mode(media=media)
    failed = journey.failed
    if failed is not None and failed.exchange is not None:
        expected = 200
        match_response(failed.exchange, match.status(expected), failure_mode=mode)
        raise fail(f"{failed.exchange.request_line}: {failed.note or journey.problem}", failure_mode=mode)
    if journey.problem:
        raise fail(journey.problem, failure_mode=mode)
    if journey.latency_ms is not None:
        warn(f"send to /sync took {journey.latency_ms:.0f} ms")


def _admin_json(exchange: Exchange) -> Any:
    __tracebackhide__ = True
    # The admin API is the origin itself (often reached directly): no answer means the origin is down.
    match_response(exchange, match.status(200), match.json_body(), failure_mode="origin-down")
    return exchange.json()


def have_no_pending_background_updates(exchange: Exchange) -> None:
    __tracebackhide__ = True
    document = _admin_json(exchange)
    current = document.get("current_updates") or {}
    if current:
        names = ", ".join(f"{db}: {update.get('name')}" for db, update in current.items())
        raise fail(
            f"Synapse is running background updates ({names}): Synapse needs background job time before it is fast",
            failure_mode="slow-performance",
        )


def keep_rooms_small(exchange: Exchange, threshold: float) -> None:
    __tracebackhide__ = True
    rooms = _admin_json(exchange).get("rooms", [])
    huge = [room for room in rooms if (room.get("state_events") or 0) > threshold]
    if huge:
        detail = ", ".join(f"{r.get('room_id')} ({r.get('state_events')} state events)" for r in huge[:3])
        raise fail(f"too many rooms or events: {detail} over {threshold:.0f}", failure_mode="slow-performance")


def reach_destinations(exchange: Exchange) -> None:
    """No federation destination is failing (outbound federation, which testers cannot see)."""
    __tracebackhide__ = True
    destinations = _admin_json(exchange).get("destinations", [])
    failing = [d for d in destinations if d.get("failure_ts") and (d.get("retry_interval") or 0) > 0]
    if failing:
        names = ", ".join(str(d.get("destination")) for d in failing[:5])
        more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
        raise fail(f"outbound federation is failing to {names}{more}", failure_mode="federation-broken")


def be_unreachable(exchange: Exchange, what: str) -> None:
    """The path must not be served through the public edge (404, 403 or 401 are fine)."""
    __tracebackhide__ = True
    if exchange.error is None and exchange.status is not None and 200 <= exchange.status < 300:
        raise fail(
            f"{exchange.request_line} answered {exchange.status} through the public edge: "
            f"{what} is exposed to the internet",
            failure_mode="security-exposure",
        )


def keep_registration_closed(exchange: Exchange, open_by_design: bool) -> None:
    """Registration without a token or other gate is a finding, unless the target says it is meant."""
    __tracebackhide__ = True
    if exchange.status == 403 or open_by_design:
        return
    document = exchange.json() if exchange.error is None and exchange.status == 401 else {}
    flows = [tuple(flow.get("stages", [])) for flow in (document or {}).get("flows", [])]
    ungated = [flow for flow in flows if set(flow) <= {"m.login.dummy", "m.login.terms"}]
    if ungated:
        raise fail(
            f"{exchange.request_line}: registration is open to anyone (flow {' -> '.join(ungated[0]) or 'none'})",
            failure_mode="security-exposure",
        )
