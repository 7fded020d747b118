"""alerting/ as the real tools read it (issue 16): `promtool check rules` and `promtool test rules` on
the rules, `amtool check-config` and `amtool config routes test` on the Alertmanager configuration,
and the generated rules file not stale against the catalogue and targets/.

The binaries are Debian's (scripts/bootstrap installs them as root); a missing one fails naming its
package, never skips: an unchecked rules file is how alerts stop working unnoticed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthetics.alert_rules import DOCUMENT, REGENERATE, render
from synthetics.alert_text import repository_targets
from synthetics.target import load_target
from tests.support.alerting_engines import ALERTING, ALERTMANAGER_CONFIG, RULE_FILES, alertmanager_config, binary
from tests.support.declarations import REPO
from tests.support.webhook_receiver import WebhookReceiver

TOOL_DEADLINE_S = 60


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=TOOL_DEADLINE_S, check=False, stdin=subprocess.DEVNULL, cwd=REPO
    )


def _rule_files() -> list[str]:
    return [str(path) for path in sorted(RULE_FILES.glob("*.yml"))]


def test_the_rules_file_is_the_generated_one() -> None:
    assert DOCUMENT.read_text() == render(), f"{DOCUMENT} is stale: regenerate it with {REGENERATE}"


def test_promtool_check_rules() -> None:
    checked = _run(binary("promtool"), "check", "rules", *_rule_files())
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_promtool_test_rules() -> None:
    tests = sorted(str(path) for path in (ALERTING / "tests").glob("*.yml"))
    assert tests, "no promtool unit tests in alerting/tests/"
    tested = _run(binary("promtool"), "test", "rules", *tests)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_amtool_check_config() -> None:
    checked = _run(binary("amtool"), "check-config", str(ALERTMANAGER_CONFIG))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=SyntheticsRootCause", "severity=page", "role=root"), "pager"),
        (("alertname=SyntheticsConsequence", "severity=ticket", "role=consequence"), "ticket"),
        (("alertname=SyntheticsDegraded", "severity=ticket", "role=root"), "ticket"),
        (("alertname=SyntheticsNotRunning", "severity=ticket"), "ticket"),
        (("alertname=SyntheticsCertificateExpiring", "severity=page"), "pager"),
        (("alertname=SyntheticsWatchdog", "severity=none"), "deadmansswitch"),
    ],
)
def test_routes(labels: tuple[str, ...], receiver: str) -> None:
    routed = _run(binary("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels)
    assert routed.returncode == 0, routed.stderr
    assert routed.stdout.split() == [receiver], routed.stdout


def _shipped() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    return config


def test_grouping_resolution_and_inhibition_are_the_contract() -> None:
    config = _shipped()
    assert config["route"]["group_by"] == ["target", "vantage", "alertname"]
    for receiver in config["receivers"]:
        for key, integrations in receiver.items():
            if key.endswith("_configs"):
                assert all(entry.get("send_resolved") is True for entry in integrations), receiver["name"]
    # No inhibition may ever silence a root cause: every rule's targets are consequences only, and
    # both sides are the same target seen from the same place.
    assert config["inhibit_rules"]
    for rule in config["inhibit_rules"]:
        assert rule["target_matchers"] == ['role="consequence"'], rule
        assert rule["equal"] == ["target", "vantage"], rule
    assert {rule["source_matchers"][0] for rule in config["inhibit_rules"]} >= {'alertname="SyntheticsRootCause"'}


def test_the_engines_config_changes_only_receivers_and_timers(tmp_path: Path) -> None:
    """What the end-to-end tests run is the shipped configuration but for where notifications go and
    how soon: routes (matchers, receivers, order), grouping and inhibition are untouched."""
    shipped = _shipped()
    with WebhookReceiver() as hook:
        tested = alertmanager_config(hook)
    assert tested["inhibit_rules"] == shipped["inhibit_rules"]
    timers = ("group_wait", "group_interval", "repeat_interval")

    def skeleton(route: dict[str, Any]) -> dict[str, Any]:
        return {
            **{key: value for key, value in route.items() if key not in (*timers, "routes")},
            "routes": [skeleton(child) for child in route.get("routes", [])],
        }

    assert skeleton(tested["route"]) == skeleton(shipped["route"])
    assert [r["name"] for r in tested["receivers"]] == [r["name"] for r in shipped["receivers"]]
    for receiver in tested["receivers"]:
        assert receiver["webhook_configs"] == [{"url": hook.url(receiver["name"]), "send_resolved": True}]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(tested))
    checked = _run(binary("amtool"), "check-config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_target_with_its_own_certificate_days_gets_them(tmp_path: Path) -> None:
    """A target of targets/ whose tls days differ from the defaults: still one rule per severity
    (promtool refuses duplicates), each with that target's thresholds."""
    document = yaml.safe_load((REPO / "targets" / "prod.yaml").read_text())
    document["name"] = "staging"
    document["tls"] = {"min_days_remaining": 30, "critical_days_remaining": 7}
    (tmp_path / "staging.yaml").write_text(yaml.safe_dump(document))
    targets = [*repository_targets(), load_target(tmp_path / "staging.yaml", environ={})]
    rules = tmp_path / "rules.yml"
    rules.write_text(render(targets))
    checked = _run(binary("promtool"), "check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    expressions = [
        rule["expr"]
        for group in yaml.safe_load(rules.read_text())["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "SyntheticsCertificateExpiring"
    ]
    assert len(expressions) == 2, expressions
    assert f"< {30 * 86400}" in expressions[0] and f">= {7 * 86400}" in expressions[0], expressions[0]
    assert f"< {7 * 86400}" in expressions[1] and f"< {3 * 86400}" in expressions[1], expressions[1]
