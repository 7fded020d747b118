"""The real alerting engines on loopback, for the tests of issue 16: the Pushgateway, Prometheus
(scraping it, evaluating alerting/rules/) and Alertmanager (alerting/alertmanager.yml, its receivers
pointed at a WebhookReceiver of the test).

Debian's binaries (packages prometheus, prometheus-alertmanager, prometheus-pushgateway; installed by
scripts/bootstrap as root), never a download, and never a fake: each engine gets a free 127.0.0.1
port, its own config and data dir under the caller's folder, a readiness wait with a deadline, and is
stopped (terminate, then kill) whatever happens in the test.

    with engines(tmp_path) as running:
        running.pushgateway.url, running.prometheus.url, running.alertmanager.url, running.webhook

Only Alertmanager's timers (group_wait, group_interval, repeat_interval) and receivers' URLs differ from
the shipped configuration: routes, grouping and inhibition are exactly what users get.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.declarations import REPO
from tests.support.webhook_receiver import WebhookReceiver

__all__ = [
    "ALERTMANAGER_CONFIG",
    "RULE_FILES",
    "Engine",
    "Engines",
    "Timers",
    "alertmanager",
    "alertmanager_config",
    "binary",
    "engines",
    "prometheus",
    "pushgateway",
]

ALERTING = REPO / "alerting"
ALERTMANAGER_CONFIG = ALERTING / "alertmanager.yml"
RULE_FILES = ALERTING / "rules"
# Start-up takes a second or two here; a loaded two-core machine running other suites gets more.
READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 10.0
HTTP_TIMEOUT_S = 5.0
# Prometheus scrapes and evaluates every second (what the tests wait on, so short).
SCRAPE_INTERVAL = "1s"
EVALUATION_INTERVAL = "1s"

_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "prometheus-pushgateway": "prometheus-pushgateway",
}
_CONFIG_LISTS = "_configs"
# Alertmanager's integrations that send no "resolved" unless told to (the others do by default).
_RESOLVED_OFF_BY_DEFAULT = {"email_configs", "slack_configs", "wechat_configs"}


def binary(command: str) -> str:
    """The command's path; a failure (never a skip: a missing engine would hide every alerting test)
    naming the Debian package and scripts/bootstrap when it is not installed."""
    found = shutil.which(command)
    if found is None:
        package = _PACKAGES.get(command, command)
        pytest.fail(
            f"{command} not found: install the Debian package {package} "
            f"(scripts/bootstrap does as root: apt-get install {package})",
            pytrace=False,
        )
    return found


@dataclass(frozen=True)
class Timers:
    """Alertmanager's notification timers, shortened for tests (the shipped ones are minutes/hours)."""

    group_wait: str = "1s"
    group_interval: str = "1s"
    # Long enough that no reminder repeats a notification within a test.
    repeat_interval: str = "1h"


@dataclass(frozen=True)
class Engine:
    name: str
    url: str
    workdir: Path

    @property
    def log(self) -> Path:
        return self.workdir / "log"

    def get_json(self, path: str, **query: str) -> Any:
        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(address, timeout=HTTP_TIMEOUT_S) as response:
            return json.load(response)


@dataclass(frozen=True)
class Engines:
    pushgateway: Engine
    alertmanager: Engine
    prometheus: Engine
    webhook: WebhookReceiver

    def alertmanager_alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Alertmanager's GET /api/v2/alerts (each with status.inhibitedBy and status.silencedBy)."""
        alerts: list[dict[str, Any]] = self.alertmanager.get_json("/api/v2/alerts", **filters)
        return alerts

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        """Prometheus's active alerts (pending and firing), GET /api/v1/alerts."""
        alerts: list[dict[str, Any]] = self.prometheus.get_json("/api/v1/alerts")["data"]["alerts"]
        return alerts

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant PromQL query's result vector."""
        result: list[dict[str, Any]] = self.prometheus.get_json("/api/v1/query", query=expression)["data"]["result"]
        return result


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening socket on 127.0.0.1:`port`: a ready answer from
    another process that took the port first (outside a private network) is not this engine's."""
    wanted = f"0100007F:{port:04X}"
    inodes = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    fds = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        return any(os.readlink(fd) in inodes for fd in fds.iterdir())
    return False


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_DEADLINE_S)


@contextlib.contextmanager
def _serve(name: str, workdir: Path, argv: Sequence[str]) -> Iterator[Engine]:
    """Runs `argv` + --web.listen-address on a free port until ready; stops it on exit, always. A port
    another process took between the probe and the bind is retried on a new one."""
    workdir.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        port = _free_port()
        engine = Engine(name, f"http://127.0.0.1:{port}", workdir)
        with engine.log.open("ab") as log:
            process = subprocess.Popen(
                [*argv, f"--web.listen-address=127.0.0.1:{port}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        try:
            deadline = time.monotonic() + READY_DEADLINE_S
            while process.poll() is None and not (_ready(engine.url) and _listening(process.pid, port)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready within {READY_DEADLINE_S:.0f} s:\n{_tail(engine.log)}")
                time.sleep(0.1)
            if process.poll() is not None:
                if "address already in use" in _tail(engine.log):
                    continue
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(engine.log)}")
            yield engine
            return
        finally:
            _stop(process)
    raise RuntimeError(f"{name}: no free port after 3 attempts")


@contextlib.contextmanager
def pushgateway(workdir: Path) -> Iterator[Engine]:
    # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every Pushgateway
    # started without this flag loads the groups pushed to any other (measured here).
    argv = [binary("prometheus-pushgateway"), f"--persistence.file={workdir / 'pushgateway.data'}"]
    with _serve("pushgateway", workdir, argv) as engine:
        yield engine


def alertmanager_config(
    webhook: WebhookReceiver, timers: Timers = Timers(), source: Path = ALERTMANAGER_CONFIG
) -> dict[str, Any]:
    """The shipped configuration with each receiver's integrations (PagerDuty, Slack, ...) replaced by
    one webhook to `webhook` at /<receiver name>, send_resolved as shipped, and every route's timers
    shortened to `timers`. Routes, matchers, grouping and inhibit_rules stay exactly as shipped.

    A webhook rather than each integration's own URL (PagerDuty's `url`, Slack's `api_url`): the
    webhook's payload carries every alert with its labels and status, which the tests assert on."""
    config: dict[str, Any] = yaml.safe_load(source.read_text())
    for receiver in config.get("receivers", []):
        integrations = [key for key in receiver if key.endswith(_CONFIG_LISTS)]
        if not integrations:
            continue  # a receiver that notifies nobody stays so
        resolved = any(
            entry.get("send_resolved", key not in _RESOLVED_OFF_BY_DEFAULT)
            for key in integrations
            for entry in receiver[key]
        )
        for key in integrations:
            del receiver[key]
        receiver["webhook_configs"] = [{"url": webhook.url(receiver["name"]), "send_resolved": resolved}]

    def shorten(route: dict[str, Any], *, root: bool) -> None:
        for timer in ("group_wait", "group_interval", "repeat_interval"):
            if root or timer in route:
                route[timer] = getattr(timers, timer)
        for child in route.get("routes", []):
            shorten(child, root=False)

    shorten(config["route"], root=True)
    return config


@contextlib.contextmanager
def alertmanager(workdir: Path, webhook: WebhookReceiver, timers: Timers = Timers()) -> Iterator[Engine]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(webhook, timers), sort_keys=False))
    argv = [
        binary("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        # No gossip: a lone instance on loopback, no port outside the one it serves.
        "--cluster.listen-address=",
    ]
    with _serve("alertmanager", workdir, argv) as engine:
        yield engine


@contextlib.contextmanager
def prometheus(
    workdir: Path, pushgateway: Engine, alertmanager: Engine, rule_files: Sequence[Path] | None = None
) -> Iterator[Engine]:
    """Prometheus scraping the Pushgateway every second (honor_labels: the pushed job/target/vantage
    labels are the series' own), evaluating the rules every second, alerting to `alertmanager`."""
    workdir.mkdir(parents=True, exist_ok=True)
    rules = sorted(RULE_FILES.glob("*.yml")) if rule_files is None else list(rule_files)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": EVALUATION_INTERVAL},
        "rule_files": [str(path) for path in rules],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [urllib.parse.urlsplit(alertmanager.url).netloc]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [urllib.parse.urlsplit(pushgateway.url).netloc]}],
            }
        ],
    }
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = [
        binary("prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        # Resolved and still-firing alerts are re-sent every second, not every minute, so a test sees
        # Alertmanager's view change within seconds of Prometheus's.
        "--rules.alert.resend-delay=1s",
    ]
    with _serve("prometheus", workdir, argv) as engine:
        yield engine


@contextlib.contextmanager
def engines(workdir: Path, timers: Timers = Timers(), rule_files: Sequence[Path] | None = None) -> Iterator[Engines]:
    """All three engines and the webhook receiver, wired together; everything stopped on exit."""
    with (
        WebhookReceiver() as webhook,
        pushgateway(workdir / "pushgateway") as gateway,
        alertmanager(workdir / "alertmanager", webhook, timers) as manager,
        prometheus(workdir / "prometheus", gateway, manager, rule_files) as server,
    ):
        yield Engines(gateway, manager, server, webhook)
