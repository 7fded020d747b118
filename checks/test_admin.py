"""The admin API's view: why a server is slow, and where outbound federation fails."""

from synthetics import match, must
from synthetics.check import check
from synthetics.exchange import Exchange
from synthetics.target import Target


@check(
    layer="admin",
    severity="minor",
    detects="origin-down",
    title="The admin API answers with the server version",
    needs=("origin",),
)
def test_server_version(admin_server_version: Exchange) -> None:
    must.match_response(
        admin_server_version, match.status(200), match.json_key_present("server_version"), failure_mode="origin-down"
    )


@check(
    layer="admin",
    severity="normal",
    detects="slow-performance",
    title="No background updates are running or pending",
    needs=("origin",),
)
def test_no_background_updates(background_updates: Exchange) -> None:
    must.have_no_pending_background_updates(background_updates)


@check(
    layer="admin",
    severity="normal",
    detects="slow-performance",
    title="No room has an outsized state",
    needs=("origin",),
)
def test_rooms_not_outsized(admin_rooms: Exchange, target: Target) -> None:
    must.keep_rooms_small(admin_rooms, target.thresholds.room_state_events)


@check(
    layer="admin",
    severity="normal",
    detects="federation-broken",
    title="No outbound federation destination is failing",
    needs=("origin",),
)
def test_federation_destinations(federation_destinations: Exchange) -> None:
    must.reach_destinations(federation_destinations)
