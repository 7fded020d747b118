"""The command-line contract: target selection, bad targets, and no traffic before it is asked for."""

import os
import sys
from pathlib import Path

import pytest

from tests.suite.conftest import REPO, run_suite

HOMESERVER = "homeserver: {base_url: 'https://chat.example.org', server_name: example.org}\n"
RUNBOOK_CHECKS = {"checks/test_client_api.py::test_versions", "checks/test_client_api.py::test_versions_http2"}


def collected(output: str) -> set[str]:
    return {line.strip() for line in output.splitlines() if line.startswith("checks/") and "::" in line}


def every_check(tmp_path: Path) -> set[str]:
    """What the checks directory holds, collected for the embedded target (which collects offline too)."""
    run = run_suite(tmp_path / "every", "--collect-only", "-q")
    assert run.returncode == 0, run.output
    return collected(run.output)


def write_target(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "t.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("spelling", ["space", "equals"])
def test_a_target_outside_the_repository_works_with_both_spellings(tmp_path: Path, spelling: str) -> None:
    path = write_target(tmp_path / "elsewhere", "name: elsewhere\n" + HOMESERVER)
    args = ["--target", str(path)] if spelling == "space" else [f"--target={path}"]
    run = run_suite(tmp_path, *args, "--collect-only")
    assert run.returncode == 0, run.output
    # The project's pytest.ini must still be found: the target's path is not a test path.
    assert f"rootdir: {REPO}" in run.output and "configfile: pytest.ini" in run.output, run.output
    assert f"target={path} (command line)" in run.output
    assert f"collected {len(every_check(tmp_path))} items" in run.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: t\nhomeserver: {base_url: 'http://chat.example.org', server_name: example.org}\n",
            "homeserver.base_url: must be an https:// URL",
        ),
        ("name: t\n" + HOMESERVER + "network: {timeout_s: soon}\n", "network.timeout_s: must be a number"),
        (
            "name: t\nhomeserver: {base_url: 'https://chat.example.org', server_name: example.org, port: 1}\n",
            "homeserver.port: unknown key",
        ),
        ("name: t\nhomeserver: [\n", "not valid YAML at line"),
    ],
)
def test_a_malformed_target_exits_4_naming_the_key_path_without_traceback(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write_target(tmp_path / "bad", text)
    audit = tmp_path / "network.log"
    run = run_suite(tmp_path, "--target", str(path), env=_audited(audit))
    assert run.returncode == 4, run.output
    assert f"{path}: {expected}" in run.output
    assert "Traceback" not in run.output and 'File "' not in run.output
    assert not audit.exists(), audit.read_text()


def test_an_unknown_target_name_lists_the_known_ones(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--target", "staging-typo")
    assert run.returncode == 4
    assert "no such target file" in run.output and "local" in run.output and "prod" in run.output


def test_prod_collects_every_check_without_network_traffic(tmp_path: Path) -> None:
    audit = tmp_path / "network.log"
    run = run_suite(tmp_path, "--target", "prod", "--collect-only", "-q", env=_audited(audit))
    assert run.returncode == 0, run.output
    assert collected(run.output) == every_check(tmp_path) >= RUNBOOK_CHECKS
    assert not audit.exists(), f"network traffic during collection:\n{audit.read_text()}"


def test_a_bare_run_defaults_to_the_reference_deployment_not_production(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SYNTHETICS_TARGET"}
    run = run_suite(tmp_path, "--collect-only", env=env | {"SYNTHETICS_TARGET": ""})
    assert run.returncode == 0, run.output
    assert "target=local (default)" in run.output


def test_settings_follow_cli_over_env_and_show_their_source(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--target=prod", "--collect-only", env={"SYNTHETICS_TARGET": "local"})
    assert "target=prod (command line)" in run.output
    run = run_suite(tmp_path, "--collect-only", env={"SYNTHETICS_TARGET": "prod"})
    assert "target=prod (env SYNTHETICS_TARGET)" in run.output


def _audited(log: Path) -> dict[str, str]:
    support = REPO / "tests" / "support" / "no_network"
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(support), os.environ.get("PYTHONPATH")])),
        "SYNTHETICS_NETWORK_AUDIT_LOG": str(log),
        "PYTHONNOUSERSITE": "1",
        "PYTHONEXECUTABLE": sys.executable,
    }


def test_the_targets_vantage_wins_and_shows_its_source_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    # Issue 16: a label on every metric and alert, so it must be right and say where it came from.
    target = tmp_path / "inside.yaml"
    target.write_text(
        "name: inside\n"
        "homeserver: {base_url: 'https://chat.inside.test', server_name: inside.test}\n"
        "reporting: {vantage: vpc}\n"
    )
    run = run_suite(tmp_path, f"--target={target}", "--vantage=laptop", "--collect-only")
    assert run.returncode == 0 and "vantage=vpc (target reporting.vantage)" in run.output, run.output
    # The rest of the order (option, env, GitHub Actions, local): tests/unit/test_metrics.py.
    run = run_suite(tmp_path, "--target=prod", "--collect-only", "-q", env={"SYNTHETICS_VANTAGE": "a b"})
    assert run.returncode == 4 and "--vantage (env SYNTHETICS_VANTAGE) must be a plain name" in run.output, run.output
    assert "Traceback" not in run.output


def test_a_check_run_has_no_per_test_log_capture(tmp_path: Path) -> None:
    # The survey's probe threads import libraries (each adding its logger) while the checks run, and
    # pytest's log capture iterates the logger dict at every test phase: a check errored with
    # "dictionary changed size during iteration" before pytest.ini blocked the plugin.
    run = run_suite(tmp_path, "--target=prod", "--collect-only", "-q", "--trace-config")
    assert run.returncode == 0, run.output
    assert "PLUGIN registered: <_pytest.logging.LoggingPlugin" not in run.output, run.output[-2000:]
    assert "PLUGIN registered: <module 'fixtures.survey'" in run.output, run.output[-2000:]
