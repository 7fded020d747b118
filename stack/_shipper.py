"""`python -m stack.shipper STATE_DIR`: ship Synapse's log file to CloudWatch Logs, as ECS's awslogs would.

One event per line, from the beginning of the file, at most about a second behind, across rotation
and truncation. What to ship where is read from shipper.json, re-read when it changes (a healed ECS
service runs a new task, which logs to a new stream). Lines wait in memory while the endpoint is
unreachable, up to a bound.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from stack._errors import StackError
from stack._layout import Layout
from stack._moto import Aws
from stack._process import ProcRef, is_running, last_line, python_env, spawn, wait_until

log = logging.getLogger("shipper")

POLL_S = 0.2
# Lines are shipped at least this often; with POLL_S, an event reaches CloudWatch within ~1 s.
SHIP_EVERY_S = 0.5
RETRY_AFTER_S = 1.0
# A line without its newline is shipped once the file has not grown for this long.
PARTIAL_AFTER_S = 2.0
READ_CHUNK = 1 << 20
# PutLogEvents limits: 10,000 events and 1,048,576 bytes a call, counting 26 bytes per event;
# 256 KiB an event.
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD
# Memory bound while the endpoint is down: the oldest lines are dropped beyond it.
MAX_PENDING = 50_000
STARTED_S = 10.0


@dataclass(frozen=True)
class ShipperConfig:
    log_file: str
    credentials_file: str
    port: int
    group: str
    stream: str


def write_config(layout: Layout, config: ShipperConfig) -> None:
    # Replaced whole, so the running shipper never reads half a file.
    tmp = layout.shipper_json.with_name(f".{layout.shipper_json.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(config), indent=2) + "\n")
    os.replace(tmp, layout.shipper_json)


def read_config(path: Path) -> ShipperConfig:
    data: dict[str, Any] = json.loads(path.read_text())
    return ShipperConfig(
        log_file=str(data["log_file"]),
        credentials_file=str(data["credentials_file"]),
        port=int(data["port"]),
        group=str(data["group"]),
        stream=str(data["stream"]),
    )


def start(layout: Layout) -> ProcRef:
    argv = [sys.executable, "-m", "stack.shipper", str(layout.root)]
    return spawn(argv, log=layout.shipper_log, cwd=layout.root, env=python_env())


def wait_started(layout: Layout, ref: ProcRef) -> None:
    """Until it has said it is following the log; it dies at once on a bad config."""
    # The log is appended to across restarts: only this process's own line counts.
    said = f"shipper[{ref.pid}]: following"

    def started() -> bool:
        if not is_running(ref):
            raise StackError(f"log shipper exited during startup: {last_line(layout.shipper_log)}")
        try:
            return said in layout.shipper_log.read_text(errors="replace")
        except FileNotFoundError:
            return False

    if not wait_until(started, timeout_s=STARTED_S):
        raise StackError(f"log shipper not started within {STARTED_S:.0f} s")


class Follower:
    """The complete lines appended to a file since the last call, across rotation and truncation."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: Any = None
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""
        self._grew_at = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def read_lines(self) -> list[str]:
        lines: list[str] = []
        if self._handle is None and not self._open():
            return lines
        lines += self._read_available()
        try:
            current = os.stat(self._path)
        except FileNotFoundError:
            # Rotated away and not yet re-created: keep reading the old file meanwhile.
            return lines
        if current.st_ino != self._inode:
            # Replaced (rotated): the old file was read to its end above; the new one from its start.
            lines += self._flush_partial()
            self.close()
            if self._open():
                lines += self._read_available()
        elif current.st_size < self._offset:
            # Truncated in place: what is there now was written after the truncation.
            self._handle.seek(0)
            self._offset = 0
            self._partial = b""
            lines += self._read_available()
        if self._partial and time.monotonic() - self._grew_at > PARTIAL_AFTER_S:
            lines += self._flush_partial()
        return lines

    def _open(self) -> bool:
        try:
            self._handle = open(self._path, "rb")  # noqa: SIM115 - kept open across calls
        except FileNotFoundError:
            return False
        self._inode = os.fstat(self._handle.fileno()).st_ino
        self._offset = 0
        self._partial = b""
        return True

    def _read_available(self) -> list[str]:
        chunks = []
        # Bounded per call, so a huge backlog does not delay shipping what was already read.
        for _ in range(8):
            chunk = self._handle.read(READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            return []
        data = b"".join(chunks)
        self._offset += len(data)
        self._grew_at = time.monotonic()
        *complete, self._partial = (self._partial + data).split(b"\n")
        return [line.decode("utf-8", errors="replace").rstrip("\r") for line in complete]

    def _flush_partial(self) -> list[str]:
        partial, self._partial = self._partial, b""
        return [partial.decode("utf-8", errors="replace")] if partial else []


class Shipper:
    def __init__(self, config_path: Path) -> None:
        self._config_path = config_path
        self._config_mtime = 0
        self._config: ShipperConfig | None = None
        self._aws: Aws | None = None
        self._follower: Follower | None = None
        self._pending: collections.deque[tuple[int, str]] = collections.deque()
        self._last_ts = 0
        self._next_ship = 0.0
        self._dropped = 0
        self._last_error = ""
        self._streams_ready: set[tuple[str, str]] = set()

    def reload(self) -> None:
        mtime = self._config_path.stat().st_mtime_ns
        if mtime == self._config_mtime:
            return
        # Noted first: a bad file is reported once, not at every poll.
        self._config_mtime = mtime
        config = read_config(self._config_path)
        previous, self._config = self._config, config
        if previous is None or (previous.credentials_file, previous.port) != (config.credentials_file, config.port):
            self._aws = Aws(Path(config.credentials_file), config.port)
        if previous is None or previous.log_file != config.log_file:
            if self._follower is not None:
                self._follower.close()
            self._follower = Follower(Path(config.log_file))
        if previous is None or (previous.group, previous.stream) != (config.group, config.stream):
            log.info("following %s into %s %s", config.log_file, config.group, config.stream)

    def poll(self) -> None:
        assert self._follower is not None
        lines = [line for line in self._follower.read_lines() if line.strip()]
        for line in lines:
            # CloudWatch wants events in time order within a call; the clock may step back.
            self._last_ts = max(self._last_ts, int(time.time() * 1000))
            self._pending.append((self._last_ts, line))
        overflow = len(self._pending) - MAX_PENDING
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            if self._dropped == 0 or (self._dropped + overflow) // 10_000 > self._dropped // 10_000:
                log.warning("endpoint unreachable: dropping the oldest lines (%d so far)", self._dropped + overflow)
            self._dropped += overflow

    def ship_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._pending or (not force and now < self._next_ship):
            return
        self._next_ship = now + SHIP_EVERY_S
        while self._pending:
            if not self._ship_one_batch():
                self._next_ship = time.monotonic() + RETRY_AFTER_S
                return

    def _ship_one_batch(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        assert self._config is not None and self._aws is not None
        config, logs = self._config, self._aws.logs
        batch: list[dict[str, Any]] = []
        size = 0
        for timestamp, message in self._pending:
            encoded = message.encode()
            if len(encoded) > MAX_MESSAGE_BYTES:
                message = encoded[:MAX_MESSAGE_BYTES].decode("utf-8", errors="ignore")
                encoded = message.encode()
            if batch and (len(batch) >= MAX_BATCH_EVENTS or size + len(encoded) + EVENT_OVERHEAD > MAX_BATCH_BYTES):
                break
            batch.append({"timestamp": timestamp, "message": message})
            size += len(encoded) + EVENT_OVERHEAD
        try:
            self._ensure_stream(config)
            logs.put_log_events(logGroupName=config.group, logStreamName=config.stream, logEvents=batch)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                # The group or stream went away (a restarted endpoint): make them again next time.
                self._streams_ready.discard((config.group, config.stream))
            self._report(f"PutLogEvents failed: {code or err}")
            return False
        except BotoCoreError as err:
            self._report(f"PutLogEvents failed: {type(err).__name__}")
            return False
        for _ in batch:
            self._pending.popleft()
        if self._last_error:
            log.info("shipping again")
            self._last_error = ""
        return True

    def _ensure_stream(self, config: ShipperConfig) -> None:
        key = (config.group, config.stream)
        if key in self._streams_ready:
            return
        assert self._aws is not None
        logs = self._aws.logs
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=config.group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=config.group, logStreamName=config.stream)
        self._streams_ready.add(key)

    def _report(self, error: str) -> None:
        # Once per kind of failure, so an endpoint that is down does not flood the log.
        if error != self._last_error:
            log.warning("%s; %d lines waiting", error, len(self._pending))
            self._last_error = error


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s shipper[%(process)d]: %(message)s", stream=sys.stdout)
    layout = Layout(Path(argv[0]))
    stopping = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    shipper = Shipper(layout.shipper_json)
    try:
        shipper.reload()
    except (OSError, ValueError, KeyError, StackError) as err:
        log.error("cannot start: %s: %s", type(err).__name__, err)
        return 2
    # Ends on SIGTERM (teardown) or when the deployment's directory is gone.
    while not stopping.is_set() and layout.marker.exists():
        try:
            shipper.reload()
        except (OSError, ValueError, KeyError) as err:
            log.warning("keeping the previous config: %s: %s", type(err).__name__, err)
        shipper.poll()
        shipper.ship_due()
        stopping.wait(POLL_S)
    # What is already read goes out before exiting; the client's own deadlines bound this.
    shipper.poll()
    shipper.ship_due(force=True)
    return 0
