"""Each fault of the public surface, injected into the real reference deployment, is diagnosed as
the failure mode the fault table names; once healed, the same deployment is healthy again."""

from pathlib import Path

import pytest

from stack import FAULTS
from tests.suite.conftest import Reference, run_suite, run_suite_from_now

pytestmark = pytest.mark.stack

SURFACE_FAULTS = (
    "synapse-down",
    "wellknown-wrong",
    "wellknown-missing",
    "keys-invalid",
    "slow-origin",
    "dns-unproxied",
    "dns-missing",
    "cert-expiring",
    "waf-challenge",
    "http1-only",
    "edge-bypassed",
    "db-down",
)


@pytest.mark.parametrize("fault", SURFACE_FAULTS)
def test_the_fault_is_diagnosed_and_the_healed_deployment_is_healthy(
    reference: Reference, tmp_path: Path, fault: str
) -> None:
    expected = FAULTS[fault]
    with reference.deployment.injected(fault):
        broken = run_suite(tmp_path / "broken", f"--target={reference.target}")
    assert broken.returncode == 1, broken.output
    diagnosed = [entry["failure_mode"] for entry in broken.verdict["diagnosis"]]
    assert expected in diagnosed, (diagnosed, broken.output[-3000:])
    failed = [c for c in broken.verdict["checks"] if c["outcome"] == "failed" and c["failure_mode"] == expected]
    assert failed and all(c["message"] for c in failed)

    healed = run_suite_from_now(tmp_path / "healed", reference.target)
    assert healed.returncode == 0, healed.output
    assert healed.verdict["status"] == "healthy"
