"""Evidence handed from the one process of a run that gathers it to the others (xdist workers).

Every worker selects the same checks, so each computes the same plan; the first to need evidence
claims the run's directory (an exclusive flock it holds for its whole life) and runs the survey,
publishing each probe's outcome as it finishes: pickled, written atomically. The others wait for
each file until a deadline, and give up at once when the claimer's lock is free (it died, or ended
without publishing). A result that is an exception crosses too and is raised again in the reader.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import stat
import time
import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote

from synthetics.survey import Probe, UnplannedProbe, checked

__all__ = ["Claim", "EvidenceLost", "Owner", "ProbeCrashed", "Reader", "claim"]

T = TypeVar("T")

# How long a process waits for a claimer that holds the lock to say what it runs (it writes that
# note right after taking the lock, so only a process stopped in between makes anyone wait).
_NOTE_WAIT_S = 10.0
_POLL_FIRST_S, _POLL_MAX_S = 0.01, 0.2


class EvidenceLost(RuntimeError):
    """A probe's result will not come: the process running it ended, or it missed the deadline."""


class ProbeCrashed(Exception):
    """Stands in for a probe's exception that cannot cross processes (it does not pickle back)."""


@dataclass(frozen=True)
class Claim:
    owner_pid: int
    deadline: float  # wall clock (time.time()): the same instant in every process
    plan: tuple[str, ...]


@dataclass(frozen=True)
class _Outcome:
    value: object
    error: BaseException | None
    trace: str  # the error's traceback in the process that ran the probe


def _private_dir(directory: Path) -> Path:
    """The directory, created private; one another user made (to feed us pickles) is refused."""
    directory.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise EvidenceLost(f"{directory} is not a private directory of this user: refusing to share evidence there")
    return directory


def _file(directory: Path, name: str) -> Path:
    return directory / f"{quote(name, safe='')}.pickle"


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _read_note(directory: Path) -> Claim | None:
    try:
        note = json.loads((directory / "claim.json").read_text())
    except FileNotFoundError:
        return None
    return Claim(int(note["owner_pid"]), float(note["deadline"]), tuple(note["plan"]))


def claim(directory: Path, plan: Iterable[str], budget_s: float) -> Owner | Reader:
    """Owner for the first process of the run to ask (it runs the plan), Reader for every other."""
    directory = _private_dir(directory)
    waited_until = time.monotonic() + _NOTE_WAIT_S
    while True:
        lock = open(directory / "owner.lock", "a+b")  # noqa: SIM115  # held for the owner's whole life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            note = _read_note(directory)
            if note is not None:
                return Reader(directory, note)
            if time.monotonic() > waited_until:
                raise EvidenceLost(f"a process holds {directory / 'owner.lock'} but never said what it runs") from None
            time.sleep(_POLL_FIRST_S)
            continue
        note = _read_note(directory)
        if note is not None:  # an owner came and went: its files are all there will be
            lock.close()
            return Reader(directory, note)
        note = Claim(os.getpid(), time.time() + budget_s, tuple(sorted(plan)))
        _write_atomically(directory / "claim.json", json.dumps(asdict(note)).encode())
        return Owner(directory, note, lock)


class Owner:
    """The process that runs the survey: publishes each outcome for the others, as it comes."""

    def __init__(self, directory: Path, note: Claim, lock: IO[bytes]) -> None:
        self.claim = note
        self._directory = directory
        self._lock = lock
        self._closed = False

    def publish(self, probe: Probe[Any], value: object, error: BaseException | None) -> None:
        if self._closed or not probe.shared:
            return
        trace = "".join(traceback.format_exception(error)) if error is not None else ""
        outcome = _Outcome(value, error, trace)
        try:
            data = pickle.dumps(outcome)
            pickle.loads(data)  # an exception class may pickle but not unpickle: find out here, not in a reader
        except Exception as problem:
            what = f"{type(error).__name__}: {error}" if error is not None else f"a {type(value).__name__}"
            stand_in = ProbeCrashed(
                f"probe {probe.name} gave {what}, which cannot be handed to other workers "
                f"({type(problem).__name__}: {problem})"
            )
            data = pickle.dumps(_Outcome(None, stand_in, trace))
        _write_atomically(_file(self._directory, probe.name), data)

    def close(self, unfinished: Iterable[Probe[Any]] = ()) -> None:
        """Tells readers of probes still running that they will not come, then frees the claim."""
        for probe in unfinished:
            self.publish(probe, None, EvidenceLost(f"probe {probe.name} did not finish before the deadline"))
        self._closed = True
        self._lock.close()


class Reader:
    """A process that reads what the owner publishes; every wait ends by the claim's deadline."""

    def __init__(self, directory: Path, note: Claim) -> None:
        self.claim = note
        self._directory = directory
        self._outcomes: dict[str, _Outcome] = {}

    def result(self, probe: Probe[T]) -> T:
        if probe.name not in self.claim.plan or not probe.shared:
            raise UnplannedProbe(f"probe {probe.name} is not in the plan of the worker gathering evidence")
        outcome = self._outcomes.get(probe.name)
        if outcome is None:
            outcome = self._outcomes[probe.name] = self._wait(probe.name)
        if outcome.error is not None:
            raise outcome.error
        return checked(probe, outcome.value)

    def _wait(self, name: str) -> _Outcome:
        path = _file(self._directory, name)
        delay = _POLL_FIRST_S
        while True:
            if path.exists():
                return self._load(path)
            if not self._owner_alive():
                if path.exists():  # published just before it ended
                    return self._load(path)
                raise EvidenceLost(
                    f"the worker gathering evidence (pid {self.claim.owner_pid}) ended before probe {name} finished"
                )
            left = self.claim.deadline - time.time()
            if left <= 0:
                raise EvidenceLost(f"probe {name} was not published by pid {self.claim.owner_pid} before the deadline")
            time.sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX_S)

    @staticmethod
    def _load(path: Path) -> _Outcome:
        outcome = pickle.loads(path.read_bytes())
        if not isinstance(outcome, _Outcome):
            raise EvidenceLost(f"{path} does not hold a probe's outcome")
        if outcome.error is not None and outcome.trace:
            outcome.error.add_note(f"raised in the worker that gathered the evidence:\n{outcome.trace}")
        return outcome

    def _owner_alive(self) -> bool:
        # The owner holds the lock until it exits: the kernel frees it however the process ends.
        with open(self._directory / "owner.lock", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
