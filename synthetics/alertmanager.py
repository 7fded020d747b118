"""The direct push to Alertmanager: each run posts its diagnosis as alerts (issue 16).

For users who run the suite only from CI and have no Prometheus: SyntheticsRootCause,
SyntheticsConsequence, SyntheticsDegraded and SyntheticsCertificateExpiring from the verdict, and
the always-firing SyntheticsWatchdog for a dead man's switch service (SyntheticsNotRunning needs a
Prometheus that sees the heartbeat stop; here the watchdog falling silent is that alert).
Alertmanager then does what it does for Prometheus's alerts (deduplication, grouping, inhibition,
routing, silences, resolved messages). The alerts carry the same alertnames, labels and annotations
as the rules of `alerting/rules/`, so one `alerting/alertmanager.yml` routes both alike.

What Alertmanager already holds is the state between runs; the suite keeps none of its own:
- each run reads the active alerts of its target and vantage (GET /api/v2/alerts with filter
  matchers), so a judged run resolves what an earlier run raised and it does not raise again (it
  re-posts them with endsAt = now: Alertmanager sends the resolved notification);
- an `inconclusive` run (the runner could not look) and an `incomplete` one (it could not look at
  everything) never resolve: they re-post what is active with a new endsAt, so an alert stays until a
  run that judged the target says otherwise. Posting nothing instead would let the alerts expire at
  their endsAt, a resolution by nobody's look, followed by a second page when the runner sees again;
- "two runs in a row", as the rules count it: a finding that is only a warning (a degraded run's
  root cause, SyntheticsDegraded, or a consequence that is a warning) is raised only when the run
  judged before it diagnosed the same failure mode too. The always-firing SyntheticsWatchdog of the
  target and vantage carries the failure modes of the last judged run as an annotation; the watchdog
  the next run reads is still active only if that run was within an alert's lifetime, so "in a row"
  means consecutive runs. A blip of one run makes no ticket; an inconclusive run carries the modes
  over unchanged, so it neither confirms nor breaks a series.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from synthetics.alert_rules import (
    ALERTING_README_URL,
    CERTIFICATE_EXPIRING,
    CONSEQUENCE,
    DEGRADED,
    ROOT_CAUSE,
    WATCHDOG,
    runbook_url,
)
from synthetics.catalogue import CATALOGUE, Mode, render_remediation
from synthetics.check import Impact
from synthetics.redact import Redactor
from synthetics.target import Target
from synthetics.verdict import Verdict

__all__ = [
    "AlertmanagerProblem",
    "alertmanager_client",
    "plan_alerts",
    "push_alerts",
]

# What this push raises, and so the only alerts it may resolve (a Prometheus rule's, say
# SyntheticsNotRunning, is Prometheus's to resolve).
_RAISED_HERE = frozenset({ROOT_CAUSE, CONSEQUENCE, DEGRADED, CERTIFICATE_EXPIRING})

# An alert ends two schedule intervals after the run that posted it: the next run is due one interval
# later, and it pushes at its end. GitHub's scheduled runs start late (minutes, at busy times most of
# an interval), so one interval of slack keeps a late run from letting a true alert expire, resolve,
# and page again when it lands. Runs that stop let it end inside the three intervals after which the
# rules call the suite not running (the watchdog ends the same way: its silence is that alert).
_LIFETIME_INTERVALS = 2.0
# The watchdog's annotation with the failure modes the last judged run diagnosed (comma-separated).
_DIAGNOSED = "diagnosed"


class AlertmanagerProblem(Exception):
    """Alertmanager could not be used: one line, naming the URL and what went wrong, no secret."""


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_url(environ: Mapping[str, str]) -> str | None:
    """The CI run that sent the alert, for its generatorURL (the page a person opens first)."""
    parts = [environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


@dataclass(frozen=True)
class _Run:
    """What every alert of one run shares."""

    target: str
    vantage: str
    now: datetime
    ends_at: str
    run_url: str | None

    def alert(
        self, labels: dict[str, str], annotations: dict[str, str], starts_at: str | None = None
    ) -> dict[str, Any]:
        alert: dict[str, Any] = {
            "labels": {"target": self.target, "vantage": self.vantage, **labels},
            "annotations": annotations,
            "startsAt": starts_at or _timestamp(self.now),
            "endsAt": self.ends_at,
        }
        if self.run_url:
            alert["generatorURL"] = self.run_url
        return alert


def _annotations(summary: str, steps: Sequence[str], mode: str) -> dict[str, str]:
    return {
        "summary": summary,
        "remediation": "\n".join(f"{number}. {step}" for number, step in enumerate(steps, start=1))
        or "the runbook names no step for this target",
        "runbook_url": runbook_url(mode),
    }


def _finding(
    run: _Run, entry: Mapping[str, Any], alertname: str, role: str, severity: str, summary: str
) -> dict[str, Any]:
    mode = str(entry["failure_mode"])
    return run.alert(
        {"alertname": alertname, "failure_mode": mode, "role": role, "severity": severity},
        _annotations(summary, entry.get("remediation") or [], mode),
    )


def _diagnosed_before(watchdog: Mapping[str, Any] | None) -> set[str]:
    """The failure modes the last judged run diagnosed, as its watchdog says (none without one)."""
    annotation = (watchdog or {}).get("annotations", {}).get(_DIAGNOSED, "")
    return {mode for mode in str(annotation).split(",") if mode}


def _certificates(run: _Run, verdict: Verdict, target: Target, root_pages_for_tls: bool) -> list[dict[str, Any]]:
    """SyntheticsCertificateExpiring, as the rule says it: a ticket under the target's
    tls.min_days_remaining, a page under its critical days, unless the run's root cause already pages
    for the certificate (one page, not two)."""
    tls = target.tls
    steps = render_remediation(CATALOGUE[Mode.TLS_CERTIFICATE], target)
    alerts = []
    for host, not_after in verdict.certificates.items():
        try:
            left_s = datetime.fromisoformat(not_after).timestamp() - run.now.timestamp()
        except ValueError:
            continue
        days = left_s / 86400
        if days >= tls.min_days_remaining or (days < tls.critical_days and root_pages_for_tls):
            continue
        severity, line = ("page", tls.critical_days) if days < tls.critical_days else ("ticket", tls.min_days_remaining)
        when = f"expires in {days:.1f} days" if days > 0 else "has expired"
        summary = f"{run.target} ({run.vantage}): the certificate of {host} {when} (under {line} days)"
        labels = {"alertname": CERTIFICATE_EXPIRING, "host": host, "severity": severity}
        alert = run.alert(labels, _annotations(summary, steps, Mode.TLS_CERTIFICATE))
        alerts.append(alert)
    return alerts


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return dict(a.get("labels", {})) == dict(b.get("labels", {}))


def plan_alerts(
    verdict: Verdict,
    target: Target,
    *,
    vantage: str,
    active: Sequence[Mapping[str, Any]],
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Everything one POST /api/v2/alerts sends for this run: the alerts it raises, the watchdog, and
    the active alerts of its target and vantage (`active`, as GET /api/v2/alerts gave them) that it
    resolves (endsAt = now) or, when it could not judge, keeps (a new endsAt)."""
    environ = os.environ if environ is None else environ
    ends_at = _timestamp(now + timedelta(seconds=target.reporting.schedule_interval_s * _LIFETIME_INTERVALS))
    run = _Run(verdict.target, vantage, now, ends_at, _run_url(environ))
    mine = [a for a in active if a.get("labels", {}).get("target") == run.target
            and a.get("labels", {}).get("vantage") == vantage]  # fmt: skip
    watchdog = next((a for a in mine if a["labels"].get("alertname") == WATCHDOG), None)
    # Not "recovered" (evidence that ended before the run) and about chat (not the runner's own fault).
    live = [e for e in verdict.diagnosis if not e.get("recovered") and CATALOGUE[Mode(e["failure_mode"])].concerns_chat]
    root = live[0] if live and verdict.diagnosis and live[0] is verdict.diagnosis[0] else None
    before = _diagnosed_before(watchdog)
    judged = verdict.status.judged
    # What the next run compares with: this run's modes, or, when it could not judge, the last judged run's.
    diagnosed = {str(e["failure_mode"]) for e in live} if judged else before

    raised: list[dict[str, Any]] = []
    where = f"{run.target} ({vantage})"
    for entry in live:
        mode, hurts = str(entry["failure_mode"]), Impact(entry["impact"]).hurts
        symptom = entry.get("symptom") or CATALOGUE[Mode(mode)].symptom
        if not hurts and not (judged and mode in before):
            continue  # a warning once is no ticket: it waits for the second judged run in a row
        if entry is root and hurts:
            raised.append(_finding(run, entry, ROOT_CAUSE, "root", "page", f"{where}: {symptom} (root cause {mode})"))
        elif entry is root:
            summary = f"{where}: degraded two runs in a row: {symptom} ({mode})"
            raised.append(_finding(run, entry, DEGRADED, "root", "ticket", summary))
        else:
            summary = f"{where}: {symptom} ({mode}, a consequence of the run's root cause)"
            raised.append(_finding(run, entry, CONSEQUENCE, "consequence", "ticket", summary))

    if judged:
        root_pages_for_tls = (
            root is not None
            and root["failure_mode"] == Mode.TLS_CERTIFICATE
            and any(a["labels"]["alertname"] == ROOT_CAUSE for a in raised)
        )
        raised += _certificates(run, verdict, target, root_pages_for_tls)

    for earlier in mine:
        if earlier["labels"].get("alertname") not in _RAISED_HERE or any(_same(earlier, a) for a in raised):
            continue
        # A judged run resolves what it no longer sees; one that could not look keeps it alive.
        ends = _timestamp(now) if judged else ends_at
        kept = {"labels": dict(earlier["labels"]), "annotations": dict(earlier.get("annotations", {})),
                "startsAt": earlier.get("startsAt") or _timestamp(now), "endsAt": ends}  # fmt: skip
        if earlier.get("generatorURL"):
            kept["generatorURL"] = earlier["generatorURL"]
        raised.append(kept)

    raised.append(
        run.alert(
            {"alertname": WATCHDOG, "severity": "none"},
            {
                "summary": f"{where}: always firing while the suite runs: route it to a dead man's switch",
                "remediation": "None: its absence is the alert (of the dead man's switch service)",
                "runbook_url": f"{ALERTING_README_URL}#syntheticswatchdog",
                "status": str(verdict.status),
                _DIAGNOSED: ",".join(sorted(diagnosed)),
            },
            starts_at=(watchdog or {}).get("startsAt"),
        )
    )
    return raised


def alertmanager_client(target: Target, environ: Mapping[str, str] | None = None) -> httpx.Client:
    """An HTTP client for the target's Alertmanager: its bearer token (from the variable
    credentials.alertmanager_token_env names), explicit timeouts, no proxy from the environment."""
    environ = os.environ if environ is None else environ
    url = target.reporting.alertmanager_url
    if not url:
        raise AlertmanagerProblem(f"reporting.alertmanager_url is not set in {target.source}")
    headers = {"accept": "application/json"}
    variable = target.credentials.alertmanager_token_env
    token = environ.get(variable, "").strip() if variable else ""
    # An unset variable sends no token: an Alertmanager that wants one answers 401, said with its name.
    if token:
        headers["authorization"] = f"Bearer {token}"
    seconds = target.network.timeout_s
    return httpx.Client(
        base_url=url.rstrip("/") + "/",
        headers=headers,
        timeout=httpx.Timeout(seconds, connect=min(seconds, 5.0)),
        trust_env=False,
        follow_redirects=False,
    )


def _matcher(name: str, value: str) -> str:
    # Alertmanager parses a quoted matcher value as a Go string literal; JSON's escaping is one.
    return f"{name}={json.dumps(value)}"


def _refused(response: httpx.Response) -> AlertmanagerProblem:
    hint = ""
    if response.status_code in (401, 403) and "authorization" not in response.request.headers:
        hint = " (sent without a token: set the variable credentials.alertmanager_token_env names)"
    return AlertmanagerProblem(f"{response.request.url.copy_with(query=None)} answered {response.status_code}{hint}")


def _active_alerts(client: httpx.Client, target: str, vantage: str) -> list[dict[str, Any]]:
    """The target's and vantage's alerts Alertmanager holds and has not resolved, silenced and
    inhibited ones included (a silence hides an alert from people, not from the run that resolves it)."""
    response = client.get(
        "api/v2/alerts",
        params={
            "filter": [_matcher("target", target), _matcher("vantage", vantage)],
            "active": "true",
            "silenced": "true",
            "inhibited": "true",
        },
    )
    if not response.is_success:
        raise _refused(response)
    alerts = response.json()
    if not isinstance(alerts, list) or not all(
        isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in alerts
    ):
        raise AlertmanagerProblem(f"{response.request.url.copy_with(query=None)} answered something else than alerts")
    return alerts


def push_alerts(
    target: Target,
    verdict: Verdict,
    *,
    vantage: str,
    redact: Redactor,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Posts the run's alerts to the target's Alertmanager; a problem is returned as one line (for a
    warning beside the Pushgateway's), never raised: alerting must not change the run's verdict."""
    url = target.reporting.alertmanager_url
    try:
        with alertmanager_client(target, environ) as client:
            active = _active_alerts(client, verdict.target, vantage)
            alerts = plan_alerts(
                verdict, target, vantage=vantage, active=active, now=datetime.now(UTC), environ=environ
            )
            response = client.post("api/v2/alerts", json=redact.json(alerts))
            if not response.is_success:
                raise _refused(response)
    except AlertmanagerProblem as problem:
        return redact(str(problem))
    except httpx.HTTPError as error:
        return redact(f"{url}: {type(error).__name__}: {error}")
    except ValueError as error:  # a body that is not JSON
        return redact(f"{url}: {type(error).__name__}: {error}")
    return None
