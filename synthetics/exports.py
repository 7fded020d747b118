"""The verdict for other tools: a Markdown summary (CI step summaries) and Prometheus text."""

from __future__ import annotations

from synthetics.catalogue import CATALOGUE
from synthetics.verdict import Status, Verdict

__all__ = ["markdown_summary", "prometheus_text"]


def markdown_summary(verdict: Verdict) -> str:
    icon = {"healthy": "✅", "unhealthy": "❌"}.get(verdict.status, "⚠️")
    counts = {o: sum(1 for c in verdict.checks if c.outcome == o) for o in ("passed", "failed", "skipped", "error")}
    lines = [
        f"## {icon} Synthetics: {verdict.status} ({verdict.target})",
        "",
        ", ".join(f"{n} {o}" for o, n in counts.items() if n) + f" in {verdict.duration_s:.1f} s",
        "",
    ]
    if verdict.diagnosis:
        lines += ["| Failure mode | Symptom | Likely cause | What to do |", "|---|---|---|---|"]
        for entry in verdict.diagnosis:
            steps = "<br>".join(f"`{step}`" for step in entry["remediation"])
            cause = entry.get("likely_cause", "")
            lines.append(f"| {entry['failure_mode']} | {entry.get('symptom', entry['title'])} | {cause} | {steps} |")
        lines.append("")
        lines += ["| Check | Message |", "|---|---|"]
        for check in verdict.checks:
            if check.outcome in ("failed", "error"):
                message = check.message.replace("|", "\\|").replace("\n", " ")[:300]
                lines.append(f"| {check.id} | {message} |")
        lines.append("")
    if verdict.note:
        lines += [f"_{verdict.note}_", ""]
    return "\n".join(lines)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def prometheus_text(verdict: Verdict) -> str:
    """Per check: success and duration; per failure mode: active; the run: healthy and duration."""
    target = _label(verdict.target)
    lines = [
        "# HELP synthetics_check_success 1 when the check passed, 0 when it failed or errored",
        "# TYPE synthetics_check_success gauge",
    ]
    judged = [c for c in verdict.checks if c.outcome in ("passed", "failed", "error")]
    for check in judged:
        labels = f'target="{target}",check="{_label(check.id)}",layer="{check.layer}",severity="{check.severity}"'
        lines.append(f"synthetics_check_success{{{labels}}} {1 if check.outcome == 'passed' else 0}")
    lines += [
        "# HELP synthetics_check_duration_seconds time the check took",
        "# TYPE synthetics_check_duration_seconds gauge",
    ]
    for check in judged:
        lines.append(
            f'synthetics_check_duration_seconds{{target="{target}",check="{_label(check.id)}"}} {check.duration_s:.3f}'
        )
    active = {entry["failure_mode"] for entry in verdict.diagnosis}
    lines += [
        "# HELP synthetics_failure_mode_active 1 when the run diagnosed the failure mode",
        "# TYPE synthetics_failure_mode_active gauge",
    ]
    for mode in CATALOGUE:
        lines.append(f'synthetics_failure_mode_active{{target="{target}",failure_mode="{mode}"}} {int(mode in active)}')
    lines += [
        "# HELP synthetics_check_attempts attempts of the requests the check judged (2: a fast failure tried again)",
        "# TYPE synthetics_check_attempts gauge",
    ]
    for check in judged:
        attempts = 2 if check.attempts else 1  # a request is tried at most twice
        lines.append(f'synthetics_check_attempts{{target="{target}",check="{_label(check.id)}"}} {attempts}')
    lines += [
        "# HELP synthetics_status 1 for the run's status (healthy, degraded, unhealthy, ...), 0 for the others",
        "# TYPE synthetics_status gauge",
        *(f'synthetics_status{{target="{target}",status="{s}"}} {int(verdict.status == s)}' for s in Status),
        "# HELP synthetics_healthy 1 when the whole run was healthy",
        "# TYPE synthetics_healthy gauge",
        f'synthetics_healthy{{target="{target}"}} {int(verdict.status == "healthy")}',
        "# HELP synthetics_run_duration_seconds time the whole run took",
        "# TYPE synthetics_run_duration_seconds gauge",
        f'synthetics_run_duration_seconds{{target="{target}"}} {verdict.duration_s:.3f}',
    ]
    return "\n".join(lines) + "\n"
