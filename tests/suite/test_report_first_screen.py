"""The report of a real run opens on its verdict (issue 14): a blip's degraded run and a public
bucket's unhealthy one, from the reference deployment, each built with `make report` and opened in
Chromium at 1280x800, with the status, the root cause and its remediation on the first screen; and
every other output of the run says the same status (terminal, JUnit property, the metrics)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from fixtures.allure_meta import REPORT_VERDICT_NAME
from synthetics.verdict import EXIT_STATUS, Status
from tests.report.first_screen import assert_verdict_on_first_screen, serve_folder
from tests.report.test_report import make_report
from tests.suite.conftest import Reference, run_suite
from tests.suite.test_exports import named, series

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(
    ("fault", "status", "root_cause"),
    [("edge-blip", "degraded", "origin-down"), ("s3-public-policy", "unhealthy", "security-exposure")],
)
def test_the_report_of_a_run_opens_on_its_status_and_root_cause(
    reference: Reference, tmp_path: Path, fault: str, status: str, root_cause: str
) -> None:
    with reference.deployment.injected(fault):
        run = run_suite(tmp_path / "run", f"--target={reference.target}", f"--junitxml={tmp_path / 'junit.xml'}")
    verdict = run.verdict
    assert (verdict["status"], verdict["diagnosis"][0]["failure_mode"]) == (status, root_cause), run.output[-3000:]
    assert run.returncode == EXIT_STATUS[Status(status)], run.output[-3000:]
    assert f"Synthetics: {status.upper()}" in run.output
    junit = ElementTree.parse(tmp_path / "junit.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties.get("synthetics_status") == status, properties
    metrics = named(series((tmp_path / "run" / "synthetics.prom").read_text()), "synthetics_status")
    assert metrics[(("status", status), ("target", "local"), ("vantage", verdict["vantage"]))] == 1
    assert metrics[(("status", "healthy"), ("target", "local"), ("vantage", verdict["vantage"]))] == 0
    results = tmp_path / "run" / "allure-results"
    assert (results / REPORT_VERDICT_NAME).read_text() == run.verdict_path.read_text()
    # A check that passed only when its request was tried again is marked so in its Allure result.
    retried = {c["id"] for c in verdict["checks"] if c.get("attempts")}
    assert bool(retried) == (fault == "edge-blip"), retried
    documents = [json.loads(path.read_text()) for path in results.glob("*-result.json")]
    (versions,) = [d for d in documents if d["fullName"] == "checks.test_client_api#test_versions"]
    tags = {label["value"] for label in versions.get("labels", []) if label["name"] == "tag"}
    if fault == "edge-blip":
        assert {"retried", "warning"} <= tags and versions["status"] == "passed", versions
        assert "attempt 1:" in versions.get("description", ""), versions
    else:
        assert not {"retried", "warning"} & tags, versions
    folder = tmp_path / "allure-report"
    make_report(results, history=tmp_path / "history.jsonl", output=folder)
    with serve_folder(folder) as base:
        assert_verdict_on_first_screen(base + "index.html", verdict)
