"""Check metadata, declared next to each check: layer, severity and the failure mode it detects."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import allure
import pytest

from synthetics.catalogue import CATALOGUE

__all__ = ["LAYERS", "SEVERITIES", "CheckInfo", "check", "check_info", "current_check"]

# Bottom of the stack first; the order is used to put a root cause before its consequences.
LAYERS = ("dns", "tls", "edge", "client-api", "federation", "aws", "journey", "admin", "security")
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")
MARKER = "check"
# A check's recorded property naming the server software that answered (for the report).
SERVER_VERSION = "server_version"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    layer: str
    severity: str
    detects: str
    needs: tuple[str, ...] = ()


# The check running now, so an assertion helper can name the failure mode the check declared.
current_check: contextvars.ContextVar[CheckInfo | None] = contextvars.ContextVar("current_check", default=None)


# Run modes (pytest markers, chosen with -m): which checks each use of the suite runs.
#   smoke      the public surface only: seconds, safe to run every minute
#   gate_pre   before a deploy: is production healthy enough to deploy onto (surface, database, capacity)
#   gate_post  after a deploy (with --wait-stable): everything
#   triage     everything, for a person in an incident
MODES = ("smoke", "gate_pre", "gate_post", "triage")
_SURFACE = frozenset({"dns", "tls", "edge", "client-api", "federation"})


# Allure groups checks by what an on-call engineer looks at: the surface, the AWS side, the users.
_EPICS = {layer: "Public surface" for layer in _SURFACE} | {
    "aws": "AWS",
    "journey": "Users",
    "admin": "Admin API",
    "security": "Security exposure",
}


def default_modes(layer: str) -> tuple[str, ...]:
    return MODES if layer in _SURFACE else ("gate_post", "triage")


def check(
    *,
    layer: str,
    severity: str,
    detects: str,
    title: str,
    modes: tuple[str, ...] | None = None,
    writes: bool = False,
    needs: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declares a function as a check. Mistakes fail at import, not at 3 a.m.

    `modes` defaults by layer (the public surface runs in every mode); `writes` marks a check that
    changes something (an object, a message), which --read-only skips; `needs` names the gates
    (lower layers, see fixtures/gates.py) that must be open for the check to mean anything.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; known: {', '.join(SEVERITIES)}")
    if detects not in CATALOGUE:
        raise ValueError(f"unknown failure mode {detects!r}; known: {', '.join(CATALOGUE)}")
    chosen = default_modes(layer) if modes is None else modes
    if unknown := set(chosen) - set(MODES):
        raise ValueError(f"unknown run mode(s) {sorted(unknown)}; known: {', '.join(MODES)}")
    marks = [getattr(pytest.mark, mode) for mode in chosen] + ([pytest.mark.writes] if writes else [])

    def decorate(function: F) -> F:
        for apply in (
            *marks,
            getattr(pytest.mark, MARKER)(layer=layer, severity=severity, detects=detects, title=title, needs=needs),
            allure.title(title),
            allure.epic(_EPICS.get(layer, "Synapse")),
            allure.feature(layer),
            allure.severity(severity),
            allure.tag(detects),
            # The runbook line this check automates, mapped in docs/runbook-map.md.
            allure.link(
                "docs/runbook-map.md#"
                + ("common-failure-modes" if CATALOGUE[detects].from_runbook else "beyond-the-runbook"),
                name=f"Runbook: {CATALOGUE[detects].symptom}",
            ),
        ):
            function = apply(function)
        return function

    return decorate


def check_info(item: pytest.Item) -> CheckInfo | None:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    module = item.module.__name__ if isinstance(item, pytest.Function) and item.module else ""
    area = module.rsplit(".", 1)[-1].removeprefix("test_")
    name = item.originalname if isinstance(item, pytest.Function) else item.name
    name = name.removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    suffix = f"[{callspec.id}]" if callspec is not None else ""
    return CheckInfo(
        id=f"{area}.{name}{suffix}",
        title=marker.kwargs["title"],
        layer=marker.kwargs["layer"],
        severity=marker.kwargs["severity"],
        detects=marker.kwargs["detects"],
        needs=tuple(marker.kwargs.get("needs", ())),
    )
