"""Assertions on synthetic user journeys: a message arrives, a picture comes back."""

from __future__ import annotations

from synthetics import match
from synthetics.journey import Journey
from synthetics.must._core import fail, match_response, note


def complete(journey: Journey) -> None:
    """Every step succeeded; a failed step that reads the database names the database instead."""
    __tracebackhide__ = True
    cause = journey.lower_cause()
    failed = journey.failed
    if failed is not None and failed.exchange is not None:
        match_response(failed.exchange, match.status(200), failure_mode=cause)
        raise fail(f"{failed.note or journey.problem}", failure_mode=cause, exchange=failed.exchange)
    if journey.problem:
        raise fail(journey.problem, failure_mode=cause)
    if journey.latency_ms is not None:
        note(f"send to /sync took {journey.latency_ms:.0f} ms")
