"""Assertions on what the internet can reach without credentials."""

from __future__ import annotations

from synthetics.exchange import Exchange
from synthetics.must._core import fail


def be_unreachable(exchange: Exchange, what: str) -> None:
    """The path must not be served through the public edge (404, 403 or 401 are fine)."""
    __tracebackhide__ = True
    if exchange.error is None and exchange.status is not None and 200 <= exchange.status < 300:
        raise fail(
            f"answered {exchange.status} through the public edge: {what} is exposed to the internet",
            exchange=exchange,
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
            f"registration is open to anyone (flow {' -> '.join(ungated[0]) or 'none'})",
            exchange=exchange,
        )
