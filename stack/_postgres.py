"""A throwaway PostgreSQL cluster for Synapse, run as the `postgres` OS user when we are root."""

from __future__ import annotations

import base64
import getpass
import glob
import hashlib
import hmac
import logging
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, last_line, ref_of, stop, wait_until
from stack._secrets import write_private

log = logging.getLogger(__name__)

DB_NAME = "synapse"
DB_USER = "synapse"

# Durability is worthless for a cluster deleted after the run; skipping it saves seconds.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "30",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}
# The kernel limit for a unix socket path (sun_path) is 108 bytes including the NUL.
_MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    home: str


def _run_as() -> _RunAs | None:
    """PostgreSQL refuses to run as root, so root hands it to the `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise StackError("running as root needs an OS user 'postgres' for PostgreSQL") from None
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)


def _superuser() -> str:
    # Peer authentication on the socket maps the OS user to the database user of the same name.
    return "postgres" if os.geteuid() == 0 else getpass.getuser()


def bindir() -> Path:
    """$SYNTHETICS_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin, else pg_ctl's directory."""
    configured = os.environ.get("SYNTHETICS_PG_BINDIR")
    if configured:
        return Path(configured)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    raise StackError("PostgreSQL binaries not found (install postgresql or set SYNTHETICS_PG_BINDIR)")


def _run(argv: list[str], *, timeout_s: float, stdin: str | None = None) -> None:
    run_as = _run_as()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    if run_as is not None:
        env["HOME"] = run_as.home
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            text=True,
            capture_output=True,
            timeout=timeout_s,
            env=env,
            # The caller's cwd may be unreadable for the postgres user, which initdb refuses.
            cwd="/",
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise StackError(f"{Path(argv[0]).name} failed: {reason}")


def _check_reachable(layout: Layout, run_as: _RunAs) -> None:
    """Fail clearly if the postgres user cannot reach the state directory (e.g. under /root)."""
    groups = {run_as.gid} | {g for g in os.getgrouplist("postgres", run_as.gid)}
    for directory in [layout.root, *layout.root.parents]:
        st = directory.stat()
        if st.st_uid == run_as.uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid in groups:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            raise StackError(
                f"the postgres OS user cannot enter {directory}; "
                "choose a state directory it can reach (SYNTHETICS_STACK_DIR)"
            )


def _scram_verifier(password: str) -> str:
    """A SCRAM-SHA-256 verifier, so the cleartext password never reaches the server (or its log)."""
    salt = secrets.token_bytes(16)
    iterations = 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def init_and_start(layout: Layout, port: int, password: str) -> ProcRef:
    """initdb, start, create Synapse's role and database; returns the postmaster."""
    socket_path = layout.pg_run / f".s.PGSQL.{port}"
    if len(str(socket_path)) > _MAX_SOCKET_PATH:
        raise StackError(f"state directory path too long for PostgreSQL's socket: {layout.root}")
    run_as = _run_as()
    if run_as is not None:
        _check_reachable(layout, run_as)
    for directory in (layout.pg_data, layout.pg_run):
        directory.mkdir(mode=0o700)
        if run_as is not None:
            os.chown(directory, run_as.uid, run_as.gid)

    bin_ = bindir()
    _run(
        [
            str(bin_ / "initdb"),
            "--no-sync",
            f"--username={_superuser()}",
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            f"--pgdata={layout.pg_data}",
        ],
        timeout_s=60,
    )
    settings = {**_SETTINGS, "port": str(port), "unix_socket_directories": f"'{layout.pg_run}'"}
    with open(layout.pg_data / "postgresql.conf", "a") as conf:
        conf.write("\n# synthetics stack\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    postmaster = start_cluster(layout)

    # Synapse refuses any collation but C; copying template0 lets us choose it whatever template1 has.
    sql = (
        f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{_scram_verifier(password)}';\n"
        f"CREATE DATABASE {DB_NAME} OWNER {DB_USER} ENCODING 'UTF8' "
        "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;\n"
    )
    _run(
        [
            str(bin_ / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(layout.pg_run),
            "-p",
            str(port),
            "-U",
            _superuser(),
            "-d",
            "postgres",
            "-f",
            "-",
        ],
        stdin=sql,
        timeout_s=30,
    )
    # libpq ignores a passfile that others can read, hence write_private.
    write_private(layout.pgpass, f"127.0.0.1:{port}:{DB_NAME}:{DB_USER}:{password}\n")
    return postmaster


def start_cluster(layout: Layout) -> ProcRef:
    """`pg_ctl start` on an initialised cluster; returns the postmaster."""
    try:
        _run(
            [
                str(bindir() / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "30",
                "-s",
                "-D",
                str(layout.pg_data),
                "-l",
                str(layout.pg_log),
            ],
            timeout_s=40,
        )
    except StackError:
        # pg_ctl only says "examine the log output"; the reason is in the server's log.
        raise StackError(f"PostgreSQL did not start: {last_line(layout.pg_log)}") from None
    postmaster = _postmaster(layout)
    if postmaster is None:
        raise StackError(f"PostgreSQL did not stay up: {last_line(layout.pg_log)}")
    return postmaster


def _postmaster(layout: Layout) -> ProcRef | None:
    try:
        first = (layout.pg_data / "postmaster.pid").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return ref_of(int(first)) if first.strip().isdigit() else None


def stop_cluster(layout: Layout, recorded: ProcRef | None) -> None:
    """`pg_ctl stop -m fast`, then signals if PostgreSQL is still there."""
    postmaster = _postmaster(layout) or recorded
    if not is_running(postmaster):
        return
    try:
        _run(
            [str(bindir() / "pg_ctl"), "stop", "-m", "fast", "-w", "-t", "15", "-s", "-D", str(layout.pg_data)],
            timeout_s=20,
        )
    except StackError as err:
        log.warning("pg_ctl stop failed (%s); signalling the postmaster", err)
    if not wait_until(lambda: not is_running(postmaster), timeout_s=5):
        stop(postmaster, grace_s=5)


def credentials(pgpass: Path) -> dict[str, str | int]:
    """psycopg2.connect's keywords for Synapse's database, from the deployment's 0600 pgpass file
    (host:port:dbname:user:password, as written above): one reader for every holder and fault."""
    host, port, dbname, user, password = pgpass.read_text().strip().split(":", 4)
    return {"host": host, "port": int(port), "dbname": dbname, "user": user, "password": password}
