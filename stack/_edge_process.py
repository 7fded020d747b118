"""Running the edge (`python -m stack.edge`) as one of the deployment's processes."""

from __future__ import annotations

import sys

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, last_line, port_open, python_env, spawn, wait_until
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack.edge import EdgeConfig, load_config, save_config

READY_S = 15.0


def write_config(
    layout: Layout,
    *,
    port: int,
    origin_port: int,
    closed_port: int,
    address_port: int | None = None,
    federation_port: int | None = None,
) -> None:
    """`port` is the zone's HTTPS listener (443); `address_port` one more like it, which the target
    maps the second address of each family to; `federation_port` the listener an SRV record's target
    port is mapped to (Cloudflare's 8443 with an origin rule); `closed_port` is bound, never listening."""
    config = EdgeConfig(
        listen_host="127.0.0.1",
        listen_port=port,
        address_ports=[] if address_port is None else [address_port],
        federation_port=federation_port,
        certfile=str(layout.edge_cert),
        keyfile=str(layout.edge_key),
        origin_url=f"http://127.0.0.1:{origin_port}",
        origin_host=PUBLIC_HOST,
        apex_host=SERVER_NAME,
        wellknown_server={"m.server": f"{PUBLIC_HOST}:443"},
        wellknown_client={"m.homeserver": {"base_url": f"https://{PUBLIC_HOST}"}},
        closed_ports=[closed_port],
        request_log=str(layout.edge_requests),
    )
    save_config(layout.edge_json, config)


def start(layout: Layout) -> ProcRef:
    argv = [sys.executable, "-m", "stack.edge", str(layout.edge_json)]
    return spawn(argv, log=layout.edge_log, cwd=layout.root, env=python_env())


def listening_ports(layout: Layout) -> list[int]:
    """Every port the edge listens on, as its edge.json says."""
    config = load_config(layout.edge_json)
    extra = [] if config.federation_port is None else [config.federation_port]
    return [config.listen_port, *config.address_ports, *extra]


def wait_listening(layout: Layout, edge: ProcRef, port: int) -> None:
    """Until the edge listens on `port` and every other port of its edge.json."""
    ports = [port, *(p for p in listening_ports(layout) if p != port)]

    def ready() -> bool:
        if not is_running(edge):
            raise StackError(f"edge exited during startup: {last_line(layout.edge_log)}")
        return all(port_open(each) for each in ports)

    if not wait_until(ready, timeout_s=READY_S):
        listed = ", ".join(f"127.0.0.1:{each}" for each in ports)
        raise StackError(f"edge not listening on {listed} within {READY_S:.0f} s")
