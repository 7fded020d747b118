"""Reaching the edge the way the suite does, and looking for leftovers."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import typing
from collections.abc import Iterator
from pathlib import Path

import httpx

from stack.edge import EdgeConfig, load_config, save_config
from synthetics.probe import http_client
from synthetics.target import load_target


def edge_client(target_yaml: Path, *, http2: bool = True) -> httpx.Client:
    """Reaches the edge as the suite does: URL, SNI and :authority keep the public name."""
    return http_client(load_target(target_yaml), http2=http2)


def state_json(state_dir: Path) -> dict[str, typing.Any]:
    document: dict[str, typing.Any] = json.loads((state_dir / "state.json").read_text())
    return document


def pids(state_dir: Path) -> dict[str, int]:
    return {name: ref["pid"] for name, ref in state_json(state_dir)["processes"].items()}


def alive(pid: int) -> bool:
    """Running, that is: present and not a zombie (pid 1 here may never reap exited orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. a state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def edge_config_changed(state_dir: Path, **changes: typing.Any) -> Iterator[EdgeConfig]:
    """Edit the running edge's edge.json for the block; it re-reads the file per request."""
    path = state_dir / "edge.json"
    original = load_config(path)
    changed = dataclasses.replace(original, **changes)
    save_config(path, changed)
    try:
        yield changed
    finally:
        save_config(path, original)
