"""Failing a check: the failure mode, what was expected and what was seen; and warnings."""

from __future__ import annotations

import contextvars

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
    if exchange.error is None and not problems:
        return
    info = current_check.get()
    reads = info.reads if info is not None else ALL_READINGS
    reading = read_failure(exchange)
    if reading is not None and (
        # The runner's own network failing is never the check's finding, whatever the check reads.
        reading.failure_mode == Mode.RUNNER_OFFLINE
        or (Reading.NO_ANSWER if reading.transport else Reading.EDGE_ANSWER) in reads
    ):
        mode = reading.failure_mode
    else:
        mode = failure_mode or _running_check().detects
    if exchange.error is not None:
        parts = [f"no HTTP response ({exchange.error})"]
        if exchange.reused_failure:
            parts.append("not retried: an earlier probe of this host already failed this way")
    else:
        parts = [problems[0], reading.meaning if reading else "", _edge_trace(exchange)]
    raise CheckFailed(mode, "; ".join(p for p in parts if p), request_line=exchange.request_line)


def _edge_trace(exchange: Exchange) -> str:
    server, ray = exchange.header("server"), exchange.header("cf-ray")
    bits = [f"server: {server}" if server else "", f"cf-ray: {ray}" if ray else ""]
    return ", ".join(b for b in bits if b)


_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("synthetics_warnings", default=None)


def warn(message: str) -> None:
    """Records a warning on the running check (in the verdict and the report); the check still passes."""
    collected = _warnings.get()
    if collected is not None:
        collected.append(bounded(message))


def collecting_warnings() -> tuple[list[str], contextvars.Token[list[str] | None]]:
    collected: list[str] = []
    return collected, _warnings.set(collected)


def stop_collecting_warnings(token: contextvars.Token[list[str] | None]) -> None:
    _warnings.reset(token)
