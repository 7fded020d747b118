"""The S3 canary never leaves an object behind: not after many runs, not when a run is interrupted
with Ctrl-C in the middle of the write."""

import functools
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.suite.conftest import REPO, Reference, run_suite
from tests.support.slow_proxy import SlowProxy

pytestmark = pytest.mark.stack

RUNS = 20


@functools.cache
def _s3(endpoint_url: str) -> Any:
    # One client for every poll: building one takes seconds on a loaded machine, longer than the
    # canary stays in flight, so a poller that built one per poll could miss it.
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    return session.client("s3", endpoint_url=endpoint_url, config=Config(connect_timeout=2, read_timeout=5))


def canaries(target: dict[str, object]) -> list[str]:
    aws = target["aws"]
    assert isinstance(aws, dict)
    listed = _s3(aws["endpoint_url"]).list_objects_v2(
        Bucket=aws["s3"]["media_bucket"], Prefix=aws["s3"].get("canary_prefix", "synthetics-canary/")
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def test_no_canary_is_left_after_many_runs_one_of_them_interrupted(reference: Reference, tmp_path: Path) -> None:
    document = yaml.safe_load(reference.target.read_text())
    for run in range(RUNS - 1):
        finished = run_suite(tmp_path / f"run-{run}", f"--target={reference.target}", "-k", "s3_media_write")
        assert finished.returncode == 0, finished.output
    assert canaries(document) == []

    moto_port = urlsplit(document["aws"]["endpoint_url"]).port
    assert moto_port is not None
    # Through a slow S3 endpoint the canary's write-read-delete takes seconds: time to interrupt it.
    with SlowProxy(moto_port, delay_s=0.3) as proxy:
        slow = dict(document, aws=dict(document["aws"], endpoint_url=f"http://127.0.0.1:{proxy.port}"))
        target = tmp_path / "slow-s3.yaml"
        target.write_text(yaml.safe_dump(slow))

        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--target={target}", "-k", "s3_media_write",
             f"--verdict={tmp_path / 'interrupted.json'}", f"--alluredir={tmp_path / 'allure'}"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not canaries(document) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        assert canaries(document), "the canary was never seen in flight"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode != 0, output
        assert "incomplete" in (tmp_path / "interrupted.json").read_text()

    assert canaries(document) == []
