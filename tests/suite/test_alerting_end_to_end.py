"""Issue 16's first "Done when", through Prometheus: the suite pushes to a real Pushgateway, a real
Prometheus scrapes it and evaluates alerting/rules/ every second, a real Alertmanager runs
alerting/alertmanager.yml (receivers pointed at the test's webhook, timers in seconds). With a fault
whose verdict names a root cause and its consequences, exactly one page arrives, for the root cause;
Alertmanager holds every consequence back as inhibited by it; after heal, a healthy run resolves it.

The fault is ecs-tasks-stopped, not the issue's example db-down: db-down's verdict names one mode
(database-errors; the message journey is blocked behind the database check, not failed again), so
it could not show a consequence held back.

The fixtures are module-scoped and reusable: `alerting` (the engines and the webhook receiver) and
`pushing_target` (the reference target, reporting to the Pushgateway); `notifications` reads what
reached a receiver and `alert_named` finds an alert in Alertmanager's /api/v2/alerts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.suite.conftest import Reference, SuiteRun, assert_healthy_now, live_findings, run_suite
from tests.support.alerting_engines import Engines, engines
from tests.support.webhook_receiver import Notification

# A fault whose verdict names two modes or more (checked by the test).
FAULT = "ecs-tasks-stopped"
# Pushgateway scrape (1 s) + rule evaluation (1 s) + Prometheus's first discovery of Alertmanager
# (about 5 s after its start) + group_wait (1 s), with room for a loaded two-core machine.
NOTIFY_DEADLINE_S = 30.0
# After Alertmanager shows every alert, a few group intervals (1 s) for a notification that should
# not come to have come.
QUIET_S = 3.0


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    with engines(tmp_path_factory.mktemp("alerting")) as running:
        yield running


@pytest.fixture(scope="module")
def pushing_target(reference: Reference, alerting: Engines, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference deployment's target, its runs pushed to the test's Pushgateway."""
    document = yaml.safe_load(reference.target.read_text())
    document.setdefault("reporting", {})["pushgateway_url"] = alerting.pushgateway.url
    path = tmp_path_factory.mktemp("pushing") / "pushing.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def notifications(alerting: Engines, receiver: str, status: str | None = None) -> list[Notification]:
    return [n for n in alerting.webhook.received if n.receiver == receiver and status in (None, n.status)]


def alert_named(alerts: list[dict[str, Any]], alertname: str, **labels: str) -> dict[str, Any] | None:
    wanted = {"alertname": alertname, **labels}
    found = [a for a in alerts if all(a["labels"].get(k) == v for k, v in wanted.items())]
    assert len(found) <= 1, found
    return found[0] if found else None


def wait_until(
    condition: Callable[[], Any], *, timeout_s: float = NOTIFY_DEADLINE_S, what: str, interval_s: float = 0.2
) -> Any:
    """Polls `condition` until it returns something truthy (returned), or fails naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(interval_s)


def _run_pushed(workdir: Path, target: Path) -> SuiteRun:
    run = run_suite(workdir, f"--target={target}")
    assert "metrics not pushed" not in run.output, run.output[-3000:]
    return run


@pytest.mark.stack
def test_a_fault_pages_once_for_its_root_cause_and_resolves_after_heal(
    reference: Reference, alerting: Engines, pushing_target: Path, tmp_path: Path
) -> None:
    with reference.deployment.injected(FAULT):
        failing = _run_pushed(tmp_path / FAULT, pushing_target)
    # Healed at once: the alerts hold on what was pushed, not on the deployment staying broken.
    assert failing.verdict["status"] == "unhealthy", failing.output[-3000:]
    modes = [entry["failure_mode"] for entry in live_findings(failing.verdict)]
    assert len(modes) >= 2, f"{FAULT} should name a root cause and its consequences: {modes}"
    root, consequences = modes[0], modes[1:]
    where = {"target": failing.verdict["target"], "vantage": failing.verdict["vantage"]}

    page = alerting.webhook.wait_for(
        lambda n: n.receiver == "pager" and n.status == "firing", timeout_s=NOTIFY_DEADLINE_S, what="page"
    )
    assert [a["labels"] for a in page.alerts] == [
        {"alertname": "SyntheticsRootCause", **where, "failure_mode": root, "role": "root", "severity": "page"}
    ], page.payload
    annotations = page.alerts[0]["annotations"]
    assert set(annotations) == {"summary", "remediation", "runbook_url"}, annotations
    assert root in annotations["summary"] and annotations["remediation"].startswith("1. "), annotations

    # Alertmanager has every consequence, each held back by the root cause; the root cause by nothing.
    def inhibited_view() -> list[dict[str, Any]] | None:
        alerts = alerting.alertmanager_alerts()
        held = [alert_named(alerts, "SyntheticsConsequence", **where, failure_mode=mode) for mode in consequences]
        return alerts if all(a and a["status"]["inhibitedBy"] for a in held) else None

    alerts = wait_until(inhibited_view, what=f"Alertmanager holding {consequences} as inhibited")
    root_alert = alert_named(alerts, "SyntheticsRootCause", **where, failure_mode=root)
    assert root_alert is not None, alerts
    assert root_alert["status"] == {"inhibitedBy": [], "silencedBy": [], "state": "active"}, root_alert
    for mode in consequences:
        held = alert_named(alerts, "SyntheticsConsequence", **where, failure_mode=mode)
        assert held is not None and held["status"]["inhibitedBy"] == [root_alert["fingerprint"]], held
        assert held["status"]["state"] == "suppressed", held
    time.sleep(QUIET_S)
    assert len(notifications(alerting, "pager")) == 1, alerting.webhook.received
    assert notifications(alerting, "ticket") == [], alerting.webhook.received

    healthy = _run_pushed(tmp_path / "healed", pushing_target)
    assert_healthy_now(healthy)
    resolved = alerting.webhook.wait_for(
        lambda n: n.receiver == "pager" and n.status == "resolved", timeout_s=NOTIFY_DEADLINE_S, what="resolution"
    )
    assert [a["labels"]["failure_mode"] for a in resolved.alerts] == [root], resolved.payload
    assert [n.status for n in notifications(alerting, "pager")] == ["firing", "resolved"], alerting.webhook.received
    assert notifications(alerting, "ticket") == [], alerting.webhook.received
