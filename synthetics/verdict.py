"""The verdict: one machine-readable answer per run, and the short summary a person reads."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from synthetics.catalogue import CATALOGUE, Mode, render_remediation
from synthetics.check import Severity
from synthetics.layers import Layer
from synthetics.redact import Redactor
from synthetics.target import Target

__all__ = ["SCHEMA", "CheckRecord", "Outcome", "Status", "Verdict", "build_verdict", "summary_lines", "write_verdict"]

SCHEMA = 1


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"  # the check could not get to its question: a suite defect, not a finding


class Status(StrEnum):
    """The run's answer: the contract with alerting."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    INCOMPLETE = "incomplete"  # interrupted, or could not finish


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


@dataclass(frozen=True)
class Verdict:
    target: str
    status: Status
    started_at: str
    duration_s: float
    checks: tuple[CheckRecord, ...]
    diagnosis: tuple[dict[str, Any], ...]
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "target": self.target,
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "checks": [_record_json(record) for record in self.checks],
            "diagnosis": list(self.diagnosis),
        }
        if self.note:
            document["note"] = self.note
        return document


def _record_json(record: CheckRecord) -> dict[str, Any]:
    document = asdict(record) | {"duration_s": round(record.duration_s, 3)}
    for optional in ("warnings", "blocked_by", "detects"):
        if not document[optional]:
            del document[optional]
        elif isinstance(document[optional], tuple):
            document[optional] = list(document[optional])
    return document


_SEVERITIES = tuple(Severity)


def _diagnose(records: tuple[CheckRecord, ...], target: Target | None) -> tuple[dict[str, Any], ...]:
    failing: dict[Mode, list[CheckRecord]] = {}
    for record in records:
        if record.outcome == Outcome.FAILED and record.failure_mode:
            failing.setdefault(record.failure_mode, []).append(record)

    def likelihood(item: tuple[Mode, list[CheckRecord]]) -> tuple[tuple[int, int], int, int, int]:
        mode, evidence = item
        # Root cause first: the lowest layer of the stack, then the gravest check, then the most evidence.
        lowest_layer = min(r.layer.depth for r in evidence)
        gravest = min(_SEVERITIES.index(r.severity) for r in evidence)
        return (CATALOGUE[mode].rank, lowest_layer, gravest, -len(evidence))

    diagnosis = []
    for mode_name, evidence in sorted(failing.items(), key=likelihood):
        mode = CATALOGUE[mode_name]
        entry: dict[str, Any] = {
            "failure_mode": mode_name,
            "title": f"{mode.symptom}: likely {mode.likely_cause[0].lower()}{mode.likely_cause[1:]}",
            "evidence": [r.id for r in evidence],
            "remediation": render_remediation(mode, target) if target else [],
            "symptom": mode.symptom,
            "likely_cause": mode.likely_cause,
        }
        entry["messages"] = [r.message for r in evidence]
        conflicts = _conflicts(mode_name, evidence, records)
        if conflicts:
            entry["conflicts"] = conflicts
        diagnosis.append(entry)
    return tuple(diagnosis)


def _conflicts(mode: Mode, evidence: list[CheckRecord], records: tuple[CheckRecord, ...]) -> list[str]:
    """Checks of the other side (public vs AWS) that look for the same failure mode and passed."""
    sides = {r.layer.seen_from_outside for r in evidence}
    disagreeing = [
        r for r in records
        if r.outcome == Outcome.PASSED and r.detects == mode and r.layer.seen_from_outside not in sides
    ]  # fmt: skip
    return [
        f"{r.id} passed: the {'public side' if r.layer.seen_from_outside else 'AWS side'} does not show {mode}, "
        "so the cause may lie between what each side sees (or one side's view is stale)"
        for r in disagreeing
    ]


def build_verdict(
    *,
    target_name: str,
    target: Target | None,
    started_at: str,
    duration_s: float,
    records: list[CheckRecord],
    complete: bool,
    note: str = "",
) -> Verdict:
    ordered = tuple(sorted(records, key=lambda r: r.nodeid))
    unhealthy = any(r.outcome in (Outcome.FAILED, Outcome.ERROR) for r in ordered)
    if unhealthy:
        status = Status.UNHEALTHY
    elif complete and any(r.outcome == Outcome.PASSED for r in ordered):
        status = Status.HEALTHY
    else:
        status = Status.INCOMPLETE
    return Verdict(
        target=target_name,
        status=status,
        started_at=started_at,
        duration_s=duration_s,
        checks=ordered,
        diagnosis=_diagnose(ordered, target),
        note=note,
    )


def write_verdict(verdict: Verdict, path: Path, redact: Redactor) -> None:
    """Writes atomically, so a reader never sees half a verdict; secrets are redacted on the way."""
    text = json.dumps(redact.json(verdict.as_json()), indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".verdict-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary_lines(verdict: Verdict, verdict_path: Path) -> list[str]:
    counts = {outcome: sum(1 for r in verdict.checks if r.outcome == outcome) for outcome in Outcome}
    tally = ", ".join(f"{counts[o]} {o}" for o in Outcome if counts[o])
    lines = [
        f"Synthetics: {verdict.status.upper()}: target {verdict.target}, {tally or 'no checks ran'}, "
        f"{verdict.duration_s:.1f} s (verdict: {verdict_path})"
    ]
    if verdict.note:
        lines.append(f"  note: {verdict.note}")
    for number, entry in enumerate(verdict.diagnosis, start=1):
        lines.append(f"{number}. [{entry['failure_mode']}] {entry.get('symptom', entry['title'])}")
        if "likely_cause" in entry:
            lines.append(f"   likely cause: {entry['likely_cause']}")
        for conflict in entry.get("conflicts", []):
            lines.append(f"   evidence conflicts: {conflict}")
        lines.append(f"   seen by: {', '.join(entry['evidence'])}")
        for message in list(dict.fromkeys(entry["messages"]))[:2]:
            lines.append(f"   - {message}")
        if entry["remediation"]:
            lines.append("   what to do:")
            lines.extend(f"     {step}" for step in entry["remediation"])
    blocked: dict[str, int] = {}
    for record in verdict.checks:
        if record.blocked_by:
            blocked[record.blocked_by] = blocked.get(record.blocked_by, 0) + 1
    for blocker, count in blocked.items():
        lines.append(f"{count} check(s) not judged: blocked by {blocker}")
    errored = [r for r in verdict.checks if r.outcome == Outcome.ERROR]
    if errored:
        lines.append(f"{len(errored)} check(s) could not run to a result (an error, not a finding):")
        lines.extend(f"   - {r.id}: {r.message}" for r in errored[:5])
    return lines
