"""The GitHub Actions workflows: the properties the suite relies on, and actionlint on every file.

`make test` runs actionlint before anything else; these tests say what a workflow must keep (a
timeout on every job, a concurrency group, the deploy gate's interface, the 15-minute schedule,
secrets only through `env:`), and show that the actionlint check can fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
ACTIONLINT_DEADLINE_S = 120
# `echo ${{ secrets.X }}` (any quoting) would print a secret; GitHub's masking is not a design.
ECHOED_SECRET = re.compile(r"\becho\b[^\n]*\$\{\{\s*secrets\.", re.IGNORECASE)
SECRET_EXPRESSION = re.compile(r"\$\{\{[^}]*\bsecrets\.")


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name}: not a mapping"
    return document


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict), f"unexpected `on`: {on!r}"
    return on


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = workflow.get("jobs")
    assert isinstance(found, dict) and found, "a workflow needs jobs"
    return found


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in jobs(workflow).values() for step in job.get("steps", [])]


def workflow_named(name: str) -> dict[str, Any]:
    path = WORKFLOWS_DIR / name
    assert path.is_file(), f"{path} is missing"
    return load(path)


def actionlint() -> str:
    """The actionlint the project installs (the dev extra puts it beside the venv's python)."""
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    found = shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: pip install -c constraints.txt -e '.[dev]' (make bootstrap)")
    return found


def run_actionlint(cwd: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=ACTIONLINT_DEADLINE_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_expected_workflows_exist() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"ci.yml", "synthetics-scheduled.yml", "deploy-gate.yml", "triage.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    missing = [name for name, job in jobs(load(path)).items() if "timeout-minutes" not in job]
    assert not missing, f"{path.name}: jobs without timeout-minutes: {missing}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_workflow_has_a_concurrency_group(path: Path) -> None:
    concurrency = load(path).get("concurrency")
    group = concurrency.get("group") if isinstance(concurrency, dict) else concurrency
    assert group, f"{path.name}: no workflow-level concurrency group"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_workflow_writes_a_secret_to_output(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not ECHOED_SECRET.search(text), f"{path.name} echoes a secret"
    # Stronger: a secret reaches a script only through `env:`, never spliced into its text.
    scripts = [step for step in steps(load(path)) if "run" in step]
    spliced = [step.get("name", step["run"][:40]) for step in scripts if SECRET_EXPRESSION.search(step["run"])]
    assert not spliced, f"{path.name}: secrets spliced into run scripts: {spliced}"


def test_the_deploy_gate_is_a_reusable_workflow_with_mode_and_target() -> None:
    gate = workflow_named("deploy-gate.yml")
    call = triggers(gate)
    assert set(call) == {"workflow_call"}, "the gate is called, not triggered"
    inputs = call["workflow_call"]["inputs"]
    assert inputs["mode"]["required"] is True and inputs["mode"]["type"] == "string"
    assert inputs["target"]["default"] == "prod"
    assert inputs["wait-stable-seconds"] == {**inputs["wait-stable-seconds"], "type": "number", "default": 600}
    scripts = "\n".join(step.get("run", "") for step in steps(gate))
    assert 'pytest_args="-m gate_pre"' in scripts
    assert 'pytest_args="-m gate_post --wait-stable=$WAIT_STABLE_SECONDS"' in scripts
    assert "make check" in scripts


def needs(job: dict[str, Any]) -> list[str]:
    found = job.get("needs", [])
    return [found] if isinstance(found, str) else list(found)


def caller_example(path: Path) -> dict[str, Any]:
    """The caller workflow the header comment of `path` shows (from its `#   jobs:` line on)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("#   jobs:")
    example = []
    for line in lines[start:]:
        if not line.startswith("#  "):
            break
        example.append(line[4:].replace("...", "runs-on: ubuntu-latest"))
    document = yaml.safe_load("\n".join(example))
    assert isinstance(document, dict)
    return document


def test_the_deploy_gate_silences_the_target_for_the_deploy_and_always_removes_it() -> None:
    """Issue 16: a bounded silence set once the pre gate opens, removed after the post gate whatever
    happened, also when the deploy failed and the post gate's checks were skipped."""
    from synthetics.silence import MAX_MINUTES

    path = WORKFLOWS_DIR / "deploy-gate.yml"
    gate = workflow_named("deploy-gate.yml")
    inputs = triggers(gate)["workflow_call"]["inputs"]
    assert inputs["maintenance-minutes"]["type"] == "number"
    assert 0 < inputs["maintenance-minutes"]["default"] <= MAX_MINUTES
    assert inputs["deploy-result"] == {**inputs["deploy-result"], "type": "string", "default": "success"}
    all_jobs = jobs(gate)

    # The post gate's checks run only after a deploy that succeeded; a pre gate always runs them.
    assert all_jobs["gate"]["if"] == "${{ inputs.mode != 'post' || inputs.deploy-result == 'success' }}"

    silence = all_jobs["silence"]
    assert needs(silence) == ["gate"], "the silence is set once the pre gate opened, not before"
    assert silence["if"] == "${{ inputs.mode == 'pre' && inputs.maintenance-minutes > 0 }}"
    create = next(step for step in silence["steps"] if "synthetics.silence create" in step.get("run", ""))
    assert '--minutes "$MINUTES"' in create["run"] and '--created-by "$CREATED_BY"' in create["run"]
    assert silence["env"]["MINUTES"] == "${{ inputs.maintenance-minutes }}"
    assert create["env"] == {"SYNTHETICS_ALERTMANAGER_TOKEN": "${{ secrets.SYNTHETICS_ALERTMANAGER_TOKEN }}"}
    assert silence["outputs"]["silence-id"] == "${{ steps.silence.outputs.id }}" and create["id"] == "silence"

    unsilence = all_jobs["unsilence"]
    assert needs(unsilence) == ["gate"]
    # always(): after the post gate's checks passed or failed, and when they were skipped.
    assert unsilence["if"] == "${{ always() && inputs.mode == 'post' }}"
    expire = next(step for step in unsilence["steps"] if "synthetics.silence expire" in step.get("run", ""))
    assert '--created-by "$CREATED_BY"' in expire["run"]
    # Found by who set it: the caller's run, which the pre and the post gate share.
    assert unsilence["env"]["CREATED_BY"] == silence["env"]["CREATED_BY"]
    assert "${{ github.run_id }}" in silence["env"]["CREATED_BY"]
    for job in (silence, unsilence):
        assert job["env"]["SYNTHETICS_ALERTMANAGER_URL"] == "${{ vars.SYNTHETICS_ALERTMANAGER_URL }}"

    # The gate's own checks push no alert: a gate's healthy partial run must not resolve the schedule's.
    check = next(step for step in steps(gate) if "make check" in step.get("run", ""))
    assert not {"SYNTHETICS_ALERTMANAGER_URL", "SYNTHETICS_PUSHGATEWAY_URL"} & set(check["env"])

    # The caller the header shows calls its post gate even when the deploy failed, with its result.
    caller = jobs(caller_example(path))
    assert needs(caller["gate-post"]) == ["gate-pre", "deploy"]
    assert caller["gate-post"]["if"] == "${{ always() && needs.gate-pre.result == 'success' }}"
    assert caller["gate-post"]["with"]["deploy-result"] == "${{ needs.deploy.result }}"
    assert caller["gate-pre"]["with"]["mode"] == "pre" and caller["gate-post"]["with"]["mode"] == "post"
    assert "maintenance-minutes" in caller["gate-pre"]["with"]


def test_the_scheduled_run_pushes_to_the_engines_the_target_names_and_keeps_the_webhook_as_fallback() -> None:
    scheduled = workflow_named("synthetics-scheduled.yml")
    check_steps = jobs(scheduled)["check"]["steps"]
    make = next(step for step in check_steps if step.get("id") == "checks")
    assert make["env"]["SYNTHETICS_ALERTMANAGER_URL"] == "${{ vars.SYNTHETICS_ALERTMANAGER_URL }}"
    assert make["env"]["SYNTHETICS_PUSHGATEWAY_URL"] == "${{ vars.SYNTHETICS_PUSHGATEWAY_URL }}"
    assert make["env"]["SYNTHETICS_ALERTMANAGER_TOKEN"] == "${{ secrets.SYNTHETICS_ALERTMANAGER_TOKEN }}"
    assert make["env"]["SYNTHETICS_PUSHGATEWAY_TOKEN"] == "${{ secrets.SYNTHETICS_PUSHGATEWAY_TOKEN }}"
    # prod reads those variables, and names the tokens' variables the workflow sets.
    from synthetics.target import load_target

    prod = load_target(REPO / "targets" / "prod.yaml", environ={
        "SYNTHETICS_ALERTMANAGER_URL": "https://alertmanager.example", "SYNTHETICS_PUSHGATEWAY_URL": "https://pg.example"
    })  # fmt: skip
    assert (prod.reporting.alertmanager_url, prod.reporting.pushgateway_url) == (
        "https://alertmanager.example",
        "https://pg.example",
    )
    assert prod.credentials.alertmanager_token_env == "SYNTHETICS_ALERTMANAGER_TOKEN"
    assert prod.credentials.pushgateway_token_env == "SYNTHETICS_PUSHGATEWAY_TOKEN"
    sinks = next(step for step in check_steps if step.get("id") == "sinks")
    assert sinks["env"] == {
        key: make["env"][key] for key in ("SYNTHETICS_PUSHGATEWAY_URL", "SYNTHETICS_ALERTMANAGER_URL")
    }
    assert check_steps.index(sinks) < check_steps.index(make)
    alert = next(step for step in check_steps if "SYNTHETICS_ALERT_WEBHOOK" in str(step.get("env", {})))
    assert alert["env"]["ENGINES"] == "${{ steps.sinks.outputs.engines }}"
    assert alert["run"].startswith('if [ -n "$ENGINES" ]; then')


def test_the_scheduled_run_is_every_15_minutes_against_prod_with_workers() -> None:
    scheduled = workflow_named("synthetics-scheduled.yml")
    crons = [entry["cron"] for entry in triggers(scheduled)["schedule"]]
    assert crons == ["*/15 * * * *"]
    check = jobs(scheduled)["check"]
    assert {"target": "prod"} in check["strategy"]["matrix"]["include"]
    runs = [step.get("run", "") for step in check["steps"]]
    assert 'make check TARGET="$TARGET" PYTEST_ARGS="-n 4"' in runs
    alerts = [step for step in check["steps"] if "SYNTHETICS_ALERT_WEBHOOK" in str(step.get("env", {}))]
    # Issue 12: the verdict's status decides whether to alert, not make's exit status (any failure
    # is make's 2, an inconclusive run too), so the alert follows the step that reads the verdict.
    assert alerts and alerts[0]["if"] == "${{ !cancelled() && steps.verdict.outcome == 'failure' }}"
    verdict = next(step for step in check["steps"] if step.get("id") == "verdict")
    assert "inconclusive) echo" in verdict["run"] and "*) exit 1" in verdict["run"]
    make = next(step for step in check["steps"] if step.get("id") == "checks")
    assert make["continue-on-error"] is True


def test_triage_is_dispatched_with_target_selection_and_read_only() -> None:
    inputs = triggers(workflow_named("triage.yml"))["workflow_dispatch"]["inputs"]
    assert set(inputs) >= {"target", "selection", "read-only"}
    assert inputs["read-only"]["type"] == "boolean"


@pytest.mark.parametrize("name", ["synthetics-scheduled.yml", "deploy-gate.yml", "triage.yml"])
def test_the_synthetics_workflows_use_oidc_secrets_as_env_and_keep_their_reports(name: str) -> None:
    workflow = workflow_named(name)
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    all_steps = steps(workflow)
    aws = [step for step in all_steps if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")]
    assert aws and "SYNTHETICS_AWS_ROLE_ARN" in aws[0]["with"]["role-to-assume"]
    assert aws[0]["with"]["aws-region"] == "us-east-1"
    check = next(step for step in all_steps if "make check" in step.get("run", ""))
    assert {"SYNAPSE_ADMIN_TOKEN", "SYNTHETICS_CANARY_TOKEN", "SYNAPSE_MEDIA_BUCKET"} <= set(check["env"])
    assert any(step.get("run") == "make report" for step in all_steps)
    uploads = [step for step in all_steps if str(step.get("uses", "")).startswith("actions/upload-artifact@")]
    uploaded = {step["with"]["path"] for step in uploads}
    assert {"reports/verdict.json", "reports/allure-report"} <= uploaded


def test_actionlint_passes_on_every_workflow() -> None:
    assert WORKFLOWS, "no workflows found"
    run = run_actionlint(REPO, WORKFLOWS)
    assert run.returncode == 0, run.stdout + run.stderr


BROKEN = """\
name: broken
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    steps:
      - uses: actions/checkout@v5
        with:
          fetch-deepth: 1
      - run: echo "${{ secret.TOKEN }}"
"""


def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = workflows / "broken.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    run = run_actionlint(tmp_path, [broken])
    assert run.returncode == 1, run.stdout + run.stderr
    assert "broken.yml" in run.stdout
    assert '"fetch-deepth"' in run.stdout  # an input the action does not have
    assert '"secret"' in run.stdout  # an undefined context
