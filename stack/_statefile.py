"""state.json: what a deployment started, so any process can inspect or stop it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack._process import ProcRef, is_running

COMPONENTS = ("postgres", "moto", "synapse", "edge", "dns", "shipper", "reaper")


@dataclass
class StateRecord:
    owner: ProcRef | None = None
    processes: dict[str, ProcRef] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    # Components stopped on purpose (by a fault): down, yet the deployment is not broken.
    stopped: list[str] = field(default_factory=list)
    # Set once `up` has finished; a record without it belongs to an `up` that never completed.
    ready: bool = False
    # What faults and components need to remember between processes (JSON values only).
    extra: dict[str, Any] = field(default_factory=dict)

    def is_live(self) -> bool:
        """Up, its owner (if any) alive, and every component not stopped on purpose running."""
        if not self.ready or (self.owner is not None and not is_running(self.owner)):
            return False
        return all(is_running(ref) for name, ref in self.processes.items() if name not in self.stopped)

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner.to_json() if self.owner else None,
            "processes": {name: ref.to_json() for name, ref in self.processes.items()},
            "ports": self.ports,
            "faults": self.faults,
            "stopped": self.stopped,
            "ready": self.ready,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StateRecord:
        owner = data.get("owner")
        return cls(
            owner=ProcRef.from_json(owner) if owner else None,
            processes={k: ProcRef.from_json(v) for k, v in data.get("processes", {}).items()},
            ports={k: int(v) for k, v in data.get("ports", {}).items()},
            faults=list(data.get("faults", [])),
            stopped=list(data.get("stopped", [])),
            ready=bool(data.get("ready", False)),
            extra=dict(data.get("extra", {})),
        )


def load(path: Path) -> StateRecord | None:
    try:
        return StateRecord.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path, record: StateRecord) -> None:
    # Written whole and renamed, so a reader in another process never sees half a file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
