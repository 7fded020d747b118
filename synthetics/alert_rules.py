"""Writes alerting/rules/synthetics.yml, the Prometheus alerting rules over the suite's metrics (issue 16).

Generated, not written by hand, because its annotations are the catalogue's (synthetics/catalogue.py):
each failure mode's summary, its remediation rendered with the names of every target of targets/
(picked by the alert's `target` label, the catalogue's <key path> placeholders for any other target),
and a link to its runbook section. A test fails when the file is stale:

    .venv/bin/python -m synthetics.alert_rules          # rewrite alerting/rules/synthetics.yml
    .venv/bin/python -m synthetics.alert_rules --check  # exit 1, with a diff, when it is stale

How the rules decide (alerting/README.md says it for people):
- Pushgateway values never go stale, so every alert but the dead man's switch holds only while the
  heartbeat is fresh: time() - synthetics_last_run_timestamp_seconds < 3 schedule intervals.
- A run confirms its failures itself (retries, confirmation probes), so no `for:` delays a page; and
  `for:` measures wall time, which says nothing about runs when a pushed value persists between them.
  "Two runs in a row" is counted in heartbeats instead: a recording rule keeps, per failure mode, the
  judged heartbeat at which the mode's current streak began; a later judged heartbeat with the mode
  still diagnosed is a second run. An `inconclusive` or `incomplete` run (POSTed: only status, heartbeat and run
  duration replaced) neither advances the judged heartbeat nor removes a diagnosis, so it neither
  confirms nor resolves anything.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from synthetics.alert_text import (
    REPO,
    certificate_days,
    placeholders,
    remediation_steps,
    remediation_template,
    repository_targets,
    target_condition,
)
from synthetics.catalogue import CATALOGUE, FailureMode, Mode
from synthetics.target import Target
from synthetics.verdict import Status

__all__ = [
    "ALERTING_README_URL",
    "CERTIFICATE_EXPIRING",
    "CONSEQUENCE",
    "DEGRADED",
    "DOCUMENT",
    "NOT_RUNNING",
    "REGENERATE",
    "ROOT_CAUSE",
    "RUNBOOK_URL",
    "WATCHDOG",
    "render",
    "rules_document",
    "runbook_url",
]

DOCUMENT = REPO / "alerting" / "rules" / "synthetics.yml"
REGENERATE = ".venv/bin/python -m synthetics.alert_rules"
# Where this repository's documents are published; a fork changes it here and regenerates.
REPOSITORY_URL = "https://github.com/phenom/synapse-synthetics/blob/main"
RUNBOOK_URL = f"{REPOSITORY_URL}/docs/runbook-map.md"
ALERTING_README_URL = f"{REPOSITORY_URL}/alerting/README.md"

HURTS = "outage|exposure"
# The alerts' names, one place for the rules here and the direct push (synthetics/alertmanager.py),
# so Alertmanager routes and deduplicates both alike.
ROOT_CAUSE = "SyntheticsRootCause"
CONSEQUENCE = "SyntheticsConsequence"
DEGRADED = "SyntheticsDegraded"
NOT_RUNNING = "SyntheticsNotRunning"
WATCHDOG = "SyntheticsWatchdog"
CERTIFICATE_EXPIRING = "SyntheticsCertificateExpiring"
_KEY = "job, target, vantage"
# The statuses of a run that did not look at the whole target: it neither confirms nor resolves.
_NOT_JUDGED = "|".join(status for status in Status if not status.judged)
# Labels of the alerts: the same as the suite's direct push to Alertmanager sends (no job, instance or
# impact), so the two paths deduplicate in Alertmanager and route alike.
_ALERT_LABELS = "target, vantage, failure_mode, role"
FRESH = f"(time() - synthetics_last_run_timestamp_seconds < on ({_KEY}) 3 * synthetics_schedule_interval_seconds)"
JUDGED = "synthetics:judged_run_timestamp_seconds"
STREAK = "synthetics:failure_mode_streak_start_timestamp_seconds"
# The dead man's switch remembers a heartbeat for this long after its series vanished (a Pushgateway
# wiped, a group deleted); a target silent for longer is taken as retired.
REMEMBER = "1d"
DAY_S = 86400


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_url(mode: str) -> str:
    """The runbook map's section for a failure mode: its own heading for the runbook's five rows,
    "Beyond the runbook" for the others."""
    document = REPO / "docs" / "runbook-map.md"
    for line in document.read_text().splitlines():
        if line.startswith("### ") and f"(`{mode}`)" in line:
            return f"{RUNBOOK_URL}#{_slug(line[4:])}"
    return f"{RUNBOOK_URL}#beyond-the-runbook"


def _where(target_vantage: str = "{{ $labels.target }} ({{ $labels.vantage }})") -> str:
    return target_vantage


def _diagnosed(mode: Mode, role: str, impact: str) -> str:
    matcher = f'impact=~"{HURTS}"' if impact == "hurts" else f'impact="{impact}"'
    return f'synthetics_failure_mode_diagnosed{{failure_mode="{mode}", role="{role}", {matcher}}} == 1'


def _second_run() -> str:
    """The mode's streak began at an earlier judged heartbeat than the current one."""
    return f"({STREAK} < on ({_KEY}) group_left {JUDGED})"


def _mode_rules(mode: FailureMode, targets: Sequence[Target]) -> list[dict[str, Any]]:
    """The mode's three alerts. Each also sets the failure_mode label it selects (the same value):
    rules of one alertname need distinct labels, or promtool calls them duplicates."""
    name = mode.name
    annotations = {
        "remediation": remediation_template(mode, targets),
        "runbook_url": runbook_url(name),
    }
    fresh = f"and on ({_KEY}) {FRESH}"
    return [
        {
            "alert": ROOT_CAUSE,
            "expr": f"max by ({_ALERT_LABELS}) (\n  {_diagnosed(name, 'root', 'hurts')}\n  {fresh}\n)",
            "labels": {"severity": "page", "failure_mode": str(name)},
            "annotations": {
                "summary": f"{_where()}: {mode.symptom} (root cause {name})",
                **annotations,
            },
        },
        {
            "alert": CONSEQUENCE,
            "expr": (
                f"max by ({_ALERT_LABELS}) (\n"
                f"  (\n    {_diagnosed(name, 'consequence', 'hurts')}\n"
                f"    or\n    ({_diagnosed(name, 'consequence', 'warning')}\n"
                f"      and on ({_KEY}, failure_mode) {_second_run()})\n  )\n"
                f"  {fresh}\n)"
            ),
            "labels": {"severity": "ticket", "failure_mode": str(name)},
            "annotations": {
                "summary": f"{_where()}: {mode.symptom} ({name}, a consequence of the run's root cause)",
                **annotations,
            },
        },
        {
            "alert": DEGRADED,
            "expr": (
                f"max by ({_ALERT_LABELS}) (\n  {_diagnosed(name, 'root', 'warning')}\n"
                f"  and on ({_KEY}, failure_mode) {_second_run()}\n  {fresh}\n)"
            ),
            "labels": {"severity": "ticket", "failure_mode": str(name)},
            "annotations": {
                "summary": f"{_where()}: degraded two runs in a row: {mode.symptom} ({name})",
                **annotations,
            },
        },
    ]


def _unknown_mode_rules() -> list[dict[str, Any]]:
    """A mode these rules do not know (a newer suite than its rules) still alerts, without steps."""
    known = "|".join(CATALOGUE)
    annotations = {
        "remediation": "Read the run's report: this failure mode is newer than these rules "
        f"(regenerate them: {REGENERATE}).",
        "runbook_url": RUNBOOK_URL,
    }
    fresh = f"and on ({_KEY}) {FRESH}"
    unknown = f'failure_mode!~"{known}"'
    return [
        {
            "alert": ROOT_CAUSE,
            "expr": (
                f"max by ({_ALERT_LABELS}) (\n"
                f'  synthetics_failure_mode_diagnosed{{{unknown}, role="root", impact=~"{HURTS}"}} == 1\n'
                f"  {fresh}\n)"
            ),
            "labels": {"severity": "page"},
            "annotations": {"summary": f"{_where()}: {{{{ $labels.failure_mode }}}} (root cause)", **annotations},
        },
        {
            "alert": CONSEQUENCE,
            "expr": (
                f"max by ({_ALERT_LABELS}) (\n"
                f'  synthetics_failure_mode_diagnosed{{{unknown}, role="consequence"}} == 1\n'
                f"  {fresh}\n)"
            ),
            "labels": {"severity": "ticket"},
            "annotations": {"summary": f"{_where()}: {{{{ $labels.failure_mode }}}} (a consequence)", **annotations},
        },
    ]


def _recording_rules() -> list[dict[str, Any]]:
    return [
        {
            # The heartbeat of the last run that judged chat: a run that did not (inconclusive,
            # incomplete: Status.judged) leaves it as it was; its own previous value carries it
            # through such runs, as long as a heartbeat exists.
            "record": JUDGED,
            "expr": (
                "(\n  synthetics_last_run_timestamp_seconds\n"
                f'  unless on ({_KEY}) (synthetics_status{{status=~"{_NOT_JUDGED}"}} == 1)\n)\n'
                f"or\n({JUDGED} and on ({_KEY}) synthetics_last_run_timestamp_seconds)"
            ),
        },
        {
            # Per diagnosed mode, the judged heartbeat at which its current streak began: kept while the
            # mode stays diagnosed (a PUT of a run that no longer diagnoses it ends the streak).
            "record": STREAK,
            "expr": (
                f"(\n  {STREAK}\n  and on ({_KEY}, failure_mode) (synthetics_failure_mode_diagnosed == 1)\n)\n"
                f"or\n(\n  max by ({_KEY}, instance, failure_mode) (synthetics_failure_mode_diagnosed == 1)\n"
                f"  * on ({_KEY}) group_left {JUDGED}\n)"
            ),
        },
    ]


def _machinery_rules(targets: Sequence[Target]) -> list[dict[str, Any]]:
    fresh = f"and on ({_KEY}) {FRESH}"
    rules: list[dict[str, Any]] = [
        {
            "alert": NOT_RUNNING,
            # max_over_time: a heartbeat whose series vanished (the Pushgateway wiped) still counts.
            "expr": (
                f"max by (target, vantage) (\n"
                f"  time() - max_over_time(synthetics_last_run_timestamp_seconds[{REMEMBER}])\n"
                f"  > on ({_KEY}) 3 * max_over_time(synthetics_schedule_interval_seconds[{REMEMBER}])\n)"
            ),
            "labels": {"severity": "ticket"},
            "annotations": {
                "summary": f"{_where()}: the suite has not run for three schedule intervals; its alerts say nothing",
                "remediation": "1. Look at the scheduled workflow's last runs (disabled, failing to start, "
                "runner queue)\n2. Check that the run can reach the Pushgateway (reporting.pushgateway_url) "
                "and its token variable is set",
                "runbook_url": f"{ALERTING_README_URL}#syntheticsnotrunning",
            },
        },
        {
            "alert": WATCHDOG,
            "expr": f"max by (target, vantage) (\n  synthetics_last_run_timestamp_seconds\n  {fresh}\n) * 0 + 1",
            "labels": {"severity": "none"},
            "annotations": {
                "summary": f"{_where()}: always firing while the suite runs: route it to a dead man's switch",
                "remediation": "None: its absence is the alert (of the dead man's switch service)",
                "runbook_url": f"{ALERTING_README_URL}#syntheticswatchdog",
            },
        },
    ]
    # One rule per severity (promtool calls two rules of one name and labels duplicates), its
    # thresholds per target: the target's own where targets/ gives others than the defaults.
    thresholds = certificate_days(targets)
    left = "((synthetics_certificate_expiry_timestamp_seconds{{{}}} > 0) - time())".format
    ticket = "\n  or\n".join(
        f"  ({left(selector)} < {low * DAY_S}\n   and {left(selector)} >= {critical * DAY_S})"
        for selector, low, critical in thresholds
    )
    page = "\n  or\n".join(f"  ({left(selector)} < {critical * DAY_S})" for selector, _, critical in thresholds)

    def days(pick: Callable[[tuple[str, int, int]], int]) -> str:
        default, *special = thresholds
        text = "".join(
            f"{{{{ {'if' if i == 0 else 'else if'} {target_condition(selector)} }}}}{pick((selector, low, critical))}"
            for i, (selector, low, critical) in enumerate(special)
        )
        return f"{text}{{{{ else }}}}{pick(default)}{{{{ end }}}}" if special else str(pick(default))

    # The steps name the host the series is about, whatever the target.
    steps = remediation_steps(CATALOGUE[Mode.TLS_CERTIFICATE], placeholders()).replace(
        "<homeserver.base_url>", "{{ $labels.host }}"
    )
    annotations = {"remediation": steps, "runbook_url": runbook_url(Mode.TLS_CERTIFICATE)}
    expires = f"{_where()}: the certificate of {{{{ $labels.host }}}} expires in {{{{ $value | humanizeDuration }}}}"
    rules.append(
        {
            "alert": CERTIFICATE_EXPIRING,
            "expr": f"min by (target, vantage, host) (\n  (\n{ticket}\n  )\n  {fresh}\n)",
            "labels": {"severity": "ticket"},
            "annotations": {"summary": f"{expires} (under {days(lambda t: t[1])} days)", **annotations},
        }
    )
    rules.append(
        {
            "alert": CERTIFICATE_EXPIRING,
            # Not when the run's root cause already pages for the certificate: one page, not two.
            "expr": (
                f"min by (target, vantage, host) (\n  (\n{page}\n  )\n  {fresh}\n"
                f"  unless on ({_KEY}) ({_diagnosed(Mode.TLS_CERTIFICATE, 'root', 'hurts')})\n)"
            ),
            "labels": {"severity": "page"},
            "annotations": {"summary": f"{expires} (under {days(lambda t: t[2])} days)", **annotations},
        }
    )
    return rules


def rules_document(targets: Sequence[Target]) -> dict[str, Any]:
    chat_modes = [mode for mode in CATALOGUE.values() if mode.concerns_chat]
    every = [*(rule for mode in chat_modes for rule in _mode_rules(mode, targets)), *_unknown_mode_rules()]
    return {
        "groups": [
            {
                # One group, evaluated in order: the recording rules first, so the alerts read this
                # evaluation's streaks; then consequences before what inhibits them, so that when a
                # run heals, Prometheus sends a consequence's resolution before its root cause's and
                # Alertmanager never sees a consequence firing uninhibited.
                "name": "synthetics",
                "rules": [
                    *_recording_rules(),
                    *(rule for rule in every if rule["alert"] == CONSEQUENCE),
                    *(rule for rule in every if rule["alert"] != CONSEQUENCE),
                    *_machinery_rules(targets),
                ],
            }
        ]
    }


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)

HEADER = f"""\
# Generated from synthetics/catalogue.py and targets/ by synthetics/alert_rules.py: do not edit.
# Regenerate with: {REGENERATE}
# What each alert means and why it fires when it does: alerting/README.md.
"""


def render(targets: Sequence[Target] | None = None) -> str:
    chosen = repository_targets() if targets is None else targets
    return HEADER + yaml.dump(rules_document(chosen), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 (with a diff) when the file is stale")
    args = parser.parse_args(argv)
    wanted = render()
    current = DOCUMENT.read_text() if DOCUMENT.exists() else ""
    if args.check:
        if current == wanted:
            return 0
        diff = difflib.unified_diff(current.splitlines(), wanted.splitlines(), str(DOCUMENT), "generated", lineterm="")
        print("\n".join(diff), file=sys.stderr)
        print(f"{DOCUMENT} is stale: run {REGENERATE}", file=sys.stderr)
        return 1
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
