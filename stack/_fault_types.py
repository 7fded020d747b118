"""What a fault is, and what it may do to a running deployment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from stack._layout import Layout
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
