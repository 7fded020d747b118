"""Every check's `proven_by` holds on the real reference deployment: one run per fault or proof.

For every fault of `python -m stack fault --list` and every proof of tests/suite/proofs.py, one run
of the whole suite with it injected must reach the expected status with the name's failure mode
ranked first (issue 12: the root cause, not merely among the findings), and show every check that
declares the name failed with the mode that check detects (and with a message) — or, for a fault
whose run is `degraded` (issue 14), passed with a warning of that mode; then the very next run after
healing, with no --since, must be healthy, or degraded only by warnings about evidence older than
the heal ("recovered"), with those checks passing: a monitor that pages after recovery gets
switched off. Which check proves
what is read from the checks' own declarations (a collect-only run of checks/), never from a table
here, so a check that stops seeing its fault fails this test rather than going quietly stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import FAULTS
from stack._faults import REGISTRY
from synthetics.verdict import EXIT_STATUS, Status
from tests.suite.conftest import Reference, run_suite
from tests.suite.proofs import PROOFS, PROVES_NOTHING_YET, known, proof
from tests.support.declarations import collect, declared_by

DECLARED = collect()
BY_NAME = declared_by(DECLARED)


def test_every_declared_proof_is_a_fault_or_a_registered_proof() -> None:
    unknown = {d.id: sorted(set(d.proven_by) - known()) for d in DECLARED if set(d.proven_by) - known()}
    where = "a fault (python -m stack fault --list) nor a proof of tests/suite/proofs.py"
    assert not unknown, f"proven_by names neither {where}: {unknown}"


def test_no_proof_shadows_a_fault() -> None:
    # One name space: a proof named like a fault would make `proven_by` ambiguous.
    assert not set(PROOFS) & set(FAULTS)


def test_every_fault_and_proof_proves_some_check() -> None:
    unused = sorted(known() - set(BY_NAME) - set(PROVES_NOTHING_YET))
    assert not unused, f"declared by no check (declare it with proven_by, or say why in PROVES_NOTHING_YET): {unused}"
    # A reason for a name that does prove something, or for no name at all, is stale.
    assert not set(PROVES_NOTHING_YET) & set(BY_NAME)
    assert set(PROVES_NOTHING_YET) <= known()


def test_no_check_declares_a_proof_twice() -> None:
    twice = {d.id: d.declares for d in DECLARED if len(set(d.declares)) != len(d.declares)}
    assert not twice, twice


def test_a_proof_of_one_parameter_names_a_parameter_the_check_has() -> None:
    # `name[param]` proves that parameter only; a misspelt one would silently prove nothing.
    params: dict[str, set[str]] = {}
    for d in DECLARED:
        base, _, param = d.id.partition("[")
        params.setdefault(base, set()).add(param.removesuffix("]"))
    wrong = {
        d.id: name
        for d in DECLARED
        for name in d.declares
        if "[" in name and name.partition("[")[2].removesuffix("]") not in params[d.id.partition("[")[0]]
    }
    assert not wrong, wrong


def expected_status(name: str) -> Status:
    return Status(REGISTRY[name].status) if name in REGISTRY else proof(name).status


@pytest.mark.stack
@pytest.mark.parametrize("name", sorted(known()))
def test_the_proof_fails_its_checks_and_the_healed_deployment_is_healthy(
    reference: Reference, tmp_path: Path, name: str
) -> None:
    chosen = proof(name)
    expected = chosen.failure_mode.value
    declaring = BY_NAME.get(name, ())
    with chosen.setting(reference, tmp_path) as target:
        # No --since: error lines earlier faults left are judged against the live checks, as in production.
        with chosen.breaks(reference, target, tmp_path) as broken:
            run = run_suite(tmp_path / "broken", f"--target={broken.target}")
        status = expected_status(name)
        assert run.verdict["status"] == status, run.output[-3000:]
        assert run.returncode == EXIT_STATUS[status], run.output[-3000:]
        diagnosed = [entry["failure_mode"] for entry in run.verdict["diagnosis"]]
        assert diagnosed and diagnosed[0] == expected, (diagnosed, run.output[-3000:])
        checks = {c["id"]: c for c in run.verdict["checks"]}
        # A degraded run's finding is a warning: its checks pass, and say what they warn of.
        outcome, impact, said = (
            ("passed", "warning", "warnings") if status == Status.DEGRADED else ("failed", None, "message")
        )
        found = [c for c in checks.values() if c["outcome"] == outcome and c.get("failure_mode") == expected]
        assert found and all(c.get(said) for c in found), found
        if impact is not None:
            assert run.verdict["diagnosis"][0]["impact"] == impact, run.verdict["diagnosis"][0]
        else:
            assert run.verdict["diagnosis"][0]["impact"] in ("outage", "exposure"), run.verdict["diagnosis"][0]
        for each in declaring:
            seen = checks[each.id]
            assert (seen["outcome"], seen.get("failure_mode"), seen.get("impact")) == (
                outcome,
                each.detects,
                impact or seen.get("impact"),
            ), seen
            assert seen.get(said), seen
        # What a person reads beyond the declarations: the evidence named in the messages, what is blocked.
        for check_id, texts in broken.seen.says.items():
            text_seen = " ".join([checks[check_id]["message"], *checks[check_id].get("warnings", [])])
            assert all(text in text_seen for text in texts), (texts, checks[check_id])
        for check_id, count in broken.seen.attempts.items():
            attempts = checks[check_id].get("attempts", [])
            assert [f"attempt {n}:" in line for n, line in enumerate(attempts, start=1)] == [True] * count, attempts
        for check_id, blocker in broken.seen.blocked_by.items():
            assert checks[check_id].get("blocked_by") == blocker, checks[check_id]

        healed = run_suite(tmp_path / "healed", f"--target={target}")
    assert healed.returncode == 0, healed.output[-3000:]
    assert healed.verdict["status"] in ("healthy", "degraded"), healed.output[-3000:]
    # Degraded after a heal only by what the logs still hold from before it, never by something live.
    live = [entry for entry in healed.verdict["diagnosis"] if not entry.get("recovered")]
    assert not live, live
    outcomes = healed.outcomes()
    assert {each.id: outcomes[each.id] for each in declaring} == dict.fromkeys((d.id for d in declaring), "passed")
