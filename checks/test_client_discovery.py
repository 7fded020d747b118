"""Client discovery: /.well-known/matrix/client on the server name."""

from synthetics import must
from synthetics.check import check
from synthetics.exchange import Exchange
from synthetics.target import Target


@check(
    layer="client-api",
    severity="normal",
    detects="client-discovery-broken",
    title="/.well-known/matrix/client names the homeserver, readable by web clients",
)
def test_well_known_client(well_known_client: Exchange, target: Target) -> None:
    assert target.homeserver is not None
    must.advertise_homeserver(well_known_client, target.homeserver.base_url)
