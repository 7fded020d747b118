"""Check metadata, declared next to each check: layer, severity, the failure mode it detects, how
its evidence may name a lower layer's failure instead, and the faults that prove it."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import allure
import pytest

from synthetics.catalogue import CATALOGUE, Mode
from synthetics.layers import Layer

__all__ = [
    "ALL_READINGS",
    "MARKER",
    "WRITES",
    "CheckInfo",
    "Impact",
    "Reading",
    "RunMode",
    "Severity",
    "check",
    "check_info",
    "current_check",
    "proven_for",
]

MARKER = "check"
# The marker of a check that changes something (an object, a message): --read-only skips it.
WRITES = "writes"

F = TypeVar("F", bound=Callable[..., Any])


class Severity(StrEnum):
    """Allure's severities, gravest first."""

    BLOCKER = "blocker"
    CRITICAL = "critical"
    NORMAL = "normal"
    MINOR = "minor"
    TRIVIAL = "trivial"


class Impact(StrEnum):
    """What a finding means for the run's status: users hurt, something exposed, or a warning."""

    OUTAGE = "outage"  # users are hurt: the run is unhealthy
    EXPOSURE = "exposure"  # data or the admin surface is open to anyone: the run is unhealthy
    WARNING = "warning"  # chat works, something needs attention soon: the run is degraded

    @property
    def hurts(self) -> bool:
        """Whether a finding of this impact makes the run unhealthy (a warning only degrades it)."""
        return self is not Impact.WARNING


class RunMode(StrEnum):
    """Run modes (pytest markers, chosen with -m): which checks each use of the suite runs."""

    SMOKE = "smoke"
    GATE_PRE = "gate_pre"
    GATE_POST = "gate_post"
    TRIAGE = "triage"

    @property
    def purpose(self) -> str:
        """What the mode is for: the marker's description in `pytest --markers`."""
        return _PURPOSES[self]


_PURPOSES = {
    RunMode.SMOKE: "the public surface only: seconds, safe to run every minute",
    RunMode.GATE_PRE: "before a deploy: is production healthy enough to deploy onto",
    RunMode.GATE_POST: "after a deploy (with --wait-stable): everything",
    RunMode.TRIAGE: "everything, with full evidence, for a person in an incident",
}


class Reading(StrEnum):
    """How a check's HTTP evidence may name a lower layer's failure mode instead of the check's own."""

    # The edge's own answer (a Cloudflare 502/52x page, a challenge) names the origin's, TLS's or the WAF's mode.
    EDGE_ANSWER = "edge-answer"
    # No HTTP answer at all: the transport error names its layer (DNS, TLS, the edge). Without this
    # reading, no answer is the check's own failure (a closed federation port is federation broken).
    NO_ANSWER = "no-answer"


ALL_READINGS: tuple[Reading, ...] = (Reading.EDGE_ANSWER, Reading.NO_ANSWER)
# A name of `proven_by`: a fault or proof, optionally with the one parameter of the check it proves.
_PROOF_NAME = re.compile(r"^(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)(?:\[(?P<param>[^\[\]]+)\])?$")
_DEEPER_CHECKS = (RunMode.GATE_POST, RunMode.TRIAGE)


@dataclass(frozen=True)
class CheckInfo:
    id: str
    title: str
    layer: Layer
    severity: Severity
    detects: Mode
    impact: Impact = Impact.OUTAGE
    needs: tuple[str, ...] = ()
    reads: tuple[Reading, ...] = ALL_READINGS
    proven_by: tuple[str, ...] = ()


# The check running now, so an assertion helper can name the failure mode the check declared.
current_check: contextvars.ContextVar[CheckInfo | None] = contextvars.ContextVar("current_check", default=None)


def default_modes(layer: Layer) -> tuple[RunMode, ...]:
    return tuple(RunMode) if layer.public_surface else _DEEPER_CHECKS


def check(
    *,
    layer: Layer,
    severity: Severity,
    detects: Mode,
    title: str,
    impact: Impact = Impact.OUTAGE,
    modes: tuple[RunMode, ...] | None = None,
    writes: bool = False,
    needs: tuple[str, ...] = (),
    reads: tuple[Reading, ...] = ALL_READINGS,
    proven_by: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declares a function as a check. Mistakes fail at import, not at 3 a.m.

    `impact` is what the check failing means (an outage, or an exposure of data or the admin
    surface); a finding the check's helper judges a warning (`must.warn`) only degrades the run.
    `modes` defaults by layer (the public surface runs in every mode); `writes` marks a check that
    changes something (an object, a message), which --read-only skips; `needs` names the gates
    (lower layers, see fixtures/gates.py) that must be open for the check to mean anything;
    `reads` says how its evidence may name a lower layer's failure; `proven_by` names the faults of
    the reference deployment (`python -m stack fault --list`, or a proof of tests/suite) under which
    the check has been seen failing with `detects`; `"name[param]"` when it proves one parameter of
    a parametrised check only (`"dns-missing[chat-host]"`: the fault removes the chat host's records,
    not the server name's).
    """
    layer, severity, detects, impact = Layer(layer), Severity(severity), Mode(detects), Impact(impact)
    if not impact.hurts:
        raise ValueError("a check's failure hurts (an outage or an exposure); a warning is must.warn's finding")
    if isinstance(proven_by, str) or not all(_PROOF_NAME.match(name) for name in proven_by):
        raise ValueError(f"proven_by takes a tuple of fault or proof names, optionally name[param]: {proven_by!r}")
    chosen = default_modes(layer) if modes is None else tuple(RunMode(mode) for mode in modes)
    marks = [getattr(pytest.mark, mode.value) for mode in chosen] + ([getattr(pytest.mark, WRITES)] if writes else [])
    mode = CATALOGUE[detects]

    def decorate(function: F) -> F:
        for apply in (
            *marks,
            getattr(pytest.mark, MARKER)(
                layer=layer,
                severity=severity,
                detects=detects,
                impact=impact,
                title=title,
                needs=needs,
                reads=tuple(Reading(r) for r in reads),
                proven_by=proven_by,
            ),
            allure.title(title),
            allure.epic(layer.epic),
            allure.feature(layer.value),
            allure.severity(allure.severity_level(severity.value)),
            allure.tag(detects.value),
            # The runbook line this check automates, mapped in docs/runbook-map.md.
            allure.link(
                "docs/runbook-map.md#" + ("common-failure-modes" if mode.from_runbook else "beyond-the-runbook"),
                name=f"Runbook: {mode.symptom}",
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
        impact=marker.kwargs.get("impact", Impact.OUTAGE),
        needs=tuple(marker.kwargs.get("needs", ())),
        reads=tuple(marker.kwargs.get("reads", ALL_READINGS)),
        proven_by=proven_for(tuple(marker.kwargs.get("proven_by", ())), callspec.id if callspec is not None else None),
    )


def proven_for(declared: tuple[str, ...], param: str | None) -> tuple[str, ...]:
    """The names of `proven_by` that prove this parameter of a check (all of them when it has none):
    a bare name proves every parameter, `name[param]` only that one."""
    chosen = []
    for each in declared:
        match = _PROOF_NAME.match(each)
        if match is not None and match["param"] in (None, param) and match["name"] not in chosen:
            chosen.append(match["name"])
    return tuple(chosen)
