"""The faults the reference deployment can inject, and what each should look like to the suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from stack._errors import StackError


class Controls(Protocol):
    """What a fault may do to a running deployment."""

    def stop_component(self, name: str) -> None: ...

    def start_component(self, name: str) -> None: ...


@dataclass(frozen=True)
class Fault:
    name: str
    failure_mode: str  # the diagnosis the suite should reach when this fault is injected
    summary: str
    inject: Callable[[Controls], None]
    heal: Callable[[Controls], None]


_ALL = (
    Fault(
        name="synapse-down",
        failure_mode="origin-down",
        summary="the Synapse process is stopped; the edge answers 502 Bad gateway",
        inject=lambda c: c.stop_component("synapse"),
        heal=lambda c: c.start_component("synapse"),
    ),
)

REGISTRY: dict[str, Fault] = {fault.name: fault for fault in _ALL}
FAULTS: dict[str, str] = {fault.name: fault.failure_mode for fault in _ALL}


def lookup(name: str) -> Fault:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise StackError(f"unknown fault {name!r} (known: {known})") from None
