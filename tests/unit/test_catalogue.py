"""The failure-mode catalogue: complete, and remediations rendered with the target's own names."""

from pathlib import Path

from synthetics.catalogue import CATALOGUE, Mode, render_remediation
from synthetics.target import load_target

REPO = Path(__file__).resolve().parents[2]
RUNBOOK_MODES = {"origin-down", "federation-broken", "media-upload-failing", "database-errors", "slow-performance"}
EXTENSIONS = {
    "dns-misconfigured",
    "tls-certificate",
    "edge-misconfigured",
    "edge-blocking",
    "client-discovery-broken",
    "deployment-unstable",
    "security-exposure",
    "messaging-broken",
    "edge-unreachable",
    "runner-offline",
}


def test_the_catalogue_has_the_runbook_rows_and_the_extensions() -> None:
    assert set(CATALOGUE) == RUNBOOK_MODES | EXTENSIONS
    assert {name for name, mode in CATALOGUE.items() if mode.from_runbook} == RUNBOOK_MODES
    assert CATALOGUE[Mode("origin-down")].symptom == "502 from Cloudflare"
    assert CATALOGUE[Mode("origin-down")].likely_cause == "Synapse process crashed or ECS task stopped"


def test_remediations_render_the_runbook_commands_for_prod() -> None:
    target = load_target(REPO / "targets" / "prod.yaml", environ={})
    steps = render_remediation(CATALOGUE[Mode("origin-down")], target)
    assert any(
        "aws ecs update-service --cluster phenom-prod-cluster --service synapse --force-new-deployment "
        "--profile phenom --region us-east-1" in step
        for step in steps
    )
    assert any(
        "aws ecs wait services-stable --cluster phenom-prod-cluster --services synapse" in step for step in steps
    )
    federation = " ".join(render_remediation(CATALOGUE[Mode("federation-broken")], target))
    assert "https://thephenom.app/.well-known/matrix/server" in federation
    assert '"m.server": "chat.thephenom.app:443"' in federation


def test_every_remediation_renders_without_leftover_placeholders() -> None:
    target = load_target(REPO / "targets" / "prod.yaml", environ={"SYNAPSE_MEDIA_BUCKET": "bucket"})
    for mode in CATALOGUE.values():
        for step in render_remediation(mode, target):
            assert "<" not in step.replace("</dev/null", ""), (mode.name, step)
