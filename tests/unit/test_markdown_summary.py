"""The CI step summary leads with the verdict: the status, then the root cause, its evidence and what to do."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from synthetics.exports import markdown_summary
from synthetics.record import CheckRecord
from synthetics.verdict import Status, Verdict
from tests.unit.test_verdict import record
from tests.unit.test_verdict import verdict as verdict_of

REPO = Path(__file__).resolve().parents[2]


def verdict(records: list[CheckRecord], complete: bool = True) -> Verdict:
    return verdict_of(records, complete, duration_s=1.25)


def head(markdown: str, lines: int) -> list[str]:
    """The first `lines` non-blank lines: what a reader sees before scrolling."""
    return [line for line in markdown.splitlines() if line.strip()][:lines]


def test_a_failed_run_opens_on_its_status_and_root_cause_with_evidence_and_remediation() -> None:
    result = verdict(
        [
            record("journey.canary", "failed", "messaging-broken", layer="journey"),
            record("client_api.versions", "failed", "origin-down", message="GET /versions: expected 200, saw 502"),
            record("edge.http2", "failed", "origin-down", layer="edge", message="saw 502 from Cloudflare"),
            record("dns.resolves", "passed"),
        ]
    )
    root = result.diagnosis[0]
    assert root["failure_mode"] == "origin-down" and root["remediation"]
    markdown = markdown_summary(result)
    # Heading, tally, root cause, likely cause, why first, seen by, two messages, "What to do", steps.
    first = head(markdown, 9 + len(root["remediation"]))
    assert first[0] == "## ❌ Synthetics: unhealthy (prod)"
    assert first[1] == "1 passed, 3 failed in 1.2 s"
    assert first[2].startswith("**Root cause: `origin-down`**: ") and root["symptom"] in first[2]
    opening = "\n".join(first)
    assert f"**Likely cause:** {root['likely_cause']}" in opening
    assert "**Seen by:** " + ", ".join(f"`{check}`" for check in root["evidence"]) in opening
    assert set(root["evidence"]) == {"edge.http2", "client_api.versions"}
    assert "saw 502 from Cloudflare" in opening and "GET /versions: expected 200, saw 502" in opening
    assert "**Why first:**" in opening  # two failure modes: why this one leads
    steps = [line for line in first if re.match(r"\d+\. ", line)]
    assert len(steps) == len(root["remediation"])
    for number, (line, step) in enumerate(zip(steps, root["remediation"], strict=True), start=1):
        assert line.startswith(f"{number}. `") and " ".join(step.split()) in line
    # Then every failure mode and every failed check, as before.
    rest = markdown.split("### Every failure mode found", 1)[1]
    assert "| Failure mode | Symptom | Likely cause | What to do |" in rest
    assert "| `messaging-broken` |" in rest and "| `journey.canary` |" in rest


def test_a_healthy_run_says_so_and_names_no_root_cause() -> None:
    markdown = markdown_summary(verdict([record("a", "passed"), record("b", "skipped")]))
    assert head(markdown, 2) == ["## ✅ Synthetics: healthy (prod)", "1 passed, 1 skipped in 1.2 s"]
    assert "Root cause" not in markdown and "| Failure mode |" not in markdown


@pytest.mark.parametrize(
    ("status", "icon"),
    [("healthy", "✅"), ("degraded", "⚠️"), ("unhealthy", "❌"), ("inconclusive", "❔"), ("incomplete", "⏸️")],
)
def test_every_status_has_its_own_icon(status: str, icon: str) -> None:
    # `degraded` is coming to Status; the summary already knows it by its value.
    base = verdict([record("client_api.versions", "failed", "origin-down")])
    markdown = markdown_summary(replace(base, status=status))  # type: ignore[arg-type]
    assert markdown.startswith(f"## {icon} Synthetics: {status} (prod)\n")
    assert ("**Root cause: `origin-down`**" in markdown) == (status != "healthy")


def test_the_icons_tell_every_status_apart() -> None:
    icons = {status: markdown_summary(replace(verdict([]), status=status)).split()[1] for status in Status}
    assert len(set(icons.values())) == len(icons), icons


def test_an_inconclusive_run_says_nothing_is_about_chat_before_its_cause() -> None:
    result = verdict(
        [
            record("runner.control", "failed", "runner-offline", layer="runner"),
            record("client_api.versions", "failed", "origin-down"),
        ]
    )
    assert result.status == Status.INCONCLUSIVE
    first = head(markdown_summary(result), 4)
    assert first[0] == "## ❔ Synthetics: inconclusive (prod)"
    assert first[2] == "The runner could not reach the network: nothing here is about chat."
    assert first[3].startswith("**Root cause: `runner-offline`**")


def test_messages_are_text_not_markup_and_remediation_keeps_its_backticks() -> None:
    hostile = "saw <img src=x onerror=alert(1)> | **bold** [link](http://x) `tick`\nsecond line"
    base = verdict([record("client_api.versions", "failed", "origin-down", message=hostile)])
    entry: dict[str, Any] = {**base.diagnosis[0], "remediation": ["run `aws ecs list-tasks` now"]}
    markdown = markdown_summary(replace(base, diagnosis=(entry,)))
    assert not re.search(r"(?<!\\)<img", markdown) and "\\<img src=x onerror=alert(1)\\>" in markdown
    assert "\\*\\*bold\\*\\* \\[link\\](http://x) \\`tick\\` second line" in markdown
    assert "1. ``run `aws ecs list-tasks` now``" in markdown
    # In a table a pipe would end the cell: escaped there, in the message column too.
    table_row = next(line for line in markdown.splitlines() if line.startswith("| `client_api.versions` |"))
    assert table_row.count(" | ") == 1 and "\\|" in table_row
    # A secret's shape is left alone, so the redaction of the rendered summary still finds it.
    token = "_".join(("syt", "c2VjcmV0", "abcdefghij", "0042"))
    secret = replace(base, diagnosis=({**entry, "messages": [f"token {token} leaked"]},))
    assert token in markdown_summary(secret)


def test_a_long_message_is_cut_on_the_first_lines() -> None:
    base = verdict([record("client_api.versions", "failed", "origin-down", message="x" * 900)])
    lines = markdown_summary(base).splitlines()
    (shown,) = [line for line in lines if line.startswith("  - ")]
    assert shown.endswith("…") and len(shown) < 320
