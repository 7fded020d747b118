"""The reference deployment as one object: up, status, faults, down."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stack import _aws_seed, _dns, _edge_process, _moto, _postgres, _reaper, _shipper, _synapse, _tls, _users
from stack._errors import StackError
from stack._faults import lookup
from stack._layout import Layout, default_state_dir
from stack._process import ProcRef, free_port, is_running, ref_of, stop
from stack._secrets import new_secret
from stack._statefile import COMPONENTS, StateRecord, load, save
from stack._target import write_target
from stack._teardown import down, teardown
from stack.edge import load_config, save_config

log = logging.getLogger("stack")


@contextlib.contextmanager
def _step(what: str) -> Iterator[None]:
    # Timings go to the log so a slow startup can be traced to one component.
    started = time.monotonic()
    yield
    log.info("%s (%.2f s)", what, time.monotonic() - started)


class Deployment:
    """A real Synapse on a real PostgreSQL behind a Cloudflare-like edge, on loopback.

    All state lives in one directory; `state.json` there records the processes, so `status`,
    `fault`, `heal` and `down` work from any process, not just the one that ran `up`.
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        root = Path(state_dir).absolute() if state_dir is not None else default_state_dir()
        self._layout = Layout(root)

    @property
    def state_dir(self) -> Path:
        return self._layout.root

    @property
    def target_path(self) -> Path:
        return self._layout.target_yaml

    # -- lifecycle -------------------------------------------------------------------------

    def up(self, owner_pid: int | None = None) -> Path:
        """Boot everything and return target.yaml's path.

        With `owner_pid`, a reaper process tears the deployment down once that process dies.
        On failure, whatever was started is stopped again and StackError is raised.
        """
        started = time.monotonic()
        owner = None
        if owner_pid is not None:
            owner = ref_of(owner_pid)
            if owner is None:
                raise StackError(f"owner process {owner_pid} is not running")
        self._clear_previous()
        layout = self._layout
        layout.root.mkdir(parents=True, mode=0o711)
        # Traversable but not listable: the postgres user must reach its directories inside.
        layout.root.chmod(0o711)
        layout.marker.write_text("state directory of the synthetics reference deployment\n")
        layout.secrets.mkdir(mode=0o700)
        record = StateRecord(owner=owner)
        save(layout.state_json, record)
        try:
            self._boot(record)
        except BaseException as err:
            log.warning("up failed; stopping what was started")
            with contextlib.suppress(Exception):
                teardown(layout, load(layout.state_json) or record)
            if isinstance(err, StackError) or not isinstance(err, Exception):
                raise
            raise StackError(f"up failed: {type(err).__name__}: {err}") from err
        log.info("up in %.1f s: %s", time.monotonic() - started, layout.target_yaml)
        return layout.target_yaml

    def _boot(self, record: StateRecord) -> None:
        layout = self._layout
        ports: dict[str, int] = {}
        # edge-8448: held by the edge, never listening; the target maps the public names' 8448 there.
        # edge-b: the edge's listener for the second address of each family (per-address probes);
        # edge-fed: its federation listener, the port the SRV target's 8443 is mapped to.
        names = ("postgres", "synapse", "admin", "metrics", "edge", "edge-b", "edge-fed", "edge-8448", "moto")
        for name in names:
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[name] = port
        ports["dns"] = _dns.free_port(avoid=ports.values())
        record.ports = ports
        save(layout.state_json, record)

        if record.owner is not None:
            # First, so that even an `up` interrupted by its owner's death is cleaned up.
            self._record(record, "reaper", _reaper.start(layout, record.owner))
        # Early: the AWS account is seeded while Synapse boots, and moto takes a moment to import.
        moto = _moto.start(layout, ports["moto"])
        self._record(record, "moto", moto)
        with _step("tls: throwaway CA and edge certificate"):
            _tls.make_ca(layout)
            _tls.issue_edge_cert(layout, [_synapse.PUBLIC_HOST, _synapse.SERVER_NAME])
        with _step("postgres: initdb, start, create database"):
            self._record(record, "postgres", _postgres.init_and_start(layout, ports["postgres"], new_secret()))
        with _step("synapse: config and signing key"):
            synapse_ports = _synapse.SynapsePorts(
                http=ports["synapse"], metrics=ports["metrics"], postgres=ports["postgres"], admin=ports["admin"]
            )
            media = _aws_seed.media_storage_provider(ports["moto"])
            _synapse.write_config(layout, synapse_ports, media_storage_providers=[media])
        synapse = _synapse.start(layout)
        self._record(record, "synapse", synapse)
        # The edge boots while Synapse does; it needs nothing from Synapse to start.
        _edge_process.write_config(
            layout,
            port=ports["edge"],
            origin_port=ports["synapse"],
            closed_port=ports["edge-8448"],
            address_port=ports["edge-b"],
            federation_port=ports["edge-fed"],
        )
        edge = _edge_process.start(layout)
        self._record(record, "edge", edge)
        _dns.write_config(layout, port=ports["dns"])
        dns = _dns.start(layout)
        self._record(record, "dns", dns)
        with _step("aws: moto answering, account seeded"):
            record.extra["aws"] = _aws_seed.boot(layout, moto, ports)
            save(layout.state_json, record)
        shipper = _shipper.start(layout)
        self._record(record, "shipper", shipper)
        with _step("synapse: healthy"):
            _synapse.wait_healthy(layout, synapse, ports["synapse"])
        with _step("users: canary and admin registered, canary room created"):
            _users.provision(layout, ports["synapse"])
        with _step("synapse: background updates done"):
            _users.wait_background_updates(layout, ports["synapse"])
        with _step("edge: listening"):
            _edge_process.wait_listening(layout, edge, ports["edge"])
        with _step("dns: answering"):
            _dns.wait_ready(layout, dns, ports["dns"])
        _shipper.wait_started(layout, shipper)
        write_target(
            layout,
            ports["edge"],
            dns_port=ports["dns"],
            closed_port=ports["edge-8448"],
            admin_port=ports["admin"],
            address_port=ports["edge-b"],
            federation_port=ports["edge-fed"],
            metrics_port=ports["metrics"],
            moto_port=ports["moto"],
        )
        record.ready = True
        save(layout.state_json, record)

    def down(self) -> None:
        """Stop everything and delete the state directory. Idempotent; works from any process."""
        down(self._layout)

    def status(self) -> dict[str, bool | str]:
        record = load(self._layout.state_json) if self._layout.marker.exists() else None
        result: dict[str, bool | str] = {"state_dir": str(self._layout.root)}
        for name in COMPONENTS:
            result[name] = record is not None and is_running(record.processes.get(name))
        result["ready"] = record is not None and record.ready
        result["faults"] = ",".join(record.faults) if record else ""
        return result

    @contextlib.contextmanager
    def running(self, owner_pid: int | None = None) -> Iterator[Path]:
        """up/down around a block; the owner (for the reaper) defaults to this process."""
        path = self.up(owner_pid=os.getpid() if owner_pid is None else owner_pid)
        try:
            yield path
        finally:
            self.down()

    # -- faults ----------------------------------------------------------------------------

    def fault(self, name: str) -> None:
        fault = lookup(name)
        record = self._require_ready()
        if name in record.faults:
            return
        fault.inject(_Controls(self._layout, record))
        record.faults.append(name)
        save(self._layout.state_json, record)
        log.info("fault %s injected", name)

    def heal(self, name: str | None = None) -> None:
        """Undo one fault, or every active fault when `name` is None."""
        record = self._require_ready()
        names = [name] if name is not None else list(record.faults)
        for each in names:
            lookup(each).heal(_Controls(self._layout, record))
            if each in record.faults:
                record.faults.remove(each)
            save(self._layout.state_json, record)
            log.info("fault %s healed", each)

    @contextlib.contextmanager
    def injected(self, name: str) -> Iterator[None]:
        self.fault(name)
        try:
            yield
        finally:
            self.heal(name)

    # -- internals -------------------------------------------------------------------------

    def _require_ready(self) -> StateRecord:
        record = load(self._layout.state_json) if self._layout.marker.exists() else None
        if record is None or not record.ready:
            raise StackError(f"no deployment is up in {self._layout.root}")
        return record

    def _record(self, record: StateRecord, name: str, ref: ProcRef) -> None:
        # Saved at once, so a teardown from elsewhere knows about every process started so far.
        record.processes[name] = ref
        save(self._layout.state_json, record)

    def _clear_previous(self) -> None:
        layout = self._layout
        if not layout.root.exists():
            return
        if not layout.marker.exists():
            if any(layout.root.iterdir()):
                raise StackError(f"{layout.root} exists and is not a stack state directory")
            layout.root.rmdir()
            return
        record = load(layout.state_json)
        if record is not None and record.is_live():
            raise StackError(f"a deployment is already up in {layout.root} (stop it with `python -m stack down`)")
        log.info("cleaning up a stale deployment in %s", layout.root)
        teardown(layout, record or StateRecord())


class _Controls:
    """What faults may do (see `_fault_types.Controls`), bound to one deployment's record."""

    def __init__(self, layout: Layout, record: StateRecord) -> None:
        self._layout = layout
        self._record = record

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def record(self) -> StateRecord:
        return self._record

    def save(self) -> None:
        save(self._layout.state_json, self._record)

    def stop_component(self, name: str) -> None:
        if name not in self._record.stopped:
            self._record.stopped.append(name)
        # Recorded before stopping: should we be killed midway, nobody takes it for a crash.
        self.save()
        if not stop(self._record.processes.get(name)):
            raise StackError(f"{name} would not stop")

    def start_component(self, name: str) -> None:
        layout, record = self._layout, self._record
        if not is_running(record.processes.get(name)):
            if name == "synapse":
                record.processes[name] = ref = _synapse.start(layout)
                self.save()
                _synapse.wait_healthy(layout, ref, record.ports["synapse"])
            elif name == "edge":
                record.processes[name] = ref = _edge_process.start(layout)
                self.save()
                _edge_process.wait_listening(layout, ref, record.ports["edge"])
            elif name == "dns":
                record.processes[name] = ref = _dns.start(layout)
                self.save()
                _dns.wait_ready(layout, ref, record.ports["dns"])
            elif name == "shipper":
                record.processes[name] = ref = _shipper.start(layout)
                self.save()
                _shipper.wait_started(layout, ref)
            elif name == "moto":
                record.processes[name] = ref = _moto.start(layout, record.ports["moto"])
                self.save()
                # A new moto process holds nothing: the account is seeded afresh (the shipper
                # follows the new task's stream).
                record.extra["aws"] = _aws_seed.boot(layout, ref, record.ports)
            else:
                raise StackError(f"cannot restart {name}")
        if name in record.stopped:
            record.stopped.remove(name)
        self.save()

    def restart_component(self, name: str) -> None:
        self.stop_component(name)
        self.start_component(name)

    def edit_edge(self, **changes: Any) -> None:
        path = self._layout.edge_json
        save_config(path, dataclasses.replace(load_config(path), **changes))
