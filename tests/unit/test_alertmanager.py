"""The direct push to Alertmanager, its pure part: which alerts a run posts (issue 16).

What reaches Alertmanager for a run is decided by `plan_alerts` from the verdict and the active
alerts Alertmanager already holds; the real Alertmanager is in tests/suite/test_alerting_end_to_end.py.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from synthetics.alert_rules import CERTIFICATE_EXPIRING, CONSEQUENCE, DEGRADED, ROOT_CAUSE, WATCHDOG, runbook_url
from synthetics.alertmanager import plan_alerts, push_alerts
from synthetics.check import Impact
from synthetics.redact import REDACTED, Redactor
from synthetics.silence import MAX_MINUTES, main, silence_matchers
from synthetics.target import Target, load_target
from synthetics.verdict import Verdict, build_verdict
from tests.suite.test_hostile_servers import closed_port
from tests.unit.test_verdict import record, warned

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CI = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "phenom/synthetics", "GITHUB_RUN_ID": "42"}


def prod(**reporting: Any) -> Target:
    target = load_target(REPO / "targets/prod.yaml", environ={})
    return replace(target, reporting=replace(target.reporting, **reporting))


def run(records: list[Any], *, complete: bool = True) -> Verdict:
    return build_verdict(target_name="prod", target=prod(), started_at="2026-03-01T11:59:30+00:00", duration_s=30,
                         records=records, complete=complete)  # fmt: skip


UNHEALTHY = [
    replace(record("client_api.database_answers", "failed", "database-errors"), impact=Impact.OUTAGE),
    replace(record("journey.message_delivered", "failed", "messaging-broken", layer="journey"), impact=Impact.OUTAGE),
]
HEALTHY = [record("client_api.versions", "passed")]
DEGRADED_RUN = [record("client_api.versions", "passed"), warned("client_api.latency", "slow-performance")]
INCONCLUSIVE = [
    record("runner.control", "failed", "runner-offline", layer="runner"),
    record("client_api.versions", "failed", "origin-down"),
]


def plan(verdict: Verdict, active: list[dict[str, Any]] | None = None, environ: dict[str, str] | None = None,
         vantage: str = "github") -> list[dict[str, Any]]:  # fmt: skip
    return plan_alerts(verdict, prod(), vantage=vantage, active=active or [], now=NOW, environ=environ or {})


def by_name(alerts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        found.setdefault(alert["labels"]["alertname"], []).append(alert)
    return found


def held(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Alertmanager answers GET /api/v2/alerts with, once it holds these (still active)."""
    return [{**alert, "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}} for alert in alerts]


def test_an_unhealthy_run_pages_its_root_cause_and_tickets_its_consequences() -> None:
    alerts = by_name(plan(run(UNHEALTHY), environ=CI))
    assert set(alerts) == {ROOT_CAUSE, CONSEQUENCE, WATCHDOG}
    (root,) = alerts[ROOT_CAUSE]
    assert root["labels"] == {"alertname": ROOT_CAUSE, "target": "prod", "vantage": "github",
                              "failure_mode": "database-errors", "role": "root", "severity": "page"}  # fmt: skip
    (consequence,) = alerts[CONSEQUENCE]
    assert consequence["labels"] == {**root["labels"], "alertname": CONSEQUENCE, "failure_mode": "messaging-broken",
                                     "role": "consequence", "severity": "ticket"}  # fmt: skip
    # The catalogue's remediation with the target's names, numbered, and the runbook map's own section.
    assert root["annotations"]["remediation"].startswith("1. ")
    assert "phenom-prod-postgres" in root["annotations"]["remediation"]
    # The same link as the Prometheus rule's: the runbook map's own section for a runbook mode.
    assert root["annotations"]["runbook_url"] == runbook_url("database-errors")
    assert root["annotations"]["runbook_url"].endswith(
        "/docs/runbook-map.md#database-connection-errors-in-logs-rds-postgres-unreachable-or-connection-pool-"
        "exhausted-database-errors"
    )
    assert consequence["annotations"]["runbook_url"].endswith("#beyond-the-runbook")
    assert root["annotations"]["summary"] == (
        "prod (github): Database connection errors in logs (root cause database-errors)"
    )
    assert consequence["annotations"]["summary"].endswith("(messaging-broken, a consequence of the run's root cause)")
    for alert in (root, consequence, alerts[WATCHDOG][0]):
        assert alert["generatorURL"] == "https://github.com/phenom/synthetics/actions/runs/42"
        # Two schedule intervals (900 s each): past the next run, with room for a late start.
        assert alert["endsAt"] == "2026-03-01T12:30:00.000Z" and alert["startsAt"] == "2026-03-01T12:00:00.000Z"


def test_the_watchdog_always_fires_and_has_no_generator_url_outside_ci() -> None:
    for records in (HEALTHY, UNHEALTHY, DEGRADED_RUN, INCONCLUSIVE):
        (watchdog,) = by_name(plan(run(records)))[WATCHDOG]
        assert watchdog["labels"] == {"alertname": WATCHDOG, "target": "prod", "vantage": "github", "severity": "none"}
        assert "generatorURL" not in watchdog


def test_a_healthy_run_resolves_what_the_previous_run_raised_and_nothing_else() -> None:
    earlier = held(plan(run(UNHEALTHY)))
    # Alertmanager answers with the filter's target and vantage; other alerts are not this run's.
    other_vantage = held(plan(run(UNHEALTHY), vantage="vpc"))
    rules = held(
        [
            {
                "labels": {"alertname": "SyntheticsNotRunning", "target": "prod", "vantage": "github"},
                "annotations": {},
                "startsAt": "2026-03-01T11:00:00.000Z",
                "endsAt": "2026-03-01T12:04:00.000Z",
            }
        ]
    )
    alerts = by_name(plan(run(HEALTHY), earlier + other_vantage + rules))  # fmt: skip
    assert set(alerts) == {ROOT_CAUSE, CONSEQUENCE, WATCHDOG}
    for resolved in alerts[ROOT_CAUSE] + alerts[CONSEQUENCE]:
        assert resolved["endsAt"] == "2026-03-01T12:00:00.000Z"  # now: resolved
        assert resolved["labels"]["vantage"] == "github"
        before = next(a for a in earlier if a["labels"] == resolved["labels"])
        assert resolved["annotations"] == before["annotations"] and resolved["startsAt"] == before["startsAt"]


def test_a_run_that_sees_the_same_fault_raises_it_again_instead_of_resolving_it() -> None:
    earlier = held(plan(run(UNHEALTHY)))
    alerts = plan(run(UNHEALTHY), earlier)
    assert len(alerts) == 3
    assert all(alert["endsAt"] == "2026-03-01T12:30:00.000Z" for alert in alerts)


def test_an_inconclusive_run_resolves_nothing_and_raises_nothing() -> None:
    earlier = held(plan_alerts(run(UNHEALTHY), prod(), vantage="github", active=[], now=NOW - timedelta(minutes=15)))
    alerts = by_name(plan(run(INCONCLUSIVE), earlier))
    assert run(INCONCLUSIVE).status == "inconclusive"
    # Kept as they were, with a new end: not origin-down (not judged) and not runner-offline (not chat).
    assert [a["labels"]["failure_mode"] for a in alerts[ROOT_CAUSE] + alerts[CONSEQUENCE]] == [
        "database-errors",
        "messaging-broken",
    ]
    for kept in alerts[ROOT_CAUSE] + alerts[CONSEQUENCE]:
        assert kept["endsAt"] == "2026-03-01T12:30:00.000Z"
        assert kept["startsAt"] == "2026-03-01T11:45:00.000Z"


def test_an_incomplete_run_resolves_nothing() -> None:
    earlier = held(plan(run(UNHEALTHY)))
    interrupted = run(HEALTHY, complete=False)
    assert interrupted.status == "incomplete"
    alerts = by_name(plan(interrupted, earlier))
    assert {a["labels"]["failure_mode"]: a["endsAt"] for a in alerts[ROOT_CAUSE] + alerts[CONSEQUENCE]} == {
        "database-errors": "2026-03-01T12:30:00.000Z",
        "messaging-broken": "2026-03-01T12:30:00.000Z",
    }


def diagnosed(alerts: list[dict[str, Any]]) -> str:
    (watchdog,) = by_name(alerts)[WATCHDOG]
    return str(watchdog["annotations"]["diagnosed"])


def test_a_degraded_ticket_needs_the_same_mode_on_two_judged_runs_in_a_row() -> None:
    first = plan(run(DEGRADED_RUN))
    assert set(by_name(first)) == {WATCHDOG}, "one degraded run files no ticket"
    assert diagnosed(first) == "slow-performance"

    second = by_name(plan(run(DEGRADED_RUN), held(by_name(first)[WATCHDOG])))
    (ticket,) = second[DEGRADED]
    assert ticket["labels"] == {"alertname": DEGRADED, "target": "prod", "vantage": "github",
                                "failure_mode": "slow-performance", "role": "root", "severity": "ticket"}  # fmt: skip
    assert ticket["annotations"]["summary"].startswith("prod (github): degraded two runs in a row: ")

    # Another mode's warning on the run before is not "in a row".
    other = run([record("client_api.versions", "passed"), warned("tls", "tls-certificate", layer="tls")])
    assert DEGRADED not in by_name(plan(other, held(by_name(first)[WATCHDOG])))

    # An inconclusive run in between neither breaks the series nor counts in it.
    between = plan(run(INCONCLUSIVE), held(by_name(first)[WATCHDOG]))
    assert diagnosed(between) == "slow-performance" and DEGRADED not in by_name(between)
    assert DEGRADED in by_name(plan(run(DEGRADED_RUN), held(by_name(between)[WATCHDOG])))

    # A healthy run starts again and resolves the ticket.
    healthy = plan(run(HEALTHY), held(second[WATCHDOG] + second[DEGRADED]))
    assert diagnosed(healthy) == ""
    assert by_name(healthy)[DEGRADED][0]["endsAt"] == "2026-03-01T12:00:00.000Z"


def test_a_consequence_that_is_a_warning_waits_for_a_second_run_and_one_that_hurts_does_not() -> None:
    records = [*UNHEALTHY, warned("tls", "tls-certificate", layer="tls")]
    first = by_name(plan(run(records)))
    assert {a["labels"]["failure_mode"] for a in first[CONSEQUENCE]} == {"messaging-broken"}
    second = by_name(plan(run(records), held(first[WATCHDOG])))
    assert {a["labels"]["failure_mode"] for a in second[CONSEQUENCE]} == {"messaging-broken", "tls-certificate"}


def certificate(days: float) -> Any:
    not_after = (NOW + timedelta(days=days)).isoformat()
    return replace(record("tls.certificate_not_expiring[chat-host]", "passed"),
                   certificates=(("chat.thephenom.app", not_after),))  # fmt: skip


def test_a_certificate_under_min_days_is_a_ticket_and_under_the_critical_days_a_page() -> None:
    assert CERTIFICATE_EXPIRING not in by_name(plan(run([certificate(30)])))
    (ticket,) = by_name(plan(run([certificate(10)])))[CERTIFICATE_EXPIRING]
    assert ticket["labels"] == {"alertname": CERTIFICATE_EXPIRING, "target": "prod", "vantage": "github",
                                "host": "chat.thephenom.app", "severity": "ticket"}  # fmt: skip
    assert ticket["annotations"]["summary"] == (
        "prod (github): the certificate of chat.thephenom.app expires in 10.0 days (under 14 days)"
    )
    assert ticket["annotations"]["runbook_url"] == runbook_url("tls-certificate")
    (page,) = by_name(plan(run([certificate(2)])))[CERTIFICATE_EXPIRING]
    assert page["labels"]["severity"] == "page"
    # Not a second page when the run's root cause already pages for the certificate.
    failed = replace(record("tls.certificate_not_expiring[chat-host]", "failed", "tls-certificate", layer="tls"),
                     impact=Impact.OUTAGE, certificates=certificate(2).certificates)  # fmt: skip
    alerts = by_name(plan(run([failed])))
    assert CERTIFICATE_EXPIRING not in alerts and alerts[ROOT_CAUSE][0]["labels"]["failure_mode"] == "tls-certificate"
    # A renewed certificate resolves it.
    renewed = by_name(plan(run([certificate(80)]), held([ticket])))
    assert renewed[CERTIFICATE_EXPIRING][0]["endsAt"] == "2026-03-01T12:00:00.000Z"


def test_a_push_problem_is_one_line_without_the_token() -> None:
    secret = "am-token-0123456789"
    target = replace(prod(alertmanager_url=f"http://127.0.0.1:{closed_port()}"),
                     credentials=replace(prod().credentials, alertmanager_token_env="AM_TOKEN"))  # fmt: skip
    environ = {"AM_TOKEN": secret}
    problem = push_alerts(target, run(UNHEALTHY), vantage="github", redact=Redactor.for_target(target, environ),
                          environ=environ)  # fmt: skip
    assert problem is not None and "\n" not in problem and secret not in problem
    assert problem.startswith(f"{target.reporting.alertmanager_url}: ConnectError")
    assert Redactor.for_target(target, environ)(f"Bearer {secret} {secret}") == f"Bearer {REDACTED} {REDACTED}"


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_a_refusal_for_want_of_a_token_names_what_to_set() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        target = replace(
            prod(alertmanager_url=url), credentials=replace(prod().credentials, alertmanager_token_env="AM")
        )
        problem = push_alerts(target, run(HEALTHY), vantage="github", redact=Redactor(), environ={})
    finally:
        server.shutdown()
        server.server_close()
    assert problem == (
        f"{url}/api/v2/alerts answered 401 "
        "(sent without a token: set the variable credentials.alertmanager_token_env names)"
    )


def test_a_maintenance_silence_spares_the_watchdog_and_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    assert silence_matchers("prod", "github") == [
        {"name": "target", "value": "prod", "isRegex": False, "isEqual": True},
        {"name": "vantage", "value": "github", "isRegex": False, "isEqual": True},
        {"name": "alertname", "value": WATCHDOG, "isRegex": False, "isEqual": False},
    ]
    assert main(["create", "--target", "prod", "--minutes", str(MAX_MINUTES + 1)], environ={}) == 4
    assert "must be from 1 to 720 minutes" in capsys.readouterr().err
    assert main(["expire", "--target", "prod"], environ={}) == 4
    # prod names no Alertmanager: nothing to silence, and the deploy goes on.
    assert main(["create", "--target", "prod"], environ={}) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "reporting.alertmanager_url is not set" in captured.err


def test_the_silence_command_against_the_real_alertmanager(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the deploy gate's jobs rely on: `create` prints the id of a bounded silence of the target
    (one vantage's, when given) that spares the watchdog; `expire --created-by` removes that creator's
    silences and no one else's; a second `expire` finds nothing and still succeeds."""
    import yaml

    from tests.support.alerting_engines import alertmanager
    from tests.support.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as webhook, alertmanager(tmp_path / "am", webhook) as engine:
        document = yaml.safe_load((REPO / "targets/prod.yaml").read_text())
        document["reporting"] = {"alertmanager_url": engine.url}
        target = tmp_path / "target.yaml"
        target.write_text(yaml.safe_dump(document))

        def run_command(*args: str) -> tuple[int, str, str]:
            code = main([*args, "--target", str(target)], environ={})
            captured = capsys.readouterr()
            return code, captured.out.strip(), captured.err.strip()

        code, mine, _ = run_command("create", "--minutes", "30", "--vantage", "github", "--created-by", "gate 1")
        assert code == 0 and mine
        code, other, _ = run_command("create", "--created-by", "someone else")
        assert code == 0 and other
        silences = {s["id"]: s for s in engine.get_json("/api/v2/silences")}
        assert silences[mine]["matchers"] == silence_matchers("prod", "github")
        starts, ends = (
            datetime.fromisoformat(silences[mine][key].replace("Z", "+00:00")) for key in ("startsAt", "endsAt")
        )
        assert timedelta(minutes=29) < ends - starts <= timedelta(minutes=30, seconds=1)
        assert silences[mine]["createdBy"] == "gate 1" and "ends by itself" in silences[mine]["comment"]

        assert run_command("expire", "--created-by", "gate 1")[:2] == (0, mine)
        states = {s["id"]: s["status"]["state"] for s in engine.get_json("/api/v2/silences")}
        assert states == {mine: "expired", other: "active"}
        assert run_command("expire", "--created-by", "gate 1") == (0, "", "no active silence of prod to expire")
        assert run_command("expire", "--id", other)[:2] == (0, other)
        code, _, error = run_command("expire", "--id", "../silences")
        assert code == 1 and error == "alertmanager: not a silence id: '../silences'"
