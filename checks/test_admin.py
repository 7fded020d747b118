"""The admin API's view: why a server is slow, and where outbound federation fails."""

from fixtures.journeys import user_evidence
from synthetics import match, must
from synthetics.check import check
from synthetics.exchange import Exchange
from synthetics.survey import Survey
from synthetics.target import Target


@check(
    layer="admin",
    severity="minor",
    detects="origin-down",
    title="The admin API answers with the server version",
    needs=("origin",),
)
def test_server_version(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "admin:server_version")
    must.match_response(
        exchange, match.status(200), match.json_key_present("server_version"), failure_mode="origin-down"
    )


@check(
    layer="admin",
    severity="normal",
    detects="slow-performance",
    title="No background updates are running or pending",
    needs=("origin",),
)
def test_no_background_updates(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "admin:background_updates")
    must.have_no_pending_background_updates(exchange)


@check(
    layer="admin",
    severity="normal",
    detects="slow-performance",
    title="No room has an outsized state",
    needs=("origin",),
)
def test_rooms_not_outsized(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "admin:rooms")
    must.keep_rooms_small(exchange, target.thresholds.room_state_events)


@check(
    layer="admin",
    severity="normal",
    detects="federation-broken",
    title="No outbound federation destination is failing",
    needs=("origin",),
)
def test_federation_destinations(survey: Survey, target: Target) -> None:
    exchange: Exchange = user_evidence(survey, target, "admin:destinations")
    must.reach_destinations(exchange)
