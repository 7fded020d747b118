"""A scrape of Synapse's metrics listener that answers 500 once is a blip of its exporter (its
thread races the reactor, element-hq/synapse#18764), confirmed by a second scrape before it counts;
two in a row are a listener that does not answer. The real listener of the reference deployment,
behind a relay that fails the first scrapes (a CI run paged for one such 500 after a heal)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.suite.conftest import Reference, run_suite
from tests.support.flaky_relay import FlakyRelay

LISTENER = "synapse_metrics.listener_answers"
METRICS_CHECKS = "checks/test_synapse_metrics.py"


def _through(relay: FlakyRelay, target: Path, directory: Path) -> Path:
    """A copy of the target whose metrics_url goes through the relay."""
    document = yaml.safe_load(target.read_text())
    address = f"127.0.0.1:{relay.port}"
    document["homeserver"]["metrics_url"] = f"http://{address}/_synapse/metrics"
    document["network"]["connect_to"][address] = address
    path = directory / "through-relay.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _upstream(target: Path) -> int:
    url = yaml.safe_load(target.read_text())["homeserver"]["metrics_url"]
    return int(url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@pytest.mark.stack
def test_one_failed_scrape_is_scraped_again_and_pages_nobody(reference: Reference, tmp_path: Path) -> None:
    with FlakyRelay(_upstream(reference.target), failures=1) as relay:
        run = run_suite(tmp_path, f"--target={_through(relay, reference.target, tmp_path)}", METRICS_CHECKS)
    assert run.returncode == 0, run.output[-3000:]
    assert run.verdict["status"] == "healthy", run.output[-3000:]
    listener = {c["id"]: c for c in run.verdict["checks"]}[LISTENER]
    assert listener["outcome"] == "passed" and not listener.get("warnings"), listener
    attempts = listener.get("attempts", [])
    assert len(attempts) == 2, attempts
    assert "attempt 1: HTTP 500" in attempts[0] and "attempt 2: HTTP 200" in attempts[1], attempts
    assert any("answered on attempt 2" in note for note in listener.get("notes", [])), listener
    # One scrape more than the two the checks compare: the confirming one.
    assert relay.connections == 3


@pytest.mark.stack
def test_a_listener_that_fails_the_second_scrape_too_is_not_answering(reference: Reference, tmp_path: Path) -> None:
    with FlakyRelay(_upstream(reference.target), failures=2) as relay:
        run = run_suite(tmp_path, f"--target={_through(relay, reference.target, tmp_path)}", METRICS_CHECKS)
    checks = {c["id"]: c for c in run.verdict["checks"]}
    assert checks[LISTENER]["outcome"] == "failed", checks[LISTENER]
    assert "answered HTTP 500" in checks[LISTENER]["message"], checks[LISTENER]
    assert "confirmed on attempt 2" in checks[LISTENER]["message"], checks[LISTENER]
    blocked = [c for c in checks.values() if c["id"].startswith("synapse_metrics.") and c["id"] != LISTENER]
    assert blocked and all(c.get("blocked_by") == LISTENER for c in blocked), blocked
    assert relay.connections == 2
