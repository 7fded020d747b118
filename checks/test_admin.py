"""The admin API's view: why a server is slow, and where outbound federation fails."""

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Reading, Severity, check
from synthetics.exchange import Exchange
from synthetics.layers import Layer
from synthetics.target import Target


@check(
    layer=Layer.ADMIN,
    severity=Severity.MINOR,
    detects=Mode.ORIGIN_DOWN,
    title="The admin API answers with the server version",
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("admin-api-unreachable",),
)
def test_server_version(admin_server_version: Exchange) -> None:
    must.answer_the_server_version(admin_server_version)


@check(
    layer=Layer.ADMIN,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="No background updates are running or pending",
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("background-update-running",),
)
def test_no_background_updates(background_updates: Exchange) -> None:
    must.have_no_pending_background_updates(background_updates)


@check(
    layer=Layer.ADMIN,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="No room has an outsized state",
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("room-over-state-threshold",),
)
def test_rooms_not_outsized(admin_rooms: Exchange, target: Target) -> None:
    must.keep_rooms_small(admin_rooms, target.thresholds.room_state_events)


@check(
    layer=Layer.ADMIN,
    severity=Severity.NORMAL,
    detects=Mode.FEDERATION_BROKEN,
    title="No outbound federation destination is failing",
    needs=("origin",),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("federation-destination-failing",),
)
def test_federation_destinations(federation_destinations: Exchange) -> None:
    must.reach_destinations(federation_destinations)
