"""Evidence is gathered once per run, and only for the checks selected (issue 11).

A run with xdist workers asks the deployment exactly what a serial run asks: one canary message,
one upload, one S3 canary write, not one per worker (the schedule runs `-n 4` against production).
A smoke run selects no check that writes, so it writes nothing at all.
"""

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.suite.conftest import Reference, SuiteRun, run_suite

pytestmark = pytest.mark.stack

SEND = "PUT chat.phenom.test/_matrix/client/v3/rooms/{id}/send/m.room.message/{id}"
UPLOAD = "POST chat.phenom.test/_matrix/media/v3/upload?filename"
# How often the message journey polls /sync depends on when its message shows up: timing, not the plan.
TIMING = {"GET chat.phenom.test/_matrix/client/v3/sync?filter,since,timeout"}

# A room or event id, a transaction id, a random alias or media id: what differs between two runs.
_ID = re.compile(r"^[!$]|[0-9a-f]{12}|^(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9_-]{12,}$")


class _Tail:
    """What a log file gains from now on (the deployment is shared by every test of the session)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        with open(self.path, encoding="utf-8", errors="replace") as log:
            log.seek(self.offset)
            return log.read()


def _kind(line: dict[str, object]) -> str:
    path = "/".join("{id}" if _ID.search(part) else part for part in str(line["path"]).split("/"))
    query = ",".join(str(key) for key in line["query"]) if isinstance(line["query"], list) else ""
    return f"{line['method']} {line['host']}{path}" + (f"?{query}" if query else "")


def _during(reference: Reference, run: Callable[[], SuiteRun]) -> tuple[SuiteRun, Counter[str], int]:
    """The run, the kinds of request the edge saw during it, and the S3 canary writes moto saw."""
    state_dir = reference.deployment.state_dir
    edge, moto = _Tail(state_dir / "edge-requests.jsonl"), _Tail(state_dir / "moto.log")
    finished = run()
    kinds = Counter(_kind(json.loads(line)) for line in edge.text().splitlines() if line.strip())
    aws = yaml.safe_load(reference.target.read_text())["aws"]
    canary_put = f"PUT /{aws['s3']['media_bucket']}/{aws['s3'].get('canary_prefix', 'synthetics-canary/')}"
    return finished, kinds, moto.text().count(canary_put)


def test_a_parallel_run_asks_what_a_serial_run_asks(reference: Reference, tmp_path: Path) -> None:
    target = f"--target={reference.target}"
    serial, serial_kinds, serial_puts = _during(reference, lambda: run_suite(tmp_path / "serial", target))
    assert serial.returncode == 0, serial.output
    parallel, parallel_kinds, parallel_puts = _during(
        reference, lambda: run_suite(tmp_path / "parallel", target, "-n", "2")
    )
    assert parallel.returncode == 0, parallel.output
    assert "Synthetics: HEALTHY" in parallel.output

    assert (serial_kinds[SEND], serial_kinds[UPLOAD], serial_puts) == (1, 1, 1), serial_kinds
    assert (parallel_kinds[SEND], parallel_kinds[UPLOAD], parallel_puts) == (1, 1, 1), parallel_kinds
    for kind in TIMING:
        assert serial_kinds.pop(kind, 0) >= 1 and parallel_kinds.pop(kind, 0) >= 1
    assert parallel_kinds == serial_kinds


def test_a_smoke_run_writes_nothing(reference: Reference, tmp_path: Path) -> None:
    smoke, kinds, canary_puts = _during(
        reference, lambda: run_suite(tmp_path, f"--target={reference.target}", "-m", "smoke")
    )
    assert smoke.returncode == 0, smoke.output
    assert kinds["GET chat.phenom.test/_matrix/client/versions"] >= 1, kinds  # the log did see the run
    assert (kinds[SEND], kinds[UPLOAD], canary_puts) == (0, 0, 0), kinds
    assert not [kind for kind in kinds if kind.startswith(("PUT ", "POST ", "DELETE "))], kinds


def test_a_skip_reason_is_the_same_in_a_worker_that_reads_the_evidence(reference: Reference, tmp_path: Path) -> None:
    # Results that are exceptions (AWS cannot be asked) and refusals (the admin API answers 401) are
    # handed over from the worker that gathers evidence: every worker skips with the same reasons.
    document = yaml.safe_load(reference.target.read_text())
    document["aws"]["profile"] = "nowhere"
    target = tmp_path / "refused.yaml"
    target.write_text(yaml.safe_dump(document))
    env = {"SYNAPSE_ADMIN_TOKEN": "syt_not_a_token"}
    skipped = {}
    for mode, workers in (("serial", ()), ("parallel", ("-n", "2"))):
        run = run_suite(tmp_path / mode, f"--target={target}", *workers, env=env)
        assert run.returncode == 0, run.output
        skipped[mode] = {c["id"]: c["message"] for c in run.verdict["checks"] if c["outcome"] == "skipped"}
    assert skipped["parallel"] == skipped["serial"]
    assert skipped["serial"]["aws.ecs_service_running"].startswith(
        "AWS checks skipped: AWS profile 'nowhere' is not configured: run `aws sso login --profile nowhere`"
    )
    assert skipped["serial"]["admin.no_background_updates"].endswith(
        "answered 401: the admin token is refused (check homeserver.admin_url and the token)"
    )
