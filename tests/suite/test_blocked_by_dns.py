"""With the chat host's DNS records deleted, every check that needs the chat host is blocked by the
DNS check (with its evidence), not failed again, and the diagnosis has one entry."""

from pathlib import Path

import pytest

from tests.suite.conftest import Reference, run_suite

pytestmark = pytest.mark.stack

# What needs the chat host: everything reached through it (the delegated host is the chat host here).
NEEDS_THE_CHAT_HOST = (
    "admin.",
    "client_api.",
    "edge.",
    "journey.",
    "security.",
    "federation.federation_version",
    "federation.server_keys",
    "federation.keys_same_on_every_address",
    "tls.certificate_verifies[chat",
    "tls.certificate_not_expiring[chat",
    "tls.modern_protocol[chat",
    "dns.proxied_by_cloudflare[chat",
)
DNS_CHECKS = {"dns.resolves[chat-host]", "dns.resolves[delegated-host]"}


def test_a_host_that_does_not_resolve_blocks_every_check_behind_it(reference: Reference, tmp_path: Path) -> None:
    with reference.deployment.injected("dns-missing"):
        run = run_suite(tmp_path, f"--target={reference.target}")
    assert run.returncode == 1, run.output[-3000:]
    checks = {c["id"]: c for c in run.verdict["checks"]}
    behind = [check_id for check_id in checks if check_id.startswith(NEEDS_THE_CHAT_HOST)]
    assert len(behind) >= 20, behind
    for check_id in behind:
        assert checks[check_id]["outcome"] == "skipped", checks[check_id]
        assert checks[check_id]["blocked_by"] in DNS_CHECKS, checks[check_id]
        assert "NXDOMAIN" in checks[check_id]["message"], checks[check_id]
    assert {c for c, check in checks.items() if check["outcome"] == "failed"} <= DNS_CHECKS
    assert [entry["failure_mode"] for entry in run.verdict["diagnosis"]] == ["dns-misconfigured"]
