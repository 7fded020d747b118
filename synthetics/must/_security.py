"""Assertions on what the internet can reach without credentials."""

from __future__ import annotations

from synthetics.exchange import Exchange
from synthetics.must._core import fail, match_response


def be_unreachable(exchange: Exchange, what: str) -> None:
    """The path must not be served through the public edge (404, 403 or 401 are fine).

    No answer at all proves nothing either way: it is the transport's failure, never a pass.
    """
    __tracebackhide__ = True
    if exchange.error is not None:
        match_response(exchange)
    if exchange.error is None and exchange.status is not None and 200 <= exchange.status < 300:
        raise fail(
            f"answered {exchange.status} through the public edge: {what} is exposed to the internet",
            exchange=exchange,
        )


def keep_registration_closed(exchange: Exchange, open_by_design: bool) -> None:
    """Registration without a token or other gate is a finding, unless the target says it is meant."""
    __tracebackhide__ = True
    if exchange.error is not None:
        match_response(exchange)  # no answer proves nothing: the transport's failure, never a pass
    if exchange.status == 403 or open_by_design:
        return
    flows = _offered_flows(exchange) if exchange.status == 401 else []
    ungated = [flow for flow in flows if set(flow) <= {"m.login.dummy", "m.login.terms"}]
    if ungated:
        raise fail(
            f"registration is open to anyone (flow {' -> '.join(ungated[0]) or 'none'})",
            exchange=exchange,
        )


def _offered_flows(exchange: Exchange) -> list[tuple[str, ...]]:
    """The stages of each flow a 401 offers; none when the answer is not Synapse's (an HTML login
    wall in front of it gates registration too)."""
    try:
        document = exchange.json()
    except ValueError:
        return []
    flows = document.get("flows") if isinstance(document, dict) else None
    if not isinstance(flows, list):
        return []
    offered = []
    for flow in flows:
        stages = flow.get("stages") if isinstance(flow, dict) else None
        if isinstance(stages, list):
            offered.append(tuple(str(stage) for stage in stages))
    return offered
