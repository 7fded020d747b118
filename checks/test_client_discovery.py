"""Client discovery: /.well-known/matrix/client on the server name."""

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Reading, Severity, check
from synthetics.exchange import Followed
from synthetics.layers import Layer
from synthetics.target import Target


@check(
    layer=Layer.CLIENT_API,
    severity=Severity.NORMAL,
    detects=Mode.CLIENT_DISCOVERY_BROKEN,
    title="/.well-known/matrix/client names the homeserver, readable by web clients",
    reads=(Reading.EDGE_ANSWER,),
    needs=("dns:server-name", "tls:server-name"),
    proven_by=("client-wellknown-wrong",),
)
def test_well_known_client(well_known_client: Followed, target: Target) -> None:
    assert target.homeserver is not None
    must.advertise_homeserver(well_known_client, target.homeserver.base_url)
