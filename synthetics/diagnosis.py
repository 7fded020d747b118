"""The diagnosis: which failure modes the failed checks show, the likeliest root cause first.

Ranking reads the evidence, not a fixed order alone:
- a lower layer's failure explains the failures above it (the catalogue's layer, then its order);
- a mode whose every failing check is an indirect view (AWS's or the admin API's account, the
  runner's; Synapse's own metrics are live, not indirect) while a live probe of the same mode at or
  below that layer passed is contradicted: the origin answering /versions outranks the admin API
  failing, so such a mode never ranks first while an uncontradicted one is there;
- a finding that hurts (an outage, an exposure) outranks every warning, which only degrades the run,
  and a live warning outranks one about evidence that ended before the run ("recovered");
- within a mode, Synapse's own metrics (the cause) come before the outside checks (its symptoms);
- the first entry says why it outranks the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthetics.catalogue import CATALOGUE, Mode, render_remediation
from synthetics.check import Impact, Severity
from synthetics.layers import Layer
from synthetics.record import CheckRecord, Outcome
from synthetics.target import Target

__all__ = ["Finding", "diagnose", "rank_findings"]

_SEVERITIES = tuple(Severity)


@dataclass(frozen=True)
class Finding:
    mode: Mode
    evidence: tuple[CheckRecord, ...]  # the failed checks that name the mode (or, for a warning, the passed ones)
    contradicted_by: tuple[CheckRecord, ...]  # passed live probes of the same mode

    @property
    def concerns_chat(self) -> bool:
        return CATALOGUE[self.mode].concerns_chat

    @property
    def impact(self) -> Impact:
        """A failure's gravest declared impact (an exposure, else an outage); passed evidence, a warning."""
        if not any(r.outcome == Outcome.FAILED for r in self.evidence):
            return Impact.WARNING
        return Impact.EXPOSURE if any(r.impact is Impact.EXPOSURE for r in self.evidence) else Impact.OUTAGE

    @property
    def recovered(self) -> bool:
        """A warning about evidence that ended before the run began, and nothing else."""
        return self.impact is Impact.WARNING and all(r.recovered for r in self.evidence)

    def likelihood(self) -> tuple[bool, bool, bool, tuple[int, int], int, int, int]:
        # What hurts first, then live warnings before recovered ones (the past explains nothing now),
        # uncontradicted first; then the lowest layer, the gravest check, the most evidence.
        lowest_layer = min(r.layer.depth for r in self.evidence)
        gravest = min(_SEVERITIES.index(r.severity) for r in self.evidence)
        return (
            not self.impact.hurts,
            self.recovered,
            bool(self.contradicted_by),
            CATALOGUE[self.mode].rank,
            lowest_layer,
            gravest,
            -len(self.evidence),
        )


def _contradictions(
    mode: Mode, evidence: Sequence[CheckRecord], records: Sequence[CheckRecord]
) -> tuple[CheckRecord, ...]:
    if any(r.layer.live for r in evidence):
        # A live probe saw it fail, or Synapse measured it: that is not contradicted by another one passing.
        return ()
    lowest = min(r.layer.depth for r in evidence)
    return tuple(
        r
        for r in records
        if r.outcome == Outcome.PASSED and r.detects == mode and r.layer.seen_from_outside and r.layer.depth <= lowest
    )


def _causes_first(evidence: Sequence[CheckRecord]) -> tuple[CheckRecord, ...]:
    """Synapse's own measurements of a mode first (a pool out of connections), then the symptoms
    seen from outside (a slow or failing endpoint): the diagnosis cites the cause first."""
    return tuple(sorted(evidence, key=lambda r: r.layer is not Layer.METRICS))


def rank_findings(records: Sequence[CheckRecord]) -> list[Finding]:
    """The failure modes the failed checks name, likeliest root cause first; then the warnings."""
    failing: dict[Mode, list[CheckRecord]] = {}
    warned: dict[Mode, list[CheckRecord]] = {}
    for record in records:
        if record.outcome == Outcome.FAILED and record.failure_mode:
            failing.setdefault(record.failure_mode, []).append(record)
        elif record.outcome == Outcome.PASSED and record.warnings and record.failure_mode:
            warned.setdefault(record.failure_mode, []).append(record)
    findings = [
        Finding(mode, _causes_first(evidence), _contradictions(mode, evidence, records))
        for mode, evidence in failing.items()
    ]
    # A mode that also fails is that failure; its warnings add nothing to the ranking.
    findings += [Finding(mode, tuple(evidence), ()) for mode, evidence in warned.items() if mode not in failing]
    return sorted(findings, key=Finding.likelihood)


def _why_first(first: Finding, others: Sequence[Finding]) -> str:
    layer = CATALOGUE[first.mode].layer
    reasons = []
    # Warnings rank after whatever hurts: the first is compared with its peers, the rest only warn.
    warnings = [f.mode for f in others if first.impact.hurts and not f.impact.hurts]
    others = [f for f in others if f.impact.hurts == first.impact.hurts]
    if not others:
        what = "failure mode" if first.impact.hurts else "warning"
        reasons.append(f"the only {what} seen ({len(first.evidence)} check(s))")
    above = [f.mode for f in others if not f.contradicted_by and CATALOGUE[f.mode].layer.depth > layer.depth]
    level = [f.mode for f in others if not f.contradicted_by and CATALOGUE[f.mode].layer == layer]
    if above:
        reasons.append(f"its layer ({layer}) lies below those of {', '.join(above)}, so it may explain them")
    if level:
        reasons.append(f"of the modes of its layer it comes first in the catalogue ({', '.join(level)} follow)")
    contradicted = [f for f in others if f.contradicted_by]
    for finding in contradicted:
        passed = ", ".join(r.id for r in finding.contradicted_by)
        reasons.append(f"{finding.mode} is contradicted by live evidence ({passed} passed)")
    if first.contradicted_by:
        passed = ", ".join(r.id for r in first.contradicted_by)
        reasons.append(f"though contradicted by live evidence ({passed} passed): the views disagree")
    if warnings and first.impact.hurts:
        reasons.append(f"it hurts ({first.impact}), while {', '.join(warnings)} only warn")
    return "; ".join(reasons)


def _conflicts(mode: Mode, evidence: Sequence[CheckRecord], records: Sequence[CheckRecord]) -> list[str]:
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


def diagnose(
    findings: Sequence[Finding], records: Sequence[CheckRecord], target: Target | None
) -> tuple[dict[str, Any], ...]:
    """The verdict's `diagnosis`: one entry per finding, in rank order; the first says why it is first."""
    entries = []
    for index, finding in enumerate(findings):
        mode = CATALOGUE[finding.mode]
        entry: dict[str, Any] = {
            "failure_mode": finding.mode,
            "title": f"{mode.symptom}: likely {mode.likely_cause[0].lower()}{mode.likely_cause[1:]}",
            "evidence": [r.id for r in finding.evidence],
            "remediation": render_remediation(mode, target) if target else [],
            "symptom": mode.symptom,
            "likely_cause": mode.likely_cause,
            "messages": [m for r in finding.evidence for m in ((r.message,) if r.message else r.warnings)],
            "impact": finding.impact,
        }
        if finding.recovered:
            entry["recovered"] = True
        if index == 0:
            entry["why_first"] = _why_first(finding, findings[1:])
        if finding.contradicted_by:
            entry["contradicted_by"] = [f"{r.id} passed" for r in finding.contradicted_by]
        conflicts = _conflicts(finding.mode, finding.evidence, records)
        if conflicts:
            entry["conflicts"] = conflicts
        entries.append(entry)
    return tuple(entries)
