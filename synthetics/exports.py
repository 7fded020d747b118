"""The verdict for other tools: a Markdown summary (CI step summaries); its metrics are synthetics/metrics.py."""

from __future__ import annotations

import re

from synthetics.verdict import Verdict

__all__ = ["markdown_summary"]


# The status first, at a glance; `degraded` is its own sign: chat works, not as it should.
_ICONS = {
    "healthy": "✅",
    "degraded": "⚠️",
    "unhealthy": "❌",
    "inconclusive": "❔",
    "incomplete": "⏸️",
}
_MESSAGE_CHARS = 300
_MESSAGES_SHOWN = 2
# Not `_`, `~`, `/`, `+`, `=`: a secret's characters stay as they are, so that the redaction of the
# whole summary (after it is rendered) still finds one the verdict's text might carry.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|#])")


def _md_text(text: str, limit: int | None = None) -> str:
    """Prose for Markdown: one line, its markup characters escaped (a message is data, not markup)."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _md_code(text: str) -> str:
    """Inline code that holds any text: a fence longer than the text's longest run of backticks."""
    flat = " ".join(str(text).split())
    runs = [len(run) for run in re.findall(r"`+", flat)]
    fence = "`" * (max(runs, default=0) + 1)
    padded = f" {flat} " if flat.startswith("`") or flat.endswith("`") else flat
    return f"{fence}{padded}{fence}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _root_cause_lines(verdict: Verdict) -> list[str]:
    """The first diagnosis entry: the failure mode, what it means, the evidence, what to do."""
    entry = verdict.diagnosis[0]
    lines = [
        f"**Root cause: {_md_code(entry['failure_mode'])}**: {_md_text(entry.get('symptom', entry['title']))}",
        "",
    ]
    if "likely_cause" in entry:
        lines.append(f"- **Likely cause:** {_md_text(entry['likely_cause'])}")
    if "why_first" in entry and len(verdict.diagnosis) > 1:
        lines.append(f"- **Why first:** {_md_text(entry['why_first'])}")
    if entry.get("contradicted_by"):
        lines.append(f"- **Contradicted by:** {_md_text(', '.join(entry['contradicted_by']))}")
    for conflict in entry.get("conflicts", []):
        lines.append(f"- **Evidence conflicts:** {_md_text(conflict)}")
    lines.append(f"- **Seen by:** {', '.join(_md_code(check) for check in entry['evidence'])}")
    for message in list(dict.fromkeys(entry["messages"]))[:_MESSAGES_SHOWN]:
        lines.append(f"  - {_md_text(message, _MESSAGE_CHARS)}")
    lines.append("")
    if entry["remediation"]:
        lines.append("**What to do:**")
        lines.append("")
        lines.extend(f"{number}. {_md_code(step)}" for number, step in enumerate(entry["remediation"], start=1))
    else:
        lines.append("**What to do:** the runbook names no step for this target.")
    lines.append("")
    return lines


def markdown_summary(verdict: Verdict) -> str:
    """The CI step summary: the status, then (when not healthy) the root cause with its evidence and
    what to do, in its first lines; then every failure mode and every failed check, as tables."""
    status = str(verdict.status)
    icon = _ICONS.get(status, "❔")
    counts = {o: sum(1 for c in verdict.checks if c.outcome == o) for o in ("passed", "failed", "skipped", "error")}
    tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no checks ran"
    lines = [
        f"## {icon} Synthetics: {status} ({_md_text(verdict.target)})",
        "",
        tally + f" in {verdict.duration_s:.1f} s",
        "",
    ]
    if status == "inconclusive":
        lines += ["The runner could not reach the network: nothing here is about chat.", ""]
    if verdict.diagnosis and status != "healthy":
        lines += _root_cause_lines(verdict)
    if verdict.note:
        lines += [f"_{_md_text(verdict.note)}_", ""]
    if verdict.diagnosis:
        lines += [
            "### Every failure mode found",
            "",
            "| Failure mode | Symptom | Likely cause | What to do |",
            "|---|---|---|---|",
        ]
        for entry in verdict.diagnosis:
            steps = "<br>".join(_md_cell(_md_code(step)) for step in entry["remediation"])
            cause = _md_text(entry.get("likely_cause", ""))
            symptom = _md_text(entry.get("symptom", entry["title"]))
            lines.append(f"| {_md_cell(_md_code(entry['failure_mode']))} | {symptom} | {cause} | {steps} |")
        lines.append("")
        lines += ["| Check | Message |", "|---|---|"]
        for check in verdict.checks:
            if check.outcome in ("failed", "error"):
                lines.append(f"| {_md_cell(_md_code(check.id))} | {_md_text(check.message, _MESSAGE_CHARS)} |")
        lines.append("")
    return "\n".join(lines)
