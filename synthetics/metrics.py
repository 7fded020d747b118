"""The verdict as Prometheus metrics, with prometheus_client: one registry per run, written beside
the verdict as a text file and pushed to a Pushgateway.

Every series carries `target` and `vantage`, and the Pushgateway group is job/target/vantage, so an
inside and an outside run of one target never overwrite each other. A run PUTs its whole group,
so the series of a mode no longer diagnosed go away; an `inconclusive` run (the runner cut off)
POSTs only its status, heartbeat and duration, so the last judged run's diagnosis stays and no
alert resolves on a run that saw nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.exposition import push_to_gateway, pushadd_to_gateway

from synthetics.catalogue import CATALOGUE
from synthetics.verdict import Status, Verdict

__all__ = ["PUSHED_WHEN_NOT_JUDGED", "push", "registry", "write_textfile"]

_LABELS = ("target", "vantage")
# What a run that did not judge the target (inconclusive, incomplete: Status.judged) sends, with
# POST, which replaces only these: it ran, when, and that it could not judge; the last judged run's
# diagnosis series stay until a run judges again. The schedule's interval too, so the dead man's
# switch has its period even when a group's first push is one of these.
PUSHED_WHEN_NOT_JUDGED = (
    "synthetics_status",
    "synthetics_last_run_timestamp_seconds",
    "synthetics_run_duration_seconds",
    "synthetics_schedule_interval_seconds",
)

Redact = Callable[[str], str]


class _Series:
    """Gauges in one registry, each with `target` and `vantage` before its own labels."""

    def __init__(self, registry: CollectorRegistry, target: str, vantage: str, only: tuple[str, ...] | None) -> None:
        self._registry, self._run, self._only = registry, (target, vantage), only
        self._gauges: dict[str, Gauge] = {}

    def set(self, name: str, documentation: str, value: float, **labels: str) -> None:
        if self._only is not None and name not in self._only:
            return
        gauge = self._gauges.get(name)
        if gauge is None:
            gauge = Gauge(name, documentation, [*_LABELS, *labels], registry=self._registry)
            self._gauges[name] = gauge
        gauge.labels(*self._run, *labels.values()).set(value)


def registry(
    verdict: Verdict, *, ended_at: float, schedule_interval_s: float, redact: Redact = str
) -> CollectorRegistry:
    """The run's series: the whole set, or for a run that did not judge only PUSHED_WHEN_NOT_JUDGED.

    `ended_at` is the run's end (epoch seconds), the heartbeat; label values pass `redact`."""
    collected = CollectorRegistry(auto_describe=False)
    only = None if verdict.status.judged else PUSHED_WHEN_NOT_JUDGED
    series = _Series(collected, redact(verdict.target), redact(verdict.vantage), only)
    judged = [c for c in verdict.checks if c.outcome in ("passed", "failed", "error")]
    for check in judged:
        check_id = redact(check.id)
        series.set(
            "synthetics_check_success",
            "1 when the check passed, 0 when it failed or errored",
            int(check.outcome == "passed"),
            check=check_id,
            layer=str(check.layer),
            severity=str(check.severity),
        )
        series.set("synthetics_check_duration_seconds", "time the check took", check.duration_s, check=check_id)
        series.set(
            "synthetics_check_attempts",
            "attempts of the requests the check judged (2: a fast failure tried again)",
            2 if check.attempts else 1,  # a request is tried at most twice
            check=check_id,
        )
        for phase, seconds in check.http_phases_s:
            series.set(
                "synthetics_http_duration_seconds",
                "the HTTP request the check judged, by phase (resolve, connect, tls, processing, transfer), "
                "as blackbox_exporter's probe_http_duration_seconds",
                seconds,
                check=check_id,
                phase=phase,
            )
    active = {entry["failure_mode"] for entry in verdict.diagnosis}
    for mode in CATALOGUE:
        series.set(
            "synthetics_failure_mode_active",
            "1 when the run diagnosed the failure mode",
            int(mode in active),
            failure_mode=str(mode),
        )
    for index, entry in enumerate(verdict.diagnosis):
        if entry.get("recovered"):
            continue  # evidence that ended before the run: nothing to alert on now
        series.set(
            "synthetics_failure_mode_diagnosed",
            "1 for each failure mode the run diagnosed: role root (ranked first) or consequence; impact "
            "outage, exposure or warning",
            1,
            failure_mode=str(entry["failure_mode"]),
            role="root" if index == 0 else "consequence",
            impact=str(entry["impact"]),
        )
    for status in Status:
        series.set(
            "synthetics_status",
            "1 for the run's status (healthy, degraded, unhealthy, ...), 0 for the others",
            int(verdict.status == status),
            status=str(status),
        )
    series.set("synthetics_healthy", "1 when the whole run was healthy", int(verdict.status == Status.HEALTHY))
    series.set("synthetics_run_duration_seconds", "time the whole run took", verdict.duration_s)
    series.set("synthetics_last_run_timestamp_seconds", "when the run ended (the heartbeat), in Unix seconds", ended_at)
    series.set(
        "synthetics_schedule_interval_seconds",
        "seconds between scheduled runs (the target's reporting.schedule_interval_s)",
        schedule_interval_s,
    )
    for host, not_after in verdict.certificates.items():
        series.set(
            "synthetics_certificate_expiry_timestamp_seconds",
            "when the host's certificate expires (its notAfter), in Unix seconds, as blackbox_exporter's "
            "probe_ssl_earliest_cert_expiry",
            datetime.fromisoformat(not_after).timestamp(),
            host=redact(host),
        )
    if verdict.message_delivery_s is not None:
        series.set(
            "synthetics_message_delivery_seconds",
            "the canary message journey: from its send to its arrival through /sync",
            verdict.message_delivery_s,
        )
    return collected


def write_textfile(collected: CollectorRegistry, path: Path) -> None:
    """The text exposition format, written atomically (prometheus_client writes then renames)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), collected)


class _Refused(Exception):
    """The Pushgateway answered, not with a 2xx."""


def _handler(token: str | None) -> Callable[[str, str, float | None, list[tuple[str, str]], bytes], Callable[[], None]]:
    """prometheus_client's push, sent with httpx: the bearer token when there is one, the explicit
    timeout, no proxy from the environment (a loopback or VPC gateway is reached directly)."""

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        def send() -> None:
            sent = dict(headers) | ({"authorization": f"Bearer {token}"} if token else {})
            response = httpx.request(method, url, content=data, headers=sent, timeout=timeout, trust_env=False)
            if not response.is_success:
                raise _Refused(f"answered {response.status_code} {response.reason_phrase}".strip())

        return send

    return handler


def push(
    collected: CollectorRegistry,
    *,
    gateway: str,
    job: str,
    grouping_key: dict[str, str],
    replace_group: bool,
    timeout_s: float,
    token: str | None,
) -> str | None:
    """PUT (`replace_group`) or POST the registry to the Pushgateway's job/grouping-key group.

    A problem is returned as one line (never raised, never with the token): the run's verdict does
    not depend on the metrics getting through."""
    send = push_to_gateway if replace_group else pushadd_to_gateway
    where = f"{gateway.rstrip('/')}/metrics/job/{job}/" + "/".join(f"{k}/{v}" for k, v in grouping_key.items())
    try:
        send(gateway, job, collected, grouping_key=grouping_key, timeout=timeout_s, handler=_handler(token))
    except _Refused as refused:
        return f"{where} {refused}"
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
        return f"{where}: {type(error).__name__}: {error}"
    return None
