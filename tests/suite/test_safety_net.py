"""`make test` runs with loopback as the only network, so no probe can leave the machine."""

import os
import socket

import pytest


def test_only_loopback_is_reachable_when_the_private_network_is_on() -> None:
    if os.environ.get("SYNTHETICS_PRIVATE_NETWORK") != "1":
        pytest.skip("not run through scripts/private-network (needs root and unshare)")
    assert {name for _, name in socket.if_nameindex()} == {"lo"}
    with pytest.raises(OSError):
        # A documentation address (TEST-NET-3): with no route, the kernel refuses before any packet.
        socket.create_connection(("203.0.113.1", 443), timeout=1)
