"""The failure-mode catalogue: the runbook's "Common failure modes" table and its extensions.

One place, as data. Remediations are templates rendered with the target's own names, so what an
on-call engineer reads can be pasted into a shell.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from synthetics.layers import Layer
from synthetics.target import Target

__all__ = ["CATALOGUE", "FailureMode", "Mode", "failure_mode", "remediation_values", "render_remediation"]

RUNBOOK = "../shared/runbook-chat-synapse.txt"


class Mode(StrEnum):
    """The failure modes' names: the only spelling of each in the suite, so a typo fails in mypy or at
    import, never at 3 a.m. The runbook's five rows, then the extensions."""

    ORIGIN_DOWN = "origin-down"
    FEDERATION_BROKEN = "federation-broken"
    MEDIA_UPLOAD_FAILING = "media-upload-failing"
    DATABASE_ERRORS = "database-errors"
    SLOW_PERFORMANCE = "slow-performance"
    DNS_MISCONFIGURED = "dns-misconfigured"
    TLS_CERTIFICATE = "tls-certificate"
    EDGE_MISCONFIGURED = "edge-misconfigured"
    EDGE_BLOCKING = "edge-blocking"
    CLIENT_DISCOVERY_BROKEN = "client-discovery-broken"
    DEPLOYMENT_UNSTABLE = "deployment-unstable"
    SECURITY_EXPOSURE = "security-exposure"
    MESSAGING_BROKEN = "messaging-broken"
    EDGE_UNREACHABLE = "edge-unreachable"
    RUNNER_OFFLINE = "runner-offline"


@dataclass(frozen=True)
class FailureMode:
    name: Mode
    symptom: str
    likely_cause: str
    remediation: tuple[str, ...]
    from_runbook: bool
    # Where the fault lives: when several modes fire, the lowest layer is the likelier cause (a slow
    # origin, for one, explains a message that arrives too late, so slow-performance sits below journeys).
    layer: Layer
    # False for a fault of the probing side: it says nothing about chat, so it never pages about chat.
    concerns_chat: bool = True

    @property
    def rank(self) -> tuple[int, int]:
        """The fixed part of root-cause ranking: the layer's depth, then the catalogue's own order."""
        return (self.layer.depth, _MODES.index(self))


_AWS = "{aws_options}"
_DESCRIBE_SERVICE = (
    "Check the ECS service: aws ecs describe-services --cluster {cluster} --services {service} "
    + _AWS
    + " --query 'services[0].{{status:status,running:runningCount,desired:desiredCount,"
    "deployments:deployments[].rolloutState,events:events[:5].message}}'"
)
_FORCE_DEPLOYMENT = (
    "Force a new deployment: aws ecs update-service --cluster {cluster} --service {service} "
    "--force-new-deployment " + _AWS
)
_WAIT_STABLE = "Wait until it is stable: aws ecs wait services-stable --cluster {cluster} --services {service} " + _AWS
_TAIL_LOGS = "Read the logs: aws logs tail {log_group} --since 30m " + _AWS

_MODES = (
    FailureMode(
        name=Mode.RUNNER_OFFLINE,
        symptom="The suite's own machine cannot reach the network",
        likely_cause="No route or no resolver on the runner (its network, VPN or DNS is down), not chat itself",
        remediation=(
            "On the runner: ip route; cat /etc/resolv.conf; try the target's resolvers and the control URL by hand",
            "Run the suite from another vantage point before paging anyone about chat",
        ),
        from_runbook=False,
        layer=Layer.RUNNER,
        concerns_chat=False,
    ),
    FailureMode(
        name=Mode.DNS_MISCONFIGURED,
        symptom="The chat host or the server name does not resolve, or resolves outside Cloudflare",
        likely_cause="DNS record missing or wrong, or proxying switched off (grey cloud), exposing the origin",
        remediation=(
            "Check the records: dig +short {chat_host} A; dig +short {chat_host} AAAA; dig +short {server_host} A",
            "In Cloudflare DNS, the records for {chat_host} and {server_host} must exist and be proxied (orange cloud)",
        ),
        from_runbook=False,
        layer=Layer.DNS,
    ),
    FailureMode(
        name=Mode.TLS_CERTIFICATE,
        symptom="TLS handshake fails, or the certificate is expired or close to expiry",
        likely_cause="Certificate expired or not renewed, wrong name, incomplete chain, or edge-to-origin TLS broken (525/526)",
        remediation=(
            "Inspect the certificate: openssl s_client -connect {chat_host}:443 -servername {chat_host} </dev/null "
            "| openssl x509 -noout -subject -issuer -dates",
            "Check the Cloudflare edge certificate and the SSL/TLS mode for the zone, and the origin certificate",
        ),
        from_runbook=False,
        layer=Layer.TLS,
    ),
    FailureMode(
        name=Mode.EDGE_MISCONFIGURED,
        symptom="Responses do not come through Cloudflare as expected, or HTTP/2 is not negotiated",
        likely_cause="Proxying off, HTTP/2 disabled, or wrong routing at the edge",
        remediation=(
            "Check what the edge answers: curl -sI --http2 {base_url}/_matrix/client/versions",
            "In Cloudflare, check the proxy status of {chat_host} and Network > HTTP/2 for the zone",
        ),
        from_runbook=False,
        layer=Layer.EDGE,
    ),
    FailureMode(
        name=Mode.EDGE_BLOCKING,
        symptom="Cloudflare challenges or blocks Matrix API traffic",
        likely_cause="A WAF rule, Bot Fight Mode or a challenge applies to /_matrix or /.well-known/matrix",
        remediation=(
            "Find the blocking rule in Cloudflare Security > Events (search for the cf-ray of the failed request)",
            "Add a WAF skip rule for /_matrix/* and /.well-known/matrix/* on {chat_host} and {server_host}",
        ),
        from_runbook=False,
        layer=Layer.EDGE,
    ),
    FailureMode(
        name=Mode.EDGE_UNREACHABLE,
        symptom="The edge accepts no connection, or accepts and never answers",
        likely_cause="The path to Cloudflare (or to a host that is not Cloudflare) is broken: the address drops "
        "packets or holds connections without a TLS handshake or an HTTP answer",
        remediation=(
            "Try the edge by hand: curl -sv --max-time 10 -o /dev/null {base_url}/_matrix/client/versions",
            "Check https://www.cloudflarestatus.com and that dig +short {chat_host} gives Cloudflare's addresses",
            "From another network: mtr -rwc 10 {chat_host} (where packets stop)",
        ),
        from_runbook=False,
        layer=Layer.EDGE,
    ),
    FailureMode(
        name=Mode.ORIGIN_DOWN,
        symptom="502 from Cloudflare",
        likely_cause="Synapse process crashed or ECS task stopped",
        remediation=(_DESCRIBE_SERVICE, _FORCE_DEPLOYMENT, _WAIT_STABLE, _TAIL_LOGS),
        from_runbook=True,
        layer=Layer.CLIENT_API,
    ),
    FailureMode(
        name=Mode.DEPLOYMENT_UNSTABLE,
        symptom="The ECS deployment does not settle",
        likely_cause="A rollout is stuck or failed: new tasks crash on start or fail their health checks",
        remediation=(
            _DESCRIBE_SERVICE,
            "Read why tasks stopped: aws ecs list-tasks --cluster {cluster} --service-name {service} "
            "--desired-status STOPPED " + _AWS,
            "Roll back to the previous task definition if the new one does not start",
        ),
        from_runbook=False,
        layer=Layer.AWS,
    ),
    FailureMode(
        name=Mode.DATABASE_ERRORS,
        symptom="Database connection errors in logs",
        likely_cause="RDS postgres unreachable or connection pool exhausted",
        remediation=(
            "Check RDS status (see the RDS prod runbook): aws rds describe-db-instances "
            "--db-instance-identifier {rds_instance} --query 'DBInstances[0].DBInstanceStatus' " + _AWS,
            "Look for the errors: aws logs tail {log_group} --since 30m --filter-pattern OperationalError " + _AWS,
            "Restart Synapse: aws ecs update-service --cluster {cluster} --service {service} --force-new-deployment "
            + _AWS,
        ),
        from_runbook=True,
        layer=Layer.AWS,
    ),
    FailureMode(
        name=Mode.MEDIA_UPLOAD_FAILING,
        symptom="Media upload fails",
        likely_cause="S3 media bucket permissions error or bucket full",
        remediation=(
            "Check the ECS task IAM role: aws ecs describe-task-definition --task-definition "
            "$(aws ecs describe-services --cluster {cluster} --services {service} "
            + _AWS
            + " --query 'services[0].taskDefinition' --output text) --query 'taskDefinition.taskRoleArn' "
            + _AWS,
            "Check the S3 bucket: aws s3api get-bucket-policy --bucket {media_bucket} "
            + _AWS
            + "; aws s3 ls s3://{media_bucket} --summarize --recursive "
            + _AWS
            + " | tail -2",
        ),
        from_runbook=True,
        layer=Layer.AWS,
    ),
    FailureMode(
        name=Mode.FEDERATION_BROKEN,
        symptom="Federation broken",
        likely_cause=".well-known/matrix/server misconfigured or port 8448 blocked",
        remediation=(
            "Verify https://{server_host}/.well-known/matrix/server returns correct delegation: "
            'curl -s https://{server_host}/.well-known/matrix/server (expected: {{"m.server": "{delegation}"}})',
            "Check the server keys: curl -s https://{delegation_host}/_matrix/key/v2/server",
        ),
        from_runbook=True,
        layer=Layer.FEDERATION,
    ),
    FailureMode(
        name=Mode.CLIENT_DISCOVERY_BROKEN,
        symptom="Clients cannot find the homeserver from the server name",
        likely_cause="/.well-known/matrix/client missing, invalid, or served without CORS headers",
        remediation=(
            "curl -si https://{server_host}/.well-known/matrix/client must answer 200 with "
            '{{"m.homeserver": {{"base_url": "{base_url}"}}}} and Access-Control-Allow-Origin: *',
        ),
        from_runbook=False,
        layer=Layer.CLIENT_API,
    ),
    FailureMode(
        name=Mode.MESSAGING_BROKEN,
        symptom="Messages sent are not delivered",
        likely_cause="Event sending or /sync failing although the API answers",
        remediation=(_TAIL_LOGS, _FORCE_DEPLOYMENT),
        from_runbook=False,
        layer=Layer.JOURNEY,
    ),
    FailureMode(
        name=Mode.SLOW_PERFORMANCE,
        symptom="Slow performance",
        likely_cause="Too many rooms or events; Synapse needs background job",
        remediation=(
            'Run Synapse maintenance jobs; see what is pending: curl -H "Authorization: Bearer ${admin_token_env}" '
            "{base_url}/_synapse/admin/v1/background_updates/status",
            "Check CPU/memory on the ECS task: aws cloudwatch get-metric-statistics --namespace AWS/ECS "
            "--metric-name CPUUtilization --dimensions Name=ClusterName,Value={cluster} Name=ServiceName,Value={service} "
            "--statistics Average --period 300 --start-time $(date -u -d '-1 hour' +%FT%TZ) --end-time $(date -u +%FT%TZ) "
            + _AWS,
        ),
        from_runbook=True,
        layer=Layer.AWS,
    ),
    FailureMode(
        name=Mode.SECURITY_EXPOSURE,
        symptom="The admin API, metrics, open registration or the media bucket are reachable from the internet",
        likely_cause="The edge forwards /_synapse/admin or /_synapse/metrics, registration is open, or the media "
        "bucket's policy or ACL lets anyone in with no public access block to stop it",
        remediation=(
            "Check: curl -s -o /dev/null -w '%{{http_code}}' {base_url}/_synapse/admin/v1/server_version (expected 404)",
            "Expose only /_matrix and /_synapse/client at the edge (Synapse's reverse-proxy docs); "
            "keep enable_registration off or require a registration token",
            "For the media bucket: aws s3api get-bucket-policy-status --bucket {media_bucket} "
            + _AWS
            + "; aws s3api get-bucket-acl --bucket {media_bucket} "
            + _AWS
            + "; block it: aws s3api put-public-access-block --bucket {media_bucket} --public-access-block-configuration "
            "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true " + _AWS,
        ),
        from_runbook=False,
        layer=Layer.SECURITY,
    ),
)

CATALOGUE: Mapping[Mode, FailureMode] = {mode.name: mode for mode in _MODES}
assert set(CATALOGUE) == set(Mode), "every Mode has its catalogue entry"


def failure_mode(name: str) -> FailureMode:
    """The catalogue entry of a mode given by name (from a verdict, a fault table, a command line)."""
    try:
        return CATALOGUE[Mode(name)]
    except ValueError:
        known = ", ".join(CATALOGUE)
        raise KeyError(f"unknown failure mode {name!r} (known: {known})") from None


def remediation_values(target: Target) -> dict[str, str]:
    """The names remediations are written with; a value the target lacks shows as <key path>."""
    hs, aws = target.homeserver, target.aws
    delegation = hs.delegation if hs and hs.delegation else "<homeserver.delegation>"
    return {
        "base_url": hs.base_url if hs else "<homeserver.base_url>",
        "chat_host": hs.host if hs else "<homeserver.base_url>",
        "server_host": _without_port(hs.server_name) if hs else "<homeserver.server_name>",
        "delegation": delegation,
        "delegation_host": _without_port(delegation),
        "aws_options": _aws_options(target),
        "cluster": aws.ecs.cluster if aws and aws.ecs else "<aws.ecs.cluster>",
        "service": aws.ecs.service if aws and aws.ecs else "<aws.ecs.service>",
        "rds_instance": aws.rds.instance if aws and aws.rds else "<aws.rds.instance>",
        "media_bucket": (aws.s3.media_bucket if aws and aws.s3 and aws.s3.media_bucket else "<aws.s3.media_bucket>"),
        "log_group": aws.logs.group if aws and aws.logs else "<aws.logs.group>",
        "admin_token_env": target.credentials.admin_token_env or "SYNAPSE_ADMIN_TOKEN",
    }


def _aws_options(target: Target) -> str:
    """The AWS CLI options that select the target's account and region, as the runbook writes them."""
    if target.aws is None:
        return "--profile <aws.profile> --region <aws.region>"
    profile = f"--profile {target.aws.profile} " if target.aws.profile else ""
    endpoint = f" --endpoint-url {target.aws.endpoint_url}" if target.aws.endpoint_url else ""
    return f"{profile}--region {target.aws.region}{endpoint}"


def _without_port(host_port: str) -> str:
    host, separator, port = host_port.rpartition(":")
    return host if separator and port.isdigit() and not host_port.endswith("]") else host_port


def render_remediation(mode: FailureMode, target: Target) -> list[str]:
    values = remediation_values(target)
    formatter = string.Formatter()
    return [formatter.vformat(step, (), values) for step in mode.remediation]
