"""What a fault is, and what it may do to a running deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, python_env, spawn, wait_until
from stack._statefile import StateRecord


class Controls(Protocol):
    """A running deployment, as a fault sees it."""

    @property
    def layout(self) -> Layout: ...

    @property
    def record(self) -> StateRecord: ...

    def save(self) -> None:
        """Persist changes made to `record` (e.g. in `record.extra`)."""

    def stop_component(self, name: str) -> None: ...

    def start_component(self, name: str) -> None: ...

    def restart_component(self, name: str) -> None: ...

    def edit_edge(self, **changes: Any) -> None:
        """Change fields of the running edge's edge.json (re-read per request)."""


@dataclass(frozen=True)
class Fault:
    name: str
    failure_mode: str  # the diagnosis the suite should reach when this fault is injected
    summary: str
    inject: Callable[[Controls], None]
    heal: Callable[[Controls], None]
    # The verdict's status the suite should reach with this fault injected (reports/verdict.json).
    status: str = "unhealthy"


def homeserver_config(controls: Controls) -> dict[str, Any]:
    """The homeserver.yaml Synapse runs with, for a fault to change (see `restart_synapse_with`)."""
    config: dict[str, Any] = yaml.safe_load(controls.layout.homeserver_yaml.read_text())
    return config


def restart_synapse_with(controls: Controls, config: Mapping[str, Any]) -> None:
    """Synapse restarted with `config` as its homeserver.yaml, as an operator's config change is made."""
    controls.layout.homeserver_yaml.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    controls.restart_component("synapse")


def start_helper(controls: Controls, name: str, argv: list[str], ready: str, *, timeout_s: float = 15.0) -> ProcRef:
    """A process a fault runs beside the deployment (`python -m stack._...`), recorded under `name` so
    that heal and `down` stop it, and ready once it has written the file `ready` in the state dir."""
    layout, record = controls.layout, controls.record
    marker = layout.root / ready
    marker.unlink(missing_ok=True)
    record.processes[name] = process = spawn(argv, log=layout.root / f"{name}.log", cwd=layout.root, env=python_env())
    controls.save()
    if not wait_until(lambda: marker.exists() or not is_running(process), timeout_s=timeout_s):
        raise StackError(f"the {name} was not ready within {timeout_s:.0f} s")
    if not marker.exists():
        raise StackError(f"the {name} exited before it was ready (see {name}.log)")
    return process
