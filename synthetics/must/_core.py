"""Failing a check: the failure mode, what was expected and what was seen; warnings, which only
degrade the run; notes; and the attempts of a request that was tried again."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from synthetics.bounds import bounded
from synthetics.catalogue import Mode
from synthetics.check import ALL_READINGS, CheckInfo, Reading, current_check
from synthetics.exchange import Exchange
from synthetics.http_failure import read_failure
from synthetics.match import Matcher


class CheckFailed(AssertionError):
    """A check found its fault. The message starts with the failure mode, for people and for Allure.

    Its parts stay apart for the report of a failed check (fixtures/failure_report.py), which puts
    what was expected and seen on one line and the request it was seen in on the next. Each part
    is bounded: a hostile server makes evidence as large as it likes.
    """

    def __init__(self, failure_mode: Mode, finding: str, *, request_line: str | None = None) -> None:
        self.failure_mode = failure_mode
        self.finding = finding = bounded(finding)  # what was expected and what was seen
        # The HTTP request whose answer was judged, when it was one.
        self.request_line = request_line = bounded(request_line, 300) if request_line else None
        # The verdict's message: one line with both, the request first.
        self.detail = bounded(f"{request_line}: {finding}" if request_line else finding)
        super().__init__(f"[{failure_mode}] {self.detail}")


def _running_check() -> CheckInfo:
    info = current_check.get()
    if info is None:
        # No silent default: a failure must name the mode its check declared.
        raise RuntimeError("a must helper failed outside a check, so no failure mode is declared")
    return info


def fail(message: str, *, failure_mode: Mode | None = None, exchange: Exchange | None = None) -> CheckFailed:
    """Builds the failure for `raise`: the mode the check declared, unless the evidence proves a
    lower layer's (`failure_mode`, a cause the helper read in the evidence). `exchange` is the HTTP
    evidence the message is about, when there is one: its request line is reported with it."""
    mode = failure_mode or _running_check().detects
    return CheckFailed(mode, message, request_line=exchange.request_line if exchange is not None else None)


def match_response(exchange: Exchange, *matchers: Matcher, failure_mode: Mode | None = None) -> None:
    """Fails unless every matcher is satisfied.

    When the exchange itself proves a lower-layer fault (a Cloudflare 52x, a challenge, or no
    answer at all, read as its transport error), that fault is named if the check declared that
    reading (`@check(reads=...)`): it is the cause, the check's own expectation only its symptom.
    Otherwise the failure is `failure_mode` (a cause the helper knows the evidence points to) or
    the check's declared mode.
    """
    __tracebackhide__ = True
    problems = [problem for matcher in matchers if (problem := matcher(exchange))]
    if exchange.earlier:
        record_attempts(exchange)
    if exchange.error is None and not problems:
        if exchange.earlier:
            # It answered, but only when tried again: a blip, which needs a look but pages nobody.
            first = exchange.earlier[0]
            warn(
                f"{exchange.request_line}: passed only on attempt {exchange.attempts}; attempt 1: {first.outcome()}",
                failure_mode=_mode_of(first, None),
            )
        return
    mode = _mode_of(exchange, failure_mode)
    if exchange.error is not None:
        parts = [f"no HTTP response ({exchange.error})"]
        if exchange.reused_failure:
            parts.append("not retried: an earlier probe of this host already failed this way")
    else:
        reading = read_failure(exchange)
        parts = [problems[0], reading.meaning if reading else "", _edge_trace(exchange)]
    if exchange.earlier:
        parts.append(f"confirmed on attempt {exchange.attempts} (attempt 1: {exchange.earlier[0].outcome()})")
    raise CheckFailed(mode, "; ".join(p for p in parts if p), request_line=exchange.request_line)


def _mode_of(exchange: Exchange, failure_mode: Mode | None) -> Mode:
    """The mode a failed exchange names: a lower layer's, when it proves one the check reads (see
    `match_response`), else `failure_mode` or the check's own."""
    info = current_check.get()
    reads = info.reads if info is not None else ALL_READINGS
    reading = read_failure(exchange)
    if reading is not None and (
        # The runner's own network failing is never the check's finding, whatever the check reads.
        reading.failure_mode == Mode.RUNNER_OFFLINE
        or (Reading.NO_ANSWER if reading.transport else Reading.EDGE_ANSWER) in reads
    ):
        return reading.failure_mode
    return failure_mode or _running_check().detects


def _edge_trace(exchange: Exchange) -> str:
    server, ray = exchange.header("server"), exchange.header("cf-ray")
    bits = [f"server: {server}" if server else "", f"cf-ray: {ray}" if ray else ""]
    return ", ".join(b for b in bits if b)


@dataclass(frozen=True)
class Caution:
    """A warning: chat works, but something needs attention soon. The check passes; the run is degraded."""

    failure_mode: Mode
    message: str
    # About evidence that ended before this run began (errors logged before it, now gone): what a
    # run right after an outage healed still sees.
    recovered: bool = False


@dataclass
class Observations:
    """What the running check recorded besides its outcome."""

    warnings: list[Caution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # context for the reader; they change no status
    attempts: list[str] = field(default_factory=list)  # every attempt of a request tried again


_observations: contextvars.ContextVar[Observations | None] = contextvars.ContextVar(
    "synthetics_observations", default=None
)


def warn(message: str, *, failure_mode: Mode | None = None, recovered: bool = False) -> None:
    """Records a warning on the running check: it passes, and the run is `degraded` by it.

    The warning names `failure_mode` (a cause read in the evidence) or the check's declared mode;
    `recovered` when it is only about evidence that ended before the run began.
    """
    observed = _observations.get()
    if observed is not None:
        mode = failure_mode or _running_check().detects
        observed.warnings.append(Caution(mode, bounded(message), recovered))


def note(message: str) -> None:
    """Records context on the running check for the verdict and the report; it changes no status."""
    observed = _observations.get()
    if observed is not None:
        observed.notes.append(bounded(message))


def record_attempts(exchange: Exchange) -> None:
    observed = _observations.get()
    if observed is not None:
        observed.attempts.extend(line for line in exchange.attempt_lines() if line not in observed.attempts)


def observing() -> tuple[Observations, contextvars.Token[Observations | None]]:
    observed = Observations()
    return observed, _observations.set(observed)


def stop_observing(token: contextvars.Token[Observations | None]) -> None:
    _observations.reset(token)
