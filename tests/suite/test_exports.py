"""Results for other tools: the metrics (in a text file, and through a real Pushgateway), a CI step
summary, JUnit XML. The metrics are read back with prometheus_client's parser, never as text."""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from synthetics.metrics import push, registry
from synthetics.verdict import Status, Verdict
from tests.suite.conftest import run_suite
from tests.suite.test_hostile_servers import closed_port
from tests.support.alerting_engines import Engine, pushgateway
from tests.unit.test_metrics import failing_run
from tests.unit.test_verdict import record, verdict

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# What the Pushgateway adds to every group itself.
_GATEWAY_OWN = ("push_time_seconds", "push_failure_time_seconds")


def series(text: str, **group: str) -> Series:
    """Every sample of the text whose labels include `group`, keyed by name and its labels."""
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if group.items() <= sample.labels.items() and sample.name not in _GATEWAY_OWN:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def named(found: Series, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (each, labels), value in found.items() if each == name}


def group_on(gateway: Engine, **group: str) -> Series:
    """What the Pushgateway serves for one group (its /metrics, as Prometheus scrapes it)."""
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return {key: value for key, value in series(text, **group).items()}


def without(found: Series, *labels: str) -> Series:
    return {(name, tuple(kv for kv in pairs if kv[0] not in labels)): value for (name, pairs), value in found.items()}


def down_target(directory: Path, gateway: Engine) -> Path:
    """A target whose resolver and chat host refuse at once (a fast failing run), pushing to `gateway`."""
    path = directory / "down.yaml"
    path.write_text(
        "name: down\n"
        "homeserver: {base_url: 'https://chat.down.test', server_name: down.test}\n"
        f"dns: {{nameservers: ['127.0.0.1:{closed_port()}']}}\n"
        "network: {timeout_s: 1, connect_to_only: true, "
        f"connect_to: {{'chat.down.test:443': '127.0.0.1:{closed_port()}'}}}}\n"
        f"reporting: {{pushgateway_url: '{gateway.url}'}}\n"
    )
    return path


def test_a_failing_run_is_exported_for_prometheus_ci_and_junit(tmp_path: Path) -> None:
    with pushgateway(tmp_path / "pushgateway") as gateway:
        target = down_target(tmp_path, gateway)
        summary = tmp_path / "step-summary.md"
        run = run_suite(tmp_path, f"--target={target}", f"--junitxml={tmp_path / 'junit.xml'}", "--vantage=ci-east",
                        env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
        assert run.returncode == 1, run.output
        pushed = group_on(gateway, job="synapse-synthetics", target="down", vantage="ci-east")

    assert "vantage=ci-east (command line)" in run.output
    assert run.verdict["vantage"] == "ci-east"
    assert "metrics not pushed" not in run.output
    metrics = series((tmp_path / "synthetics.prom").read_text(), target="down", vantage="ci-east")
    run_labels = (("target", "down"), ("vantage", "ci-east"))
    assert named(metrics, "synthetics_healthy") == {run_labels: 0}
    # Issue 12: with the resolver refusing, the DNS check fails and client_api.versions is blocked.
    checks = named(metrics, "synthetics_check_success")
    assert checks[(("check", "dns.resolves[chat-host]"), ("layer", "dns"), ("severity", "critical"), *run_labels)] == 0
    assert not any(dict(labels)["check"] == "client_api.versions" for labels in checks)
    diagnosis = run.verdict["diagnosis"]
    active = {
        dict(labels)["failure_mode"]: value
        for labels, value in named(metrics, "synthetics_failure_mode_active").items()
    }
    assert {mode for mode, value in active.items() if value} == {entry["failure_mode"] for entry in diagnosis}
    diagnosed = {(dict(labels)["failure_mode"], dict(labels)["role"]): value
                 for labels, value in named(metrics, "synthetics_failure_mode_diagnosed").items()}  # fmt: skip
    assert diagnosed == {
        (entry["failure_mode"], "root" if index == 0 else "consequence"): 1
        for index, entry in enumerate(diagnosis) if not entry.get("recovered")
    }  # fmt: skip
    assert named(metrics, "synthetics_status")[(("status", "unhealthy"), *run_labels)] == 1
    # The Pushgateway holds what the file holds, in the job/target/vantage group (its job label added).
    assert without(pushed, "job", "instance") == metrics

    markdown = summary.read_text()
    assert "Synthetics: unhealthy (down)" in markdown and "| Failure mode |" in markdown
    assert "<failure" in (tmp_path / "junit.xml").read_text()


def test_an_inconclusive_push_keeps_the_diagnosis_and_a_healthy_one_removes_it(tmp_path: Path) -> None:
    """PUT after a failing run, POST after an inconclusive one (only its status, heartbeat and duration
    change: the diagnosis the alerts read stays), PUT after a healthy run (the diagnosis goes)."""
    group = {"target": "prod", "vantage": "vpc"}
    offline = record("runner.network", "failed", "runner-offline", layer="runner")
    inconclusive = replace(verdict([offline], duration_s=4.0), vantage="vpc")
    healthy = replace(verdict([record("client_api.versions", "passed")]), vantage="vpc")
    assert inconclusive.status == Status.INCONCLUSIVE and healthy.status == Status.HEALTHY
    other_vantage = replace(failing_run(), vantage="github")
    with pushgateway(tmp_path / "pushgateway") as gateway:

        def send(run: Verdict, ended_at: float) -> None:
            problem = push(
                registry(run, ended_at=ended_at, schedule_interval_s=900),
                gateway=gateway.url,
                job="synapse-synthetics",
                grouping_key={"target": "prod", "vantage": run.vantage},
                replace_group=run.status.judged,
                timeout_s=5.0,
                token="a-token-the-gateway-ignores",
            )
            assert problem is None, problem

        def diagnosed(vantage: str = "vpc") -> set[tuple[str, str]]:
            found = group_on(gateway, job="synapse-synthetics", target="prod", vantage=vantage)
            return {(dict(labels)["failure_mode"], dict(labels)["role"])
                    for labels in named(found, "synthetics_failure_mode_diagnosed")}  # fmt: skip

        def value(name: str, **labels: str) -> float:
            found = group_on(gateway, job="synapse-synthetics", **group)
            (only,) = [v for pairs, v in named(found, name).items() if labels.items() <= dict(pairs).items()]
            return only

        send(failing_run(), 1000.0)
        send(other_vantage, 1000.0)
        expected = {("origin-down", "root"), ("messaging-broken", "consequence")}
        assert diagnosed() == expected
        send(inconclusive, 2000.0)
        assert diagnosed() == expected  # an inconclusive run never resolves an alert
        assert value("synthetics_status", status="inconclusive") == 1
        assert value("synthetics_status", status="unhealthy") == 0
        assert value("synthetics_last_run_timestamp_seconds") == 2000.0
        assert value("synthetics_run_duration_seconds") == 4.0
        assert value("synthetics_healthy") == 0  # not sent: the last judged run's
        send(healthy, 3000.0)
        assert diagnosed() == set()
        assert value("synthetics_healthy") == 1 and value("synthetics_last_run_timestamp_seconds") == 3000.0
        assert diagnosed("github") == expected  # the other vantage's group is its own


def test_a_run_of_some_checks_only_pushes_nothing(tmp_path: Path) -> None:
    """A deploy gate's `-m gate_pre` (here `-m smoke`) judged part of the target: pushed, a passing one
    would resolve what the last whole run raised, and its heartbeat would hide a dead schedule."""
    with pushgateway(tmp_path / "pushgateway") as gateway:
        target = down_target(tmp_path, gateway)
        run = run_suite(tmp_path, f"--target={target}", "-m", "smoke", "--vantage=ci-east")
        pushed = group_on(gateway, job="synapse-synthetics", target="down")
    assert run.verdict["selection"] == "-m smoke", run.output[-2000:]
    assert "metrics not pushed: the run chose some checks only (-m smoke)" in run.output
    assert "alerts not pushed" not in run.output  # the target names no Alertmanager
    assert pushed == {}
    # The text file beside the verdict is still written: it is this run's, not the schedule's.
    assert series((tmp_path / "synthetics.prom").read_text(), target="down")


def test_a_read_only_run_pushes_nothing(tmp_path: Path) -> None:
    """`--read-only` skips the checks that write (the canary message, the upload): a passing one never
    saw messages go undelivered, so pushed it would resolve what the last whole run raised for that."""
    with pushgateway(tmp_path / "pushgateway") as gateway:
        target = down_target(tmp_path, gateway)
        run = run_suite(tmp_path, f"--target={target}", "--read-only")
        pushed = group_on(gateway, job="synapse-synthetics", target="down")
    assert run.verdict["selection"] == "--read-only", run.output[-2000:]
    assert "metrics not pushed: the run chose some checks only (--read-only)" in run.output
    assert pushed == {}
