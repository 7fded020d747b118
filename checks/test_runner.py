"""The runner itself: before anything is said about chat, the machine probing it must reach the network."""

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.layers import Layer
from synthetics.runner import ControlReport


@check(
    layer=Layer.RUNNER,
    severity=Severity.BLOCKER,
    detects=Mode.RUNNER_OFFLINE,
    title="The runner reaches what it should always reach (network.control)",
    proven_by=("control-resolver-silent",),
)
def test_network_reachable(network_control: ControlReport) -> None:
    must.reach_the_network(network_control)
