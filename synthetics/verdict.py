"""The verdict: one machine-readable answer per run, and the short summary a person reads."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from synthetics.bounds import MAX_VERDICT_BYTES, bounded
from synthetics.diagnosis import diagnose, rank_findings
from synthetics.record import CheckRecord, Outcome
from synthetics.redact import Redactor
from synthetics.target import Target

__all__ = ["EXIT_STATUS", "SCHEMA", "Status", "Verdict", "build_verdict", "summary_lines", "write_verdict"]

SCHEMA = 1
_MAX_WARNINGS = 20  # per check


class Status(StrEnum):
    """The run's answer: the contract with alerting."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"  # chat works for users; something needs attention soon (a ticket, not a page)
    UNHEALTHY = "unhealthy"  # users are hurt, or data or the admin surface is exposed
    INCOMPLETE = "incomplete"  # interrupted, or could not finish
    INCONCLUSIVE = "inconclusive"  # the runner itself could not reach the network: nothing said about chat

    @property
    def judged(self) -> bool:
        """True when the run looked at the whole target, so it may resolve what an earlier run raised:
        an interrupted (incomplete) or blind (inconclusive) run says nothing about what it did not see."""
        return self in (Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY)


# The process's exit status for each verdict status (4, a bad target, comes before any verdict);
# `--fail-on-degraded` makes degraded 1, for gates that want that.
EXIT_STATUS = {
    Status.HEALTHY: 0,
    Status.DEGRADED: 0,
    Status.UNHEALTHY: 1,
    Status.INCOMPLETE: 2,
    Status.INCONCLUSIVE: 6,
}


@dataclass(frozen=True)
class Verdict:
    target: str
    status: Status
    started_at: str
    duration_s: float
    checks: tuple[CheckRecord, ...]
    diagnosis: tuple[dict[str, Any], ...]
    note: str = ""
    # The bound the run should end within: the network timeout for each probe of the longest chain
    # of dependent probes, any --wait-stable, and 2 s (None before the plan is known).
    deadline_s: float | None = None
    # Where the run ran (github, vpc, local...): fixtures/options.py `vantage`; "" when not known.
    vantage: str = ""
    # How the checks were narrowed (`-m gate_pre`, `-k tls`, a path): "" when every check was chosen.
    # A narrowed run judged part of the target, so it pushes nothing that could resolve an alert.
    selection: str = ""

    @property
    def certificates(self) -> dict[str, str]:
        """Each host's certificate notAfter (ISO 8601), from the TLS probes the checks read."""
        return dict(sorted({host: not_after for r in self.checks for host, not_after in r.certificates}.items()))

    @property
    def message_delivery_s(self) -> float | None:
        """The message journey's send-to-sync seconds, when a check read a journey that got through."""
        return next((r.message_delivery_s for r in self.checks if r.message_delivery_s is not None), None)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "target": self.target,
            **({"vantage": self.vantage} if self.vantage else {}),
            **({"selection": self.selection} if self.selection else {}),
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            **({"deadline_s": round(self.deadline_s, 3)} if self.deadline_s is not None else {}),
            "checks": [_record_json(record) for record in self.checks],
            "diagnosis": list(self.diagnosis),
        }
        if self.certificates:
            document["certificates"] = self.certificates
        if self.message_delivery_s is not None:
            document["message_delivery_s"] = self.message_delivery_s
        if self.note:
            document["note"] = self.note
        return document


def _record_json(record: CheckRecord) -> dict[str, Any]:
    document = asdict(record) | {"duration_s": round(record.duration_s, 3)}
    document |= {"http_phases_s": dict(record.http_phases_s), "certificates": dict(record.certificates)}
    optionals = ("warnings", "blocked_by", "detects", "impact", "recovered", "notes", "attempts",
                 "http_phases_s", "certificates")  # fmt: skip
    for optional in optionals:
        if not document[optional]:
            del document[optional]
        elif isinstance(document[optional], tuple):
            document[optional] = list(document[optional])
    if document["message_delivery_s"] is None:
        del document["message_delivery_s"]
    return document


def build_verdict(
    *,
    target_name: str,
    target: Target | None,
    started_at: str,
    duration_s: float,
    records: list[CheckRecord],
    complete: bool,
    note: str = "",
    deadline_s: float | None = None,
    vantage: str = "",
    selection: str = "",
) -> Verdict:
    ordered = tuple(
        sorted(
            (replace(r, message=bounded(r.message), warnings=tuple(bounded(w) for w in r.warnings[:_MAX_WARNINGS]),
                     notes=tuple(bounded(n) for n in r.notes[:_MAX_WARNINGS]),
                     attempts=tuple(bounded(a) for a in r.attempts[:_MAX_WARNINGS]))
             for r in records),
            key=lambda r: r.nodeid,
        )
    )  # fmt: skip
    findings = rank_findings(ordered)
    unhealthy = any(r.outcome in (Outcome.FAILED, Outcome.ERROR) for r in ordered)
    warned = any(r.outcome == Outcome.PASSED and r.warnings for r in ordered)
    if findings and not findings[0].concerns_chat:
        # The probing side failed: what the chat checks saw is the runner's blindness, not chat.
        status = Status.INCONCLUSIVE
        not_judged = sorted({f.mode for f in findings if f.concerns_chat})
        findings = [f for f in findings if not f.concerns_chat]
        if not_judged:
            note = "; ".join(filter(None, [note, f"not judged while the runner is cut off: {', '.join(not_judged)}"]))
    elif unhealthy:
        status = Status.UNHEALTHY
    elif not complete or not any(r.outcome == Outcome.PASSED for r in ordered):
        status = Status.INCOMPLETE
    elif warned:
        status = Status.DEGRADED
    else:
        status = Status.HEALTHY
    return Verdict(
        target=target_name,
        status=status,
        started_at=started_at,
        duration_s=duration_s,
        checks=ordered,
        diagnosis=diagnose(findings, ordered, target),
        note=bounded(note),
        deadline_s=deadline_s,
        vantage=vantage,
        selection=selection,
    )


def _within_size(document: dict[str, Any]) -> str:
    """The verdict as text, at most MAX_VERDICT_BYTES: messages are cut shorter until it fits."""
    for limit in (None, 300, 80):
        if limit is not None:
            document["truncated"] = (
                f"messages cut to {limit} characters to keep the verdict under {MAX_VERDICT_BYTES} bytes"
            )
            for record in document["checks"]:
                record["message"] = bounded(record["message"], limit)
                record.pop("notes", None)
                if "warnings" in record:
                    record["warnings"] = [bounded(warning, limit) for warning in record["warnings"][:1]]
            for entry in document["diagnosis"]:
                entry["messages"] = [bounded(message, limit) for message in entry["messages"][:3]]
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if len(text.encode()) <= MAX_VERDICT_BYTES:
            break
    return text


def write_verdict(verdict: Verdict, path: Path, redact: Redactor) -> None:
    """Writes atomically, so a reader never sees half a verdict; secrets are redacted on the way."""
    text = _within_size(redact.json(verdict.as_json()))
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
        f"{verdict.duration_s:.1f} s"
        + (f" of its {verdict.deadline_s:g} s deadline" if verdict.deadline_s is not None else "")
        + f" (verdict: {verdict_path})"
    ]
    if verdict.status == Status.INCONCLUSIVE:
        lines.append(
            "  the runner could not reach the network: nothing here is about chat; what it tried is below. "
            "Check the runner, or run from another vantage point"
        )
    if verdict.status == Status.DEGRADED:
        lines.append("  chat works for its users; the warnings below need attention soon (a ticket, not a page)")
    if verdict.note:
        lines.append(f"  note: {verdict.note}")
    for number, entry in enumerate(verdict.diagnosis, start=1):
        impact = f" ({entry['impact']})" if entry.get("impact") == "warning" else ""
        lines.append(f"{number}. [{entry['failure_mode']}]{impact} {entry.get('symptom', entry['title'])}")
        if "likely_cause" in entry:
            lines.append(f"   likely cause: {entry['likely_cause']}")
        if "why_first" in entry and len(verdict.diagnosis) > 1:
            lines.append(f"   why first: {entry['why_first']}")
        if "contradicted_by" in entry:
            lines.append(f"   contradicted by: {', '.join(entry['contradicted_by'])}")
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
    retried = [r for r in verdict.checks if r.attempts]
    if retried:
        lines.append(f"{len(retried)} check(s) judged a request that was tried again:")
        lines.extend(f"   - {r.id} ({r.outcome}): {'; '.join(r.attempts[:3])}" for r in retried[:5])
    errored = [r for r in verdict.checks if r.outcome == Outcome.ERROR]
    if errored:
        lines.append(f"{len(errored)} check(s) could not run to a result (an error, not a finding):")
        lines.extend(f"   - {r.id}: {r.message}" for r in errored[:5])
    return lines
