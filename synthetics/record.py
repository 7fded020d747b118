"""One check's result, as the verdict and the diagnosis read it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from synthetics.catalogue import Mode
from synthetics.check import Impact, Severity
from synthetics.layers import Layer

__all__ = ["CheckRecord", "Outcome"]


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"  # the check could not get to its question: a suite defect, not a finding


@dataclass(frozen=True)
class CheckRecord:
    id: str
    nodeid: str
    layer: Layer
    severity: Severity
    outcome: Outcome
    failure_mode: Mode | None
    message: str
    duration_s: float
    warnings: tuple[str, ...] = ()
    blocked_by: str | None = None  # a skipped check behind a failing lower layer
    detects: Mode | None = None  # the failure mode the check looks for (declared), passed or not
    # What the finding means: a failed check's outage or exposure, or a passed check's warning
    # (then `failure_mode` is the mode its warnings name and `warnings` what they say).
    impact: Impact | None = None
    recovered: bool = False  # every warning is about evidence that ended before the run began
    notes: tuple[str, ...] = ()  # context for the reader; no status follows from them
    attempts: tuple[str, ...] = ()  # each attempt of a request the check judged that was tried again
    # What the check's evidence measured (for the metrics): the phases of the HTTP request it judged
    # as (phase, seconds), blackbox_exporter's resolve|connect|tls|processing|transfer; each
    # certificate it read as (host, notAfter in ISO 8601); the message journey's send-to-sync seconds.
    http_phases_s: tuple[tuple[str, float], ...] = ()
    certificates: tuple[tuple[str, str], ...] = ()
    message_delivery_s: float | None = None
