"""The run's metrics (issue 16): built with prometheus_client from the verdict, read back with its
parser. Every series carries target and vantage; each diagnosed mode is root or consequence."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.measurements import PHASES, measured
from fixtures.options import vantage
from synthetics.catalogue import CATALOGUE, Mode
from synthetics.check import Impact
from synthetics.exchange import Exchange, Followed
from synthetics.journey import Journey
from synthetics.metrics import PUSHED_WHEN_NOT_JUDGED, push, registry, write_textfile
from synthetics.tls import TlsReport
from synthetics.verdict import Status, Verdict
from tests.suite.test_hostile_servers import closed_port
from tests.support.declarations import REPO
from tests.unit.test_verdict import record, verdict

ENDED_AT = 1_800_000_000.0
NOT_AFTER = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(collected: CollectorRegistry) -> Samples:
    """Each series' samples (labels, value), from the text exposition prometheus_client writes."""
    found: Samples = {}
    for family in text_string_to_metric_families(generate_latest(collected).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def one(found: Samples, name: str, **labels: str) -> float:
    (value,) = [v for have, v in found[name] if labels.items() <= have.items()]
    return value


def failing_run() -> Verdict:
    """Two modes diagnosed (the origin down, its consequence the messaging), and a warning about
    evidence that ended before the run ("recovered"), which must not be exported as diagnosed."""
    phases = tuple((phase, 0.01 * (index + 1)) for index, phase in enumerate(PHASES))
    versions = replace(record("client_api.versions", "failed", "origin-down"), http_phases_s=phases)
    journey = replace(record("journey.message", "failed", "messaging-broken", layer="journey"), impact=Impact.OUTAGE)
    recovered = replace(
        record("aws.ecs_settled", "passed", layer="aws", detects="deployment-unstable"),
        failure_mode=Mode.DEPLOYMENT_UNSTABLE,
        warnings=("a task stopped before the run",),
        impact=Impact.WARNING,
        recovered=True,
        certificates=(("chat.phenom.test", NOT_AFTER.isoformat()),),
    )
    built = verdict([versions, journey, recovered])
    return replace(built, vantage="vpc")


def test_every_series_of_a_failing_run_with_its_labels_and_values() -> None:
    run = failing_run()
    assert [e["failure_mode"] for e in run.diagnosis] == ["origin-down", "messaging-broken", "deployment-unstable"]
    found = samples(registry(run, ended_at=ENDED_AT, schedule_interval_s=900))
    for name, each in found.items():
        for labels, _value in each:
            assert (labels["target"], labels["vantage"]) == ("prod", "vpc"), (name, labels)
    assert one(found, "synthetics_check_success", check="client_api.versions", layer="client-api") == 0
    assert one(found, "synthetics_check_success", check="aws.ecs_settled", severity="critical") == 1
    assert one(found, "synthetics_check_attempts", check="client_api.versions") == 1
    assert one(found, "synthetics_check_duration_seconds", check="journey.message") == pytest.approx(0.1)
    assert one(found, "synthetics_status", status="unhealthy") == 1
    assert sum(v for _l, v in found["synthetics_status"]) == 1 and len(found["synthetics_status"]) == len(Status)
    assert one(found, "synthetics_healthy") == 0
    assert one(found, "synthetics_run_duration_seconds") == 1.0
    assert one(found, "synthetics_last_run_timestamp_seconds") == ENDED_AT
    assert one(found, "synthetics_schedule_interval_seconds") == 900
    active = {labels["failure_mode"]: value for labels, value in found["synthetics_failure_mode_active"]}
    assert set(active) == {str(mode) for mode in CATALOGUE}
    assert {mode for mode, value in active.items() if value} == {
        "origin-down",
        "messaging-broken",
        "deployment-unstable",
    }
    # The root cause and its consequence; the recovered warning is not something to alert on now.
    diagnosed = {
        (labels["failure_mode"], labels["role"], labels["impact"]): value
        for labels, value in found["synthetics_failure_mode_diagnosed"]
    }
    assert diagnosed == {("origin-down", "root", "outage"): 1, ("messaging-broken", "consequence", "outage"): 1}
    assert all("severity" not in labels for labels, _v in found["synthetics_failure_mode_diagnosed"])
    phases = {labels["phase"]: value for labels, value in found["synthetics_http_duration_seconds"]}
    assert phases == {"resolve": 0.01, "connect": 0.02, "tls": 0.03, "processing": 0.04, "transfer": 0.05}
    assert {labels["check"] for labels, _v in found["synthetics_http_duration_seconds"]} == {"client_api.versions"}
    assert one(found, "synthetics_certificate_expiry_timestamp_seconds", host="chat.phenom.test") == (
        NOT_AFTER.timestamp()
    )
    assert "synthetics_message_delivery_seconds" not in found  # the journey never got through


def test_a_degraded_run_exports_its_warning_as_the_root_with_impact_warning() -> None:
    warned = replace(
        record("client_api.latency", "passed", detects="slow-performance"),
        failure_mode=Mode.SLOW_PERFORMANCE,
        warnings=("p95 1200 ms",),
        impact=Impact.WARNING,
        message_delivery_s=0.42,
    )
    run = replace(verdict([warned]), vantage="github")
    assert run.status == Status.DEGRADED
    found = samples(registry(run, ended_at=ENDED_AT, schedule_interval_s=300))
    assert [(labels["role"], labels["impact"]) for labels, _v in found["synthetics_failure_mode_diagnosed"]] == [
        ("root", "warning")
    ]
    assert one(found, "synthetics_message_delivery_seconds") == 0.42
    assert one(found, "synthetics_status", status="degraded") == 1


def test_a_healthy_run_has_no_diagnosis_series() -> None:
    run = replace(verdict([record("client_api.versions", "passed")]), vantage="local")
    found = samples(registry(run, ended_at=ENDED_AT, schedule_interval_s=900))
    assert "synthetics_failure_mode_diagnosed" not in found
    assert one(found, "synthetics_healthy") == 1 and one(found, "synthetics_status", status="healthy") == 1


def test_an_inconclusive_run_exports_only_its_status_heartbeat_and_duration() -> None:
    offline = replace(record("runner.network", "failed", "runner-offline", layer="runner"))
    run = replace(verdict([offline, record("client_api.versions", "failed", "origin-down")]), vantage="github")
    assert run.status == Status.INCONCLUSIVE
    found = samples(registry(run, ended_at=ENDED_AT, schedule_interval_s=900))
    assert set(found) == set(PUSHED_WHEN_NOT_JUDGED)
    assert one(found, "synthetics_status", status="inconclusive") == 1
    assert one(found, "synthetics_last_run_timestamp_seconds") == ENDED_AT


def test_label_values_are_redacted_and_the_text_file_parses(tmp_path: Path) -> None:
    secret = "s3cr3t-value-0123456789"
    run = replace(verdict([record(f"client_api.versions[{secret}]", "passed")]), vantage="local")
    path = tmp_path / "reports" / "synthetics.prom"
    write_textfile(
        registry(run, ended_at=ENDED_AT, schedule_interval_s=900, redact=lambda t: t.replace(secret, "x")), path
    )
    text = path.read_text()
    assert secret not in text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"synthetics_check_success", "synthetics_last_run_timestamp_seconds"} <= names


def _exchange(**phases_ms: float) -> Exchange:
    return Exchange("GET", "https://chat.phenom.test/_matrix/client/versions", status=200, phases_ms=phases_ms)


def test_the_numbers_come_from_the_evidence_the_check_read() -> None:
    # A pooled connection: no resolve, connect or tls on this request, so they are 0 as blackbox says.
    pooled = _exchange(processing=12.0, transfer=3.0, total=15.0)
    fresh = _exchange(resolve=1.0, connect=2.0, tls=5.0, processing=12.0, transfer=3.0, total=23.0)
    tls = TlsReport("chat.phenom.test", 443, "127.0.0.1:443", True, None, "TLSv1.3", NOT_AFTER, "CN=x", ())
    journey = Journey((), latency_ms=842.0)
    got = measured(["a target", Followed((fresh, pooled), None), tls, journey, fresh])
    assert got is not None
    assert dict(got.http_phases_s) == {"resolve": 0.0, "connect": 0.0, "tls": 0.0, "processing": 0.012,
                                       "transfer": 0.003}  # fmt: skip
    assert got.certificates == (("chat.phenom.test", NOT_AFTER.isoformat()),)
    assert got.message_delivery_s == 0.842
    assert dict(measured([fresh]).http_phases_s)["tls"] == 0.005  # type: ignore[union-attr]
    # No answer, no phases; nothing measured at all, no record.
    assert measured([Exchange("GET", "https://x.test/", error=None), "text"]) is None


def test_a_push_that_fails_is_one_line_without_the_token() -> None:
    token = "pushgateway-bearer-0123456789"
    run = replace(verdict([record("client_api.versions", "passed")]), vantage="local")
    problem = push(
        registry(run, ended_at=ENDED_AT, schedule_interval_s=900),
        gateway=f"http://127.0.0.1:{closed_port()}",
        job="synapse-synthetics",
        grouping_key={"target": "prod", "vantage": "local"},
        replace_group=True,
        timeout_s=2.0,
        token=token,
    )
    assert problem is not None and "\n" not in problem and token not in problem
    assert "/metrics/job/synapse-synthetics/target/prod/vantage/local" in problem and "ConnectError" in problem


def test_the_push_sends_the_bearer_token_and_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []

    def request(method: str, url: str, **options: Any) -> httpx.Response:
        sent.append({"method": method, "url": url, **options})
        return httpx.Response(200)

    monkeypatch.setattr(httpx, "request", request)
    run = replace(verdict([record("client_api.versions", "passed")]), vantage="local")
    collected = registry(run, ended_at=ENDED_AT, schedule_interval_s=900)
    for replace_group, method in ((True, "PUT"), (False, "POST")):
        key = {"target": "prod", "vantage": "vpc"}
        assert push(collected, gateway="https://push.example", job="j", grouping_key=key,
                    replace_group=replace_group, timeout_s=3.0, token="tok-0123456789") is None  # fmt: skip
        assert sent[-1]["method"] == method and sent[-1]["timeout"] == 3.0 and sent[-1]["trust_env"] is False
        assert sent[-1]["headers"]["authorization"] == "Bearer tok-0123456789"
        assert sent[-1]["url"] == "https://push.example/metrics/job/j/target/prod/vantage/vpc"


def test_records_keep_their_measurements_in_the_verdict_json() -> None:
    run = failing_run()
    document = run.as_json()
    assert document["vantage"] == "vpc"
    assert document["certificates"] == {"chat.phenom.test": NOT_AFTER.isoformat()}
    (versions,) = [c for c in document["checks"] if c["id"] == "client_api.versions"]
    assert versions["http_phases_s"]["processing"] == 0.04
    assert all("message_delivery_s" not in c for c in document["checks"])
    assert "message_delivery_s" not in document


class _Config:
    """What `vantage` reads of a pytest config: the option, the ini value, where they are anchored."""

    def __init__(self, option: str | None = None, ini: str | None = None) -> None:
        self._option, self._ini = option, ini
        self.invocation_params = SimpleNamespace(dir=Path("/"))
        self.inipath = None
        self.rootpath = Path("/")

    def getoption(self, _name: str) -> str | None:
        return self._option

    def getini(self, _name: str) -> str | None:
        return self._ini


@pytest.mark.parametrize(
    ("configured", "option", "env", "expected"),
    [
        ("vpc", "laptop", {"SYNTHETICS_VANTAGE": "x", "GITHUB_ACTIONS": "true"}, ("vpc", "target reporting.vantage")),
        (None, "laptop", {"SYNTHETICS_VANTAGE": "x", "GITHUB_ACTIONS": "true"}, ("laptop", "command line")),
        (None, None, {"SYNTHETICS_VANTAGE": "x", "GITHUB_ACTIONS": "true"}, ("x", "env SYNTHETICS_VANTAGE")),
        (None, None, {"GITHUB_ACTIONS": "true"}, ("github", "env GITHUB_ACTIONS")),
        (None, None, {"GITHUB_ACTIONS": "false"}, ("local", "default")),
    ],
)
def test_the_vantage_comes_from_the_target_then_the_option_then_github_actions(
    monkeypatch: pytest.MonkeyPatch, configured: str | None, option: str | None, env: dict[str, str],
    expected: tuple[str, str],
) -> None:  # fmt: skip
    for name in ("SYNTHETICS_VANTAGE", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resolved = vantage(cast(pytest.Config, _Config(option)), configured)
    assert (resolved.value, resolved.source) == expected


def test_an_incomplete_run_exports_only_what_a_run_that_did_not_judge_sends() -> None:
    # Interrupted before it judged anything: it must neither resolve the last judged run's diagnosis
    # (a PUT would drop its series) nor be mistaken for a dead suite (its heartbeat and period go out).
    run = replace(verdict([record("client_api.versions", "skipped")], complete=False), vantage="github")
    assert run.status == Status.INCOMPLETE and not run.status.judged
    found = samples(registry(run, ended_at=ENDED_AT, schedule_interval_s=900))
    assert set(found) == set(PUSHED_WHEN_NOT_JUDGED)
    assert one(found, "synthetics_status", status="incomplete") == 1
    assert one(found, "synthetics_schedule_interval_seconds") == 900


def test_only_a_run_that_looked_at_the_whole_target_has_judged_it() -> None:
    assert {status for status in Status if status.judged} == {Status.HEALTHY, Status.DEGRADED, Status.UNHEALTHY}


def test_no_prometheus_text_is_written_by_hand_anywhere() -> None:
    # Issue 16: the exposition format comes from prometheus_client only (the suite's metrics, the
    # tests' pages of Synapse's metrics); a hand-written TYPE or HELP comment line is how it creeps back.
    marker = re.compile("#" + r" (?:TYPE|HELP) [a-zA-Z_:][a-zA-Z0-9_:]*")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30)
    written = [
        name
        for name in tracked.stdout.splitlines()
        if (REPO / name).is_file() and marker.search((REPO / name).read_text(errors="replace"))
    ]
    assert not written, written
