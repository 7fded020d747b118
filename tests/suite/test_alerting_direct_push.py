"""The direct push to the real Alertmanager (issue 16): a run of the suite against the reference
deployment posts its diagnosis; Alertmanager (alerting/alertmanager.yml as shipped, its receivers a
webhook of the test) pages once, for the root cause, holds back its consequences, keeps the page
back while a maintenance silence set by `python -m synthetics.silence` (as the deploy gate sets it)
lasts, and sends the resolved notification after a healthy run."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.suite.conftest import REPO, Reference, assert_healthy_now, run_suite
from tests.support.alerting_engines import Engine, alertmanager
from tests.support.webhook_receiver import Notification, WebhookReceiver

VANTAGE = "e2e"
NOTIFY_DEADLINE_S = 20.0  # group_wait and group_interval are 1 s here; a loaded machine gets more
SETTLE_S = 3.0  # three group intervals: long enough for a notification that should not come to come
COMMAND_DEADLINE_S = 60


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[Engine, WebhookReceiver]]:
    with WebhookReceiver() as webhook, alertmanager(tmp_path / "alertmanager", webhook) as engine:
        yield engine, webhook


def pushing_to(reference: Reference, engine: Engine, directory: Path) -> Path:
    """The reference deployment's target, reporting to the test's Alertmanager from vantage e2e."""
    document = yaml.safe_load(reference.target.read_text())
    document["reporting"] = {"alertmanager_url": engine.url, "vantage": VANTAGE, "schedule_interval_s": 60}
    path = directory / "target.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def silence(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthetics.silence", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=COMMAND_DEADLINE_S, stdin=subprocess.DEVNULL, check=False)  # fmt: skip


def firing(notification: Notification, alertname: str) -> bool:
    return notification.status == "firing" and alertname in notification.alertnames()


@pytest.mark.stack
def test_the_direct_push_pages_once_for_the_root_cause_is_silenced_in_a_deploy_and_resolves(
    reference: Reference, manager: tuple[Engine, WebhookReceiver], tmp_path: Path
) -> None:
    engine, webhook = manager
    target = pushing_to(reference, engine, tmp_path)
    name = yaml.safe_load(target.read_text())["name"]
    created_by = "deploy-gate test run 1"

    # The deploy gate's silence, before the deploy: every alert of the target but the watchdog.
    created = silence("create", "--target", str(target), "--minutes", "10", "--created-by", created_by)
    assert created.returncode == 0, created.stderr
    silence_id = created.stdout.strip()

    with reference.deployment.injected("ecs-tasks-stopped"):
        broken = run_suite(tmp_path / "broken", f"--target={target}")
    assert broken.returncode == 1, broken.output[-3000:]
    assert "alerts not pushed" not in broken.output, broken.output[-3000:]
    diagnosis = [entry["failure_mode"] for entry in broken.verdict["diagnosis"] if not entry.get("recovered")]
    assert len(diagnosis) >= 2, diagnosis  # a root cause and at least one consequence

    alerts = {a["labels"]["alertname"] + ":" + a["labels"].get("failure_mode", ""): a
              for a in engine.get_json("/api/v2/alerts", filter=f'target="{name}"')}  # fmt: skip
    root = alerts[f"SyntheticsRootCause:{diagnosis[0]}"]
    assert root["labels"]["vantage"] == VANTAGE and root["labels"]["severity"] == "page"
    assert root["status"]["silencedBy"] == [silence_id] and root["status"]["inhibitedBy"] == []
    for mode in diagnosis[1:]:
        consequence = alerts[f"SyntheticsConsequence:{mode}"]
        assert consequence["status"]["inhibitedBy"] == [root["fingerprint"]], consequence["status"]
    watchdog = alerts["SyntheticsWatchdog:"]
    assert watchdog["status"]["silencedBy"] == [] and watchdog["status"]["state"] == "active"
    webhook.wait_for(lambda n: n.receiver == "deadmansswitch", timeout_s=NOTIFY_DEADLINE_S, what="the watchdog")
    time.sleep(SETTLE_S)
    assert not [n for n in webhook.received if n.receiver == "pager"], "a silenced root cause paged"

    # The deploy is over (the gate's `if: always()` job): the fault is still there, so now it pages.
    expired = silence("expire", "--target", str(target), "--created-by", created_by)
    assert expired.returncode == 0 and expired.stdout.split() == [silence_id], expired.stderr
    page = webhook.wait_for(lambda n: n.receiver == "pager" and firing(n, "SyntheticsRootCause"),
                            timeout_s=NOTIFY_DEADLINE_S, what="the page for the root cause")  # fmt: skip
    time.sleep(SETTLE_S)
    pages = [n for n in webhook.received if n.receiver == "pager"]
    assert pages == [page], [(n.status, n.alertnames()) for n in pages]
    assert [a["labels"]["failure_mode"] for a in page.alerts] == [diagnosis[0]]
    assert not [n for n in webhook.received if firing(n, "SyntheticsConsequence")], "a consequence notified"

    healed = run_suite(tmp_path / "healed", f"--target={target}")
    assert_healthy_now(healed)
    resolved = webhook.wait_for(lambda n: n.receiver == "pager" and n.status == "resolved",
                                timeout_s=NOTIFY_DEADLINE_S, what="the resolved notification")  # fmt: skip
    assert [a["labels"]["failure_mode"] for a in resolved.alerts] == [diagnosis[0]]
    assert not engine.get_json("/api/v2/alerts", filter='alertname="SyntheticsRootCause"')
