"""up and down leave nothing behind, whoever ends the deployment and however."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from stack import Deployment, StackError
from stack._postgres import bindir
from stack._process import wait_until
from tests.stack._helpers import alive, pids, port_open, processes_mentioning, state_json

pytestmark = pytest.mark.stack


@pytest.fixture
def owner() -> Iterator[subprocess.Popen[bytes]]:
    """A throwaway process to own a deployment, killed at will."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def assert_nothing_left(state_dir: Path, recorded_pids: dict[str, int], ports: dict[str, int]) -> None:
    assert not state_dir.exists()
    assert [name for name, pid in recorded_pids.items() if alive(pid)] == []
    assert [name for name, port in ports.items() if port_open(port)] == []
    assert processes_mentioning(str(state_dir)) == []


def test_target_file_is_the_contract(deployment: Deployment) -> None:
    target = yaml.safe_load(deployment.target_path.read_text())
    edge = target["network"]["connect_to"]["chat.phenom.test:443"]
    closed = target["network"]["connect_to"]["chat.phenom.test:8448"]
    nameserver = target["dns"]["nameservers"][0]
    ports = state_json(deployment.state_dir)["ports"]
    synapse = f"127.0.0.1:{ports['admin']}"
    edge_b, federation = f"127.0.0.1:{ports['edge-b']}", f"127.0.0.1:{ports['edge-fed']}"
    metrics = f"127.0.0.1:{ports['metrics']}"
    secrets = deployment.state_dir / "secrets"
    assert target == {
        "name": "local",
        "homeserver": {
            "base_url": "https://chat.phenom.test",
            "server_name": "phenom.test",
            "delegation": "chat.phenom.test:443",
            "admin_url": f"http://{synapse}",
            "metrics_url": f"http://{metrics}/_synapse/metrics",
            "synapse_version": version("matrix-synapse"),
        },
        "edge": {"provider": "cloudflare"},
        "tls": {"ca_bundle": str(deployment.state_dir / "ca.pem"), "min_days_remaining": 14},
        "dns": {"nameservers": [nameserver]},
        "network": {
            "timeout_s": 5,
            "connect_to": {
                "chat.phenom.test:443": edge,
                "phenom.test:443": edge,
                "chat.phenom.test:8448": closed,
                "phenom.test:8448": closed,
                # The SRV target an SRV record of the server name may name: the federation listener.
                "fed.phenom.test:8443": federation,
                "fed.phenom.test:8448": closed,
                # The chat host's addresses one by one: the first of each family the edge, the second
                # the edge's other listener.
                "104.21.32.17:443": edge,
                "[2606:4700:3034::6815:2011]:443": edge,
                "172.67.150.201:443": edge_b,
                "[2606:4700:3037::ac43:96c9]:443": edge_b,
                synapse: synapse,
                metrics: metrics,
            },
            "connect_to_only": True,
            "control": {"resolvers": [nameserver], "name": "phenom.test"},
        },
        "aws": {
            "profile": None,
            "region": "us-east-1",
            "endpoint_url": target["aws"]["endpoint_url"],
            "credentials_file": str(deployment.state_dir / "aws-credentials"),
            "ecs": {"cluster": "phenom-prod-cluster", "service": "synapse"},
            "rds": {"instance": "phenom-prod-postgres", "database": "synapse", "dsn_env": "SYNTHETICS_DB_DSN"},
            "s3": {"media_bucket": "phenom-synapse-media"},
            "logs": {"group": "/ecs/synapse"},
        },
        "canary": {"user_id": "@synthetics-canary:phenom.test", "room": "#synthetics-canary:phenom.test"},
        "thresholds": {"latency_p95_warning_ms": 500.0, "latency_p95_ms": 2000.0},
        "credentials": {
            "admin_token_env": "SYNAPSE_ADMIN_TOKEN",
            "canary_token_env": "SYNTHETICS_CANARY_TOKEN",
            "admin_token_file": str(secrets / "admin-token"),
            "canary_token_file": str(secrets / "canary-token"),
        },
    }
    assert edge.startswith("127.0.0.1:")
    assert closed.startswith("127.0.0.1:") and not port_open(int(closed.split(":")[1]))
    assert nameserver.startswith("127.0.0.1:")


def test_status_reports_every_component(deployment: Deployment) -> None:
    status = deployment.status()
    assert {k: status[k] for k in ("postgres", "synapse", "edge", "reaper", "ready")} == dict.fromkeys(
        ("postgres", "synapse", "edge", "reaper", "ready"), True
    )


def test_servers_listen_on_loopback_only(deployment: Deployment) -> None:
    ports = set(state_json(deployment.state_dir)["ports"].values())
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) in ports:  # 0A = LISTEN
                listening.append(address)
    assert listening and set(listening) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_database_has_c_collation(deployment: Deployment) -> None:
    # Synapse refuses a database with another collation; ask as Synapse's own user, over TCP.
    port = state_json(deployment.state_dir)["ports"]["postgres"]
    passfile = deployment.state_dir / "secrets" / "pgpass"
    query = "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = 'synapse'"
    result = subprocess.run(
        [
            str(bindir() / "psql"),
            "-X",
            "-tA",
            "-F",
            ",",
            "-c",
            query,
            f"host=127.0.0.1 port={port} user=synapse dbname=synapse passfile={passfile} connect_timeout=5",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "UTF8,C,C"


def test_metrics_listener_serves_prometheus(deployment: Deployment) -> None:
    import httpx

    port = state_json(deployment.state_dir)["ports"]["metrics"]
    response = httpx.get(f"http://127.0.0.1:{port}/_synapse/metrics", timeout=5)
    assert response.status_code == 200
    assert "synapse_" in response.text


def test_secrets_stay_in_private_files(deployment: Deployment) -> None:
    secrets_dir = deployment.state_dir / "secrets"
    secrets = {}
    for path in secrets_dir.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
        secrets[path.name] = path.read_text().strip()
    password = secrets["pgpass"].rsplit(":", 1)[1]
    shared = secrets["registration_shared_secret"]
    for path in deployment.state_dir.iterdir():
        if path.is_file():
            text = path.read_text(errors="replace")
            assert password not in text and shared not in text, path
    logs = (deployment.state_dir / "pg-run" / "postgres.log").read_text()
    assert password not in logs


def test_second_up_on_a_live_deployment_is_refused(deployment: Deployment) -> None:
    with pytest.raises(StackError, match="already up"):
        Deployment(deployment.state_dir).up()


def test_down_leaves_nothing(fresh: Deployment) -> None:
    fresh.up(owner_pid=os.getpid())
    recorded, ports = pids(fresh.state_dir), state_json(fresh.state_dir)["ports"]
    assert set(recorded) == {"postgres", "moto", "synapse", "edge", "dns", "shipper", "reaper"}
    fresh.down()
    assert_nothing_left(fresh.state_dir, recorded, ports)
    fresh.down()  # idempotent
    assert fresh.status()["synapse"] is False


def test_down_from_another_process(fresh: Deployment) -> None:
    fresh.up(owner_pid=os.getpid())
    recorded, ports = pids(fresh.state_dir), state_json(fresh.state_dir)["ports"]
    subprocess.run(
        [sys.executable, "-c", f"from stack import Deployment; Deployment({str(fresh.state_dir)!r}).down()"],
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert_nothing_left(fresh.state_dir, recorded, ports)


def test_reaper_tears_down_when_owner_dies(fresh: Deployment, owner: subprocess.Popen[bytes]) -> None:
    fresh.up(owner_pid=owner.pid)
    recorded, ports = pids(fresh.state_dir), state_json(fresh.state_dir)["ports"]
    assert "reaper" in recorded
    owner.kill()
    owner.wait(timeout=10)
    assert wait_until(lambda: not fresh.state_dir.exists(), timeout_s=30)
    assert wait_until(lambda: not any(alive(pid) for pid in recorded.values()), timeout_s=10)
    assert_nothing_left(fresh.state_dir, recorded, ports)


def test_up_cleans_a_stale_deployment(fresh: Deployment, owner: subprocess.Popen[bytes]) -> None:
    fresh.up(owner_pid=owner.pid)
    stale = pids(fresh.state_dir)
    # Reaper and owner die together (e.g. kill -9 of the whole test run): servers are left over.
    os.kill(stale["reaper"], signal.SIGKILL)
    assert wait_until(lambda: not alive(stale["reaper"]), timeout_s=5)
    owner.kill()
    owner.wait(timeout=10)
    assert all(alive(stale[name]) for name in ("postgres", "synapse", "edge"))

    Deployment(fresh.state_dir).up(owner_pid=os.getpid())
    assert [name for name, pid in stale.items() if alive(pid)] == []
    assert Deployment(fresh.state_dir).status()["synapse"] is True


def test_failed_up_stops_what_it_started(fresh: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHETICS_PG_BINDIR", "/nonexistent/bin")
    with pytest.raises(StackError) as failure:
        fresh.up(owner_pid=os.getpid())
    assert "\n" not in str(failure.value)
    assert not fresh.state_dir.exists()
    # The reaper was started first; it must be gone too.
    assert wait_until(lambda: processes_mentioning(str(fresh.state_dir)) == [], timeout_s=10)


def test_up_refuses_a_foreign_directory(state_base: Path) -> None:
    foreign = state_base / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("not ours")
    with pytest.raises(StackError, match="not a stack state directory"):
        Deployment(foreign).up()
    with pytest.raises(StackError, match="not a stack state directory"):
        Deployment(foreign).down()
    assert (foreign / "precious.txt").exists()
