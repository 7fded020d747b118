"""Stopping a deployment, whoever started it, and deleting its state directory."""

from __future__ import annotations

import logging
import os
import shutil

from stack import _postgres
from stack._errors import StackError
from stack._layout import Layout
from stack._process import is_running, stop
from stack._statefile import StateRecord, load

log = logging.getLogger(__name__)


def down(layout: Layout) -> None:
    """Idempotent. Deletes only a directory marked as ours (or an empty one)."""
    if not layout.root.exists():
        return
    if not layout.marker.exists():
        if any(layout.root.iterdir()):
            raise StackError(f"{layout.root} is not a stack state directory; not deleting it")
        layout.root.rmdir()
        return
    teardown(layout, load(layout.state_json) or StateRecord())


def teardown(layout: Layout, record: StateRecord) -> None:
    me = os.getpid()  # the reaper runs this too, and must not signal itself
    # The reaper first, so it does not start a teardown of its own meanwhile.
    # The shipper before moto, so its last batch still finds the endpoint; moto after Synapse, which
    # may be writing media to it.
    for name in ("reaper", "edge", "dns", "shipper", "synapse", "moto"):
        ref = record.processes.get(name)
        if ref is not None and ref.pid != me and not stop(ref):
            log.warning("%s (pid %d) would not stop", name, ref.pid)
    # Also when state.json lacks it: an `up` may have died between starting it and recording it.
    if layout.pg_data.exists():
        _postgres.stop_cluster(layout, record.processes.get("postgres"))
    left = [name for name, ref in record.processes.items() if ref.pid != me and is_running(ref)]
    if left:
        raise StackError(f"could not stop {', '.join(left)}; state kept in {layout.root}")
    # ignore_errors: another process (the reaper, a second `down`) may be deleting it too;
    # what matters is that it is gone afterwards.
    shutil.rmtree(layout.root, ignore_errors=True)
    if layout.root.exists():
        raise StackError(f"could not delete {layout.root}")
