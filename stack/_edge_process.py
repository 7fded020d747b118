"""Running the edge (`python -m stack.edge`) as one of the deployment's processes."""

from __future__ import annotations

import sys

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, last_line, port_open, python_env, spawn, wait_until
from stack._synapse import PUBLIC_HOST, SERVER_NAME
from stack.edge import EdgeConfig, save_config

READY_S = 15.0


def write_config(layout: Layout, *, port: int, origin_port: int, closed_port: int) -> None:
    config = EdgeConfig(
        listen_host="127.0.0.1",
        listen_port=port,
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


def wait_listening(layout: Layout, edge: ProcRef, port: int) -> None:
    def ready() -> bool:
        if not is_running(edge):
            raise StackError(f"edge exited during startup: {last_line(layout.edge_log)}")
        return port_open(port)

    if not wait_until(ready, timeout_s=READY_S):
        raise StackError(f"edge not listening on 127.0.0.1:{port} within {READY_S:.0f} s")
