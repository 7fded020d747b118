"""The evidence plan's parts: a probe declared once, typed, and a survey that runs each probe once.

A `Probe[T]` says what it produces (`returns`, checked whenever a result is read), how (`produce`),
which probes it reads, whether it writes, and what the target must give for it to run at all. A
`Survey` runs the probes a run needs concurrently, so a run lasts about as long as its slowest probe,
and hands each result (or the exception its probe raised) to every reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

from synthetics.credentials import MissingCredential, token
from synthetics.probe import Prober
from synthetics.target import Target

__all__ = [
    "Evidence",
    "Probe",
    "ProbeInputs",
    "ProbeOverdue",
    "RunSettings",
    "Survey",
    "UnplannedProbe",
    "checked",
    "closure",
    "longest_chain",
]

T = TypeVar("T")


class UnplannedProbe(LookupError):
    """A probe this run did not plan was read: a mistake in the suite, never a reason to skip."""


class ProbeOverdue(TimeoutError):
    """A probe did not finish within the run's deadline for it: the check says so, and the run ends."""


@dataclass(frozen=True)
class RunSettings:
    """What a run's options tell the probes (the same in every process of the run)."""

    since: datetime  # where the log search starts
    wait_stable_s: float  # how long the ECS probe may wait for the service to settle


@dataclass(frozen=True, eq=False)  # compared by identity: each probe is one declared object
class Probe(Generic[T]):
    name: str
    returns: type[T]
    produce: Callable[[ProbeInputs], T]
    reads: tuple[Probe[Any], ...] = ()
    writes: bool = False
    # What the target must give, each with the skip reason when it does not: a section (key path),
    # a credential (its token), anything else (`requires` returns the reason, or None).
    section: str | None = None
    credential: Literal["admin", "canary"] | None = None
    requires: Callable[[Target], str | None] | None = None
    # A result that is no finding about the server (an admin API refusing the token): the skip reason.
    declines: Callable[[T], str | None] | None = None
    # False for a live handle (an AWS session) that only the probes reading it, in its process, use.
    shared: bool = True

    def unavailable(self, target: Target) -> str | None:
        """Why this probe cannot run on the target (a skip reason), or None when it can."""
        if self.section is not None and _absent(target, self.section):
            return target.why_absent(self.section)
        if self.credential is not None:
            try:
                token(target, self.credential)
            except MissingCredential as missing:
                return str(missing)
        reason = self.requires(target) if self.requires is not None else None
        return reason or next((r for read in self.reads if (r := read.unavailable(target))), None)

    def __repr__(self) -> str:
        return f"Probe({self.name!r})"


def _absent(target: Target, key_path: str) -> bool:
    value: object = target
    for part in key_path.split("."):
        value = getattr(value, part, None)
        if value is None or value == "":
            return True
    return False


def checked(probe: Probe[T], value: object) -> T:
    """The value as the probe's declared type; anything else is a mistake in the suite, said so."""
    if not isinstance(value, probe.returns):
        given, declared = type(value).__name__, probe.returns.__name__
        raise TypeError(f"probe {probe.name} gave a {given}, not the {declared} it declares")
    return value


def longest_chain(probes: Iterable[Probe[Any]]) -> int:
    """How many probes wait one after another at most (a probe after the probes it reads): the number
    of network deadlines the slowest path through the plan can take."""
    depth: dict[Probe[Any], int] = {}

    def of(probe: Probe[Any], seen: frozenset[Probe[Any]]) -> int:
        if probe not in depth:
            if probe in seen:
                raise ValueError(f"probe {probe.name} reads itself, through {', '.join(p.name for p in seen)}")
            depth[probe] = 1 + max((of(read, seen | {probe}) for read in probe.reads), default=0)
        return depth[probe]

    return max((of(probe, frozenset()) for probe in probes), default=0)


def closure(probes: Iterable[Probe[Any]]) -> frozenset[Probe[Any]]:
    """The probes with every probe they read, transitively."""
    found: set[Probe[Any]] = set()
    pending = list(probes)
    while pending:
        probe = pending.pop()
        if probe not in found:
            found.add(probe)
            pending.extend(probe.reads)
    return frozenset(found)


class Evidence(Protocol):
    """Where a check's fixtures read probe results: this process's survey, or another's hand-over."""

    def result(self, probe: Probe[T]) -> T: ...


class ProbeInputs:
    """What a probe's function is given: the target, the prober, the run's settings, and the results
    of the probes it declares it reads (reading any other is an error: the plan would miss it)."""

    def __init__(self, survey: Survey, probe: Probe[Any]) -> None:
        self.target = survey.target
        self.prober = survey.prober
        self.settings = survey.settings
        self._survey = survey
        self._probe = probe

    def result(self, probe: Probe[T]) -> T:
        if probe not in self._probe.reads:
            raise UnplannedProbe(f"probe {self._probe.name} reads {probe.name} but does not declare it in `reads`")
        return self._survey.result(probe)


# Told when a probe finishes: its value, or the exception it raised.
Finished = Callable[[Probe[Any], object, BaseException | None], None]


class Survey:
    """Runs a fixed plan of probes, each once, each in a daemon thread of its own.

    Threads, because probes wait on other probes (discovery before keys); daemon threads, because an
    interrupted run must exit at once, not after the slowest deadline.
    """

    def __init__(
        self,
        plan: Iterable[Probe[Any]],
        target: Target,
        prober: Prober,
        settings: RunSettings,
        *,
        finished: Finished | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self.target = target
        # Every wait on a result ends by then, so a run always ends with a complete verdict.
        self._deadline_s = deadline_s
        self._started_at = time.monotonic()
        self.prober = prober
        self.settings = settings
        self.plan = closure(plan)
        self._finished = finished
        self._futures: dict[Probe[Any], Future[object]] = {probe: Future() for probe in self.plan}
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._started_at = time.monotonic()
        for probe, future in self._futures.items():
            threading.Thread(target=self._run, args=(probe, future), name=f"probe:{probe.name}", daemon=True).start()

    def result(self, probe: Probe[T]) -> T:
        """The probe's result; a probe that raised re-raises here, in the check that reads it."""
        future = self._futures.get(probe)
        if future is None:
            raise UnplannedProbe(f"probe {probe.name} is not in this run's plan")
        self.start()
        if self._deadline_s is None:
            return checked(probe, future.result())
        left = self._started_at + self._deadline_s - time.monotonic()
        try:
            return checked(probe, future.result(timeout=max(0.0, left)))
        except TimeoutError as overdue:
            if future.done():
                raise  # the probe itself raised a TimeoutError: its own finding
            raise ProbeOverdue(
                f"probe {probe.name} did not finish within the run's {self._deadline_s:g} s for it"
            ) from overdue

    def unfinished(self, deadline: float) -> list[Probe[Any]]:
        """Waits until every probe has finished or the monotonic `deadline` passes; those still running."""
        for future in self._futures.values():
            try:
                future.exception(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        return [probe for probe, future in self._futures.items() if not future.done()]

    def _run(self, probe: Probe[Any], future: Future[object]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            value = probe.produce(ProbeInputs(self, probe))
        except BaseException as error:  # handed to the check that reads it
            future.set_exception(error)
            if self._finished is not None:
                self._finished(probe, None, error)
            return
        future.set_result(value)
        if self._finished is not None:
            self._finished(probe, value, None)
