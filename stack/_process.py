"""Starting, watching and stopping the deployment's processes, each in its own session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack._errors import StackError


@dataclass(frozen=True)
class ProcRef:
    """A process as recorded in state.json.

    The start time tells a live process from an unrelated one that reused the pid after a
    crash or a reboot, so a stale state file can never make us signal a stranger.
    """

    pid: int
    start: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> ProcRef:
        return cls(pid=int(data["pid"]), start=int(data["start"]))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None if there is no such pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses; the fields after the last ')' do not.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def ref_of(pid: int) -> ProcRef | None:
    stat = _stat(pid)
    if stat is None or stat[0] in "ZX":
        return None
    return ProcRef(pid=pid, start=stat[1])


def is_running(ref: ProcRef | None) -> bool:
    if ref is None:
        return False
    stat = _stat(ref.pid)
    # A zombie has exited: only its exit status is left, and pid 1 in a container may never reap it.
    return stat is not None and stat[0] not in "ZX" and stat[1] == ref.start


# Children started by this process, kept so they are reaped (not left as zombies) once stopped.
_children: dict[int, subprocess.Popen[bytes]] = {}


# The directory holding the `stack` package.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def python_env() -> dict[str, str]:
    """Environment for our own modules (edge, reaper): they must import `stack` even uninstalled."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> ProcRef:
    """Start a long-running child in a new session, output appended to `log`.

    Its own session keeps it out of the caller's terminal signals, and its process group lets
    `stop` reach anything it forks. stdin/stdout are not the caller's pipes, so a CLI that
    captured our output is not kept waiting by children that outlive it.
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ref = ref_of(proc.pid)
    if ref is None:
        proc.wait(timeout=5)
        raise StackError(f"{Path(argv[0]).name} exited at once (exit code {proc.returncode}); see {log}")
    _children[proc.pid] = proc
    return ref


def exit_code(ref: ProcRef) -> int | None:
    """Exit status of a child this process started and that has exited, else None."""
    child = _children.get(ref.pid)
    return child.poll() if child is not None else None


def _signal(ref: ProcRef, sig: signal.Signals) -> None:
    if not is_running(ref):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(ref.pid) == ref.pid:
            os.killpg(ref.pid, sig)
        else:
            os.kill(ref.pid, sig)


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _children[pid]
        return
    # Not ours: the parent (or init) reaps it, and waitpid just fails harmlessly.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(ref: ProcRef | None, *, grace_s: float = 10.0, kill_wait_s: float = 5.0) -> bool:
    """SIGTERM the process group, SIGKILL it after `grace_s`. True when the process is gone."""
    if ref is None:
        return True
    if not is_running(ref):
        _reap(ref.pid)
        return True
    _signal(ref, signal.SIGTERM)
    if wait_until(lambda: _gone(ref), timeout_s=grace_s):
        return True
    _signal(ref, signal.SIGKILL)
    return wait_until(lambda: _gone(ref), timeout_s=kill_wait_s)


def _gone(ref: ProcRef) -> bool:
    _reap(ref.pid)
    return not is_running(ref)


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout_s` passes; True if it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def free_port() -> int:
    # Another process could take the port before our server binds it; on loopback in a test
    # run that race is rare enough, and the server then fails loudly at startup.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, *, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def last_line(path: Path, *, limit: int = 300) -> str:
    """The last non-empty line of a log, to say in one line why something died."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""
