"""Checks without a fault of their own in the stack's table, each broken for real and healed: the
bucket's public access block, the client well-known, an outsized room, a trust store that does not
hold the edge's CA."""

from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
import yaml
from botocore.config import Config

from tests.stack._helpers import edge_config_changed
from tests.suite.conftest import Reference, SuiteRun, run_suite, since_now

pytestmark = pytest.mark.stack


def outcome(run: SuiteRun, check_id: str) -> tuple[str, str | None]:
    check = {c["id"]: c for c in run.verdict["checks"]}[check_id]
    return check["outcome"], check["failure_mode"]


def variant(reference: Reference, directory: Path, change: Any) -> Path:
    """A copy of the reference target with one thing changed (the deployment itself is untouched)."""
    document = yaml.safe_load(reference.target.read_text())
    change(document)
    path = directory / "variant.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_public_access_to_the_media_bucket_is_seen(reference: Reference, tmp_path: Path) -> None:
    aws = yaml.safe_load(reference.target.read_text())["aws"]
    s3 = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1").client(
        "s3", endpoint_url=aws["endpoint_url"], config=Config(connect_timeout=2, read_timeout=5)
    )
    bucket = aws["s3"]["media_bucket"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    s3.delete_public_access_block(Bucket=bucket)
    try:
        exposed = run_suite(tmp_path / "exposed", f"--target={reference.target}", "-k", "public_access")
    finally:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    assert outcome(exposed, "aws.s3_public_access_blocked") == ("failed", "security-exposure")
    healed = run_suite(tmp_path / "healed", f"--target={reference.target}", "-k", "public_access")
    assert outcome(healed, "aws.s3_public_access_blocked") == ("passed", None)


def test_a_wrong_client_well_known_is_seen(reference: Reference, tmp_path: Path) -> None:
    wrong = {"m.homeserver": {"base_url": "https://matrix.elsewhere.test"}}
    with edge_config_changed(reference.deployment.state_dir, wellknown_client=wrong):
        broken = run_suite(tmp_path / "broken", f"--target={reference.target}", "-k", "well_known_client")
    assert outcome(broken, "client_discovery.well_known_client") == ("failed", "client-discovery-broken")
    message = {c["id"]: c for c in broken.verdict["checks"]}["client_discovery.well_known_client"]["message"]
    assert "matrix.elsewhere.test" in message
    healed = run_suite(tmp_path / "healed", f"--target={reference.target}", "-k", "well_known_client")
    assert outcome(healed, "client_discovery.well_known_client") == ("passed", None)


def test_a_room_over_the_state_threshold_is_seen(reference: Reference, tmp_path: Path) -> None:
    # The canary room holds a handful of state events: over a threshold of one, it is "outsized".
    strict = variant(reference, tmp_path, lambda d: d.update(thresholds={"room_state_events": 1}))
    run = run_suite(tmp_path / "strict", f"--target={strict}", "-k", "rooms_not_outsized", since_now())
    assert outcome(run, "admin.rooms_not_outsized") == ("failed", "slow-performance")
    assert "state events" in {c["id"]: c for c in run.verdict["checks"]}["admin.rooms_not_outsized"]["message"]


def test_a_trust_store_without_the_edge_ca_fails_verification(reference: Reference, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    untrusted = variant(reference, tmp_path, lambda d: d["tls"].update(ca_bundle=str(other_ca)))
    run = run_suite(tmp_path / "untrusted", f"--target={untrusted}", "-k", "tls")
    assert outcome(run, "tls.certificate_verifies[chat-host]") == ("failed", "tls-certificate")
    assert (
        "does not verify"
        in {c["id"]: c for c in run.verdict["checks"]}["tls.certificate_verifies[chat-host]"]["message"]
    )
