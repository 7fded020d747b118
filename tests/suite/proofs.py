"""What may prove a check: one name space for the reference deployment's faults and the proofs beside them.

A check declares `proven_by=(name, ...)` (synthetics/check.py); each name is either a fault of the
reference deployment (`stack.FAULTS`, `python -m stack fault --list`) or one of the `PROOFS` here:
things that break what a check looks at but are not faults of `stack/`, because they change a copy
of the target (a threshold, a trust store, the runner's control), set up what the deployment does
not run (an EC2 instance, federation found through SRV) or poke its moto AWS, its edge or its zone
directly. Both kinds look the same to the proof test
(tests/suite/test_proofs.py): `proof(name)` breaks the thing, hands the broken run its target and
what that run must show beyond the declarations, and heals it.

Kept apart from stack/ on purpose: checks/ never imports stack/, and stack/ is a deployment, not a
test harness; a proof that needs a target variant or a CA of its own belongs with the tests.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import trustme
import yaml
from botocore.config import Config

from stack import FAULTS, _dns
from stack._aws_seed import HEALTHY_METRICS, NAMES
from stack._layout import Layout
from synthetics.catalogue import Mode
from synthetics.verdict import Status
from tests.stack._helpers import edge_config_changed
from tests.suite.conftest import Reference

__all__ = ["PROOFS", "PROVES_NOTHING_YET", "Broken", "Proof", "Seen", "discovered_by_srv", "known", "proof"]


@dataclass(frozen=True)
class Seen:
    """What a run under a proof must show beyond what the declarations say (each declaring check
    failed with its own mode): the specific evidence a person reads, which a table cannot infer."""

    # check id -> texts its failure message must hold (the stopped-task reason, the wrong host...)
    says: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # check id -> the check it must be blocked by (reported as skipped behind it, not failed again)
    blocked_by: Mapping[str, str] = field(default_factory=dict)
    # The proof's failure mode must head the diagnosis (the most likely cause), not only be in it.
    most_likely: bool = False
    # check id -> how many attempts of its request the verdict must show (2: a fast failure tried again)
    attempts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Broken:
    """What a broken thing hands the run that judges it."""

    target: Path  # the target file that run judges (a variant, or the one it was given)
    seen: Seen = field(default_factory=Seen)


# (reference, the target both runs judge, a scratch directory) -> breaks while entered, heals on exit.
Breaks = Callable[[Reference, Path, Path], AbstractContextManager[Broken]]
# (reference, a scratch directory) -> the target the broken and the healed run judge, set up and
# torn down around both (an EC2 instance to stop, for one).
Setting = Callable[[Reference, Path], AbstractContextManager[Path]]


@contextlib.contextmanager
def on_the_reference(reference: Reference, directory: Path) -> Iterator[Path]:
    """Most proofs judge the reference deployment's own target."""
    yield reference.target


@dataclass(frozen=True)
class Proof:
    name: str
    failure_mode: Mode  # what the diagnosis must name while it is broken
    summary: str  # what is broken, as `python -m stack fault --list` says it for a fault
    breaks: Breaks
    setting: Setting = on_the_reference
    status: Status = Status.UNHEALTHY  # the verdict's status while it is broken


# -- the reference deployment's faults --------------------------------------------------------------

# What a run under a stack fault must show beyond its declarations.
FAULT_SEEN: dict[str, Seen] = {
    # The reason ECS gives reaches the verdict, and the stopped tasks are the most likely cause.
    "ecs-tasks-stopped": Seen(
        says={"aws.ecs_service_running": ("runs 0 of 1 desired task(s)", "Essential container in task exited")},
        most_likely=True,
    ),
    # With the database down, the message journey is blocked by the database check, not failed again.
    "db-down": Seen(blocked_by={"journey.message_delivered": "client_api.database_answers"}),
    # One 502, then an answer: the check passes on its second attempt, and the verdict shows both.
    "edge-blip": Seen(says={"client_api.versions": ("HTTP 502",)}, attempts={"client_api.versions": 2}),
    # Two 502s: the confirming attempt failed too, so it is the outage it looked like.
    "edge-blip-confirmed": Seen(
        says={"client_api.versions": ("confirmed on attempt 2",)}, attempts={"client_api.versions": 2}
    ),
    "cert-expiring": Seen(says={"tls.certificate_not_expiring[chat-host]": ("renew it",)}),
    "cert-expiring-critical": Seen(says={"tls.certificate_not_expiring[chat-host]": ("under the 3 days",)}),
    # The public bucket is named with what makes it public and the setting that would stop it.
    "s3-public-policy": Seen(
        says={"aws.s3_public_access_blocked": ("is public", "statement 'PublicRead'", "RestrictPublicBuckets")}
    ),
    # Synapse's own pool out of connections: the diagnosis cites the wait, measured, as the cause.
    # (db-connections-refused takes PostgreSQL's slots instead: Synapse fails fast there, with no wait.)
    "db-pool-saturated": Seen(
        says={"synapse_metrics.pool_wait": ("connection pool exhausted", "of its 5 connections busy")}, most_likely=True
    ),
    # The same pool, and no slot left to open another: the wait is the cause, the direct probe's refusal
    # its confirmation that the database has nothing to spare.
    "db-pool-exhausted": Seen(
        says={
            "synapse_metrics.pool_wait": ("connection pool exhausted", "of its 5 connections busy"),
            "aws.database_direct_probe": ("connection slots",),
        },
        most_likely=True,
    ),
    "event-processing-stalled": Seen(
        says={"synapse_metrics.event_processing_lag": ("federation_sender", "did not move")}
    ),
    "synapse-fds-near-limit": Seen(says={"synapse_metrics.file_descriptors": ("file descriptors open",)}),
    # A few long ticks among many idle ones: the share of the interval in ticks names it, with the symptom.
    "reactor-blocked": Seen(
        says={"synapse_metrics.reactor_tick": ("thresholds.reactor_busy_percent", "every endpoint answering slowly")}
    ),
    # A slow destination fills the queue while none fails: only the queue check says so, naming the count.
    "federation-queue-backed-up": Seen(
        says={"synapse_metrics.federation_queue": ("PDUs wait in Synapse's outbound federation queue",)}
    ),
}

# Faults no check declares, each with the reason. Empty: every fault of the stack proves a check.
PROVES_NOTHING_YET: dict[str, str] = {}


def _fault(name: str) -> Breaks:
    @contextlib.contextmanager
    def breaks(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
        with reference.deployment.injected(name):
            yield Broken(target, FAULT_SEEN.get(name, Seen()))

    return breaks


# -- proofs that are not faults ---------------------------------------------------------------------


def _document(target: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(target.read_text())
    return document


def _variant(target: Path, directory: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the target with one thing changed (the deployment itself is untouched)."""
    document = _document(target)
    change(document)
    path = directory / "variant.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _aws(target: Path, service: str) -> Any:
    """A client of the reference deployment's moto AWS (it takes any key)."""
    aws = _document(target)["aws"]
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=aws["region"])
    return session.client(service, endpoint_url=aws["endpoint_url"], config=Config(connect_timeout=2, read_timeout=5))


@contextlib.contextmanager
def _client_wellknown_wrong(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    wrong = {"m.homeserver": {"base_url": "https://matrix.elsewhere.test"}}
    with edge_config_changed(reference.deployment.state_dir, wellknown_client=wrong):
        yield Broken(target, Seen(says={"client_discovery.well_known_client": ("matrix.elsewhere.test",)}))


@contextlib.contextmanager
def _room_over_state_threshold(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    # The canary room holds a handful of state events: over a threshold of one, it is "outsized".
    strict = _variant(target, directory, lambda d: d.setdefault("thresholds", {}).update(room_state_events=1))
    yield Broken(strict, Seen(says={"admin.rooms_not_outsized": ("state events",)}))


# A version no deploy of the reference deployment ever ran: what a target expects after a deploy
# that did not roll out (the running Synapse is the one before).
_NEXT_VERSION = "1.999.0"


@contextlib.contextmanager
def _synapse_version_unexpected(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    expecting = _variant(target, directory, lambda d: d["homeserver"].update(synapse_version=_NEXT_VERSION))
    yield Broken(expecting, Seen(says={"synapse_metrics.version_expected": (f"not the {_NEXT_VERSION}",)}))


@contextlib.contextmanager
def _trust_store_without_edge_ca(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    other_ca = directory / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    untrusted = _variant(target, directory, lambda d: d["tls"].update(ca_bundle=str(other_ca)))
    yield Broken(untrusted, Seen(says={"tls.certificate_verifies[chat-host]": ("does not verify",)}))


# -- EC2: the reference deployment runs Synapse on ECS, so the instance is made for the proof -------

_EC2_TAG = "Name"


@contextlib.contextmanager
def _with_an_ec2_instance(reference: Reference, directory: Path) -> Iterator[Path]:
    """A running moto EC2 instance, and a variant of the target that names it by tag."""
    ec2 = _aws(reference.target, "ec2")
    tag = f"synapse-ec2-{uuid.uuid4().hex[:8]}"
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.small",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": _EC2_TAG, "Value": tag}]}],
    )["Instances"][0]["InstanceId"]  # fmt: skip
    try:
        yield _variant(reference.target, directory, lambda d: d["aws"].update(ec2={"tag": f"{_EC2_TAG}={tag}"}))
    finally:
        ec2.terminate_instances(InstanceIds=[instance])


@contextlib.contextmanager
def _ec2_instance_stopped(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    ec2 = _aws(target, "ec2")
    key, value = _document(target)["aws"]["ec2"]["tag"].split("=", 1)
    reservations = ec2.describe_instances(Filters=[{"Name": f"tag:{key}", "Values": [value]}])["Reservations"]
    (instance,) = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    ec2.stop_instances(InstanceIds=[instance])
    try:
        yield Broken(target, Seen(says={"aws.ec2_instance_running": (f"{instance} is stopped",)}))
    finally:
        ec2.start_instances(InstanceIds=[instance])


# -- CloudWatch metrics ---------------------------------------------------------------------------
# The checks read the worst value (Maximum of CPU and memory, Minimum of free storage) of the newest
# 60-second period of each metric; moto counts periods from the oldest datapoint in the window. So
# breaking publishes the bad value now (it is the worst of its period, whatever else shares it), and
# healing publishes the healthy value stamped 61 s after it: that opens a period of its own, the
# newest the healed run (and every later one) reads. Moto keeps datapoints; none can be deleted.
_NEXT_PERIOD = timedelta(seconds=61)


@dataclass(frozen=True)
class _Metric:
    name: str
    unit: str
    bad: float
    healthy: float


def _metrics(namespace: str, dimensions: list[dict[str, str]], metrics: tuple[_Metric, ...], seen: Seen) -> Breaks:
    @contextlib.contextmanager
    def breaks(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
        cloudwatch = _aws(target, "cloudwatch")

        def put(when: datetime, values: dict[str, float]) -> None:
            cloudwatch.put_metric_data(
                Namespace=namespace,
                MetricData=[
                    {"MetricName": m.name, "Dimensions": dimensions, "Timestamp": when, "Value": values[m.name],
                     "Unit": m.unit}
                    for m in metrics
                ],
            )  # fmt: skip

        stamp = datetime.now(UTC)
        put(stamp, {m.name: m.bad for m in metrics})
        try:
            yield Broken(target, seen)
        finally:
            put(stamp + _NEXT_PERIOD, {m.name: m.healthy for m in metrics})

    return breaks


_MB = 1024 * 1024
_ecs_service_busy = _metrics(
    "AWS/ECS",
    [{"Name": "ClusterName", "Value": NAMES.cluster}, {"Name": "ServiceName", "Value": NAMES.service}],
    (
        _Metric("CPUUtilization", "Percent", bad=99.0, healthy=HEALTHY_METRICS["cpu_percent"]),
        _Metric("MemoryUtilization", "Percent", bad=97.0, healthy=HEALTHY_METRICS["memory_percent"]),
    ),
    Seen(says={"aws.ecs_utilisation": ("CPUUtilization",)}),
)
_rds_storage_low = _metrics(
    "AWS/RDS",
    [{"Name": "DBInstanceIdentifier", "Value": NAMES.rds_instance}],
    (_Metric("FreeStorageSpace", "Bytes", bad=100.0 * _MB, healthy=HEALTHY_METRICS["free_storage_mb"] * _MB),),
    Seen(),
)


# -- federation found through SRV (spec step 4) -----------------------------------------------------
# The reference deployment delegates through /.well-known/matrix/server (step 3). Synapse serves one
# server name, so the SRV path is proven for that name, with the well-known gone as a deployment that
# federates by SRV has none: other servers then ask _matrix-fed._tcp.phenom.test, reach the SRV
# target's port (the edge's federation listener, Synapse behind it) and name phenom.test in SNI and
# Host there, as the spec says for step 4.

SRV_OVERLAY = "srv-discovery"  # the setting's overlay in dns.json (applied before any proof's own)


@contextlib.contextmanager
def discovered_by_srv(reference: Reference, directory: Path) -> Iterator[Path]:
    """Federation found through SRV: the edge answers 404 for /.well-known/matrix/server (the
    wellknown-missing fault's switch, here the deployment's design), the zone publishes
    `_matrix-fed._tcp.phenom.test` -> `fed.phenom.test:8443`, which the reference target maps to the
    edge's federation listener, and a variant of the target names no delegation (there is none)."""
    layout = Layout(reference.deployment.state_dir)
    with reference.deployment.injected("wellknown-missing"):
        _dns.set_overlay(layout, SRV_OVERLAY, _dns.srv_records())
        try:
            yield _variant(reference.target, directory, lambda d: d["homeserver"].pop("delegation"))
        finally:
            _dns.clear_overlay(layout, SRV_OVERLAY)


def _zone_overlay(name: str, overlay: dict[str, dict[str, list[str]] | None], seen: Seen) -> Breaks:
    """An overlay on the zone, over the setting's (the DNS server serves it on its next query)."""

    @contextlib.contextmanager
    def breaks(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
        layout = Layout(reference.deployment.state_dir)
        _dns.set_overlay(layout, name, overlay)
        try:
            yield Broken(target, seen)
        finally:
            _dns.clear_overlay(layout, name)

    return breaks


_srv_wrong_port = _zone_overlay(
    "srv-wrong-port",
    _dns.srv_records(port=8448),
    Seen(
        says={
            "federation.federation_version": (f"{_dns.FEDERATION_HOST}:8448", "refused"),
            "federation.federation_port_proxied": (
                f"{_dns.FEDERATION_HOST}:8448",
                "4: SRV _matrix-fed._tcp.phenom.test",
            ),
        }
    ),
)
_srv_not_available = _zone_overlay(
    "srv-not-available",
    _dns.srv_records(target="."),
    Seen(says={"federation.server_discovery": ("decidedly not available", "_matrix-fed._tcp.phenom.test")}),
)


# -- the runner's own control silent, chat fine -------------------------------------------------------


@contextlib.contextmanager
def _control_resolver_silent(reference: Reference, target: Path, directory: Path) -> Iterator[Broken]:
    # A loopback UDP port held by a socket that never reads: every query to it goes unanswered, as
    # when the runner's own resolver is gone, while the target's nameservers answer as ever.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        cut_off = _variant(target, directory, lambda d: d["network"]["control"].update(resolvers=[f"127.0.0.1:{port}"]))
        yield Broken(cut_off, Seen(says={"runner.network_reachable": ("reached none of its controls",)}))


_PROOFS = (
    Proof(
        name="ec2-instance-stopped",
        failure_mode=Mode.ORIGIN_DOWN,
        summary="the EC2 instance a variant of the target names (a moto instance made for the proof) is stopped",
        breaks=_ec2_instance_stopped,
        setting=_with_an_ec2_instance,
    ),
    Proof(
        name="ecs-service-busy",
        failure_mode=Mode.SLOW_PERFORMANCE,
        summary="CloudWatch shows the ECS service at 99 % CPU and 97 % memory",
        breaks=_ecs_service_busy,
    ),
    Proof(
        name="rds-storage-low",
        failure_mode=Mode.DATABASE_ERRORS,
        summary="CloudWatch shows the RDS instance with 100 MB of free storage",
        breaks=_rds_storage_low,
    ),
    Proof(
        name="client-wellknown-wrong",
        failure_mode=Mode.CLIENT_DISCOVERY_BROKEN,
        summary="the edge's /.well-known/matrix/client names https://matrix.elsewhere.test, not this homeserver",
        breaks=_client_wellknown_wrong,
    ),
    Proof(
        name="room-over-state-threshold",
        failure_mode=Mode.SLOW_PERFORMANCE,
        summary="a variant of the target sets thresholds.room_state_events to 1: the canary room is over it",
        breaks=_room_over_state_threshold,
    ),
    Proof(
        name="synapse-version-unexpected",
        failure_mode=Mode.DEPLOYMENT_UNSTABLE,
        summary=f"a variant of the target expects Synapse {_NEXT_VERSION} (homeserver.synapse_version): another runs",
        breaks=_synapse_version_unexpected,
    ),
    Proof(
        name="srv-wrong-port",
        failure_mode=Mode.FEDERATION_BROKEN,
        summary="federation is found through SRV (no well-known; _matrix-fed._tcp.phenom.test names "
        "fed.phenom.test:8443), and the SRV record names port 8448, where nothing listens",
        breaks=_srv_wrong_port,
        setting=discovered_by_srv,
    ),
    Proof(
        name="srv-not-available",
        failure_mode=Mode.FEDERATION_BROKEN,
        summary="federation is found through SRV (no well-known), and the SRV record's target is '.': "
        "RFC 2782's 'service decidedly not available'",
        breaks=_srv_not_available,
        setting=discovered_by_srv,
    ),
    Proof(
        name="control-resolver-silent",
        failure_mode=Mode.RUNNER_OFFLINE,
        summary="a variant of the target names a runner control resolver that never answers (a loopback "
        "port held by a socket that reads nothing), while chat is fine",
        breaks=_control_resolver_silent,
        status=Status.INCONCLUSIVE,
    ),
    Proof(
        name="trust-store-without-edge-ca",
        failure_mode=Mode.TLS_CERTIFICATE,
        summary="a variant of the target trusts another CA (tls.ca_bundle), not the edge's",
        breaks=_trust_store_without_edge_ca,
    ),
)
PROOFS: dict[str, Proof] = {p.name: p for p in _PROOFS}


def known() -> set[str]:
    """Every name a check may declare in `proven_by`: the stack's faults and the proofs here."""
    return set(FAULTS) | set(PROOFS)


def proof(name: str) -> Proof:
    """The proof of that name, a stack fault looking like any other proof."""
    if name in PROOFS:
        return PROOFS[name]
    if name in FAULTS:
        return Proof(name, Mode(FAULTS[name]), f"the stack's fault {name}", _fault(name))
    raise KeyError(f"{name!r} is neither a fault of the reference deployment nor a proof of {__name__}")
