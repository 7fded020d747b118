"""Failing a check: the failure mode, what was expected and what was seen; and warnings."""

from __future__ import annotations

import contextvars

from synthetics.check import current_check
from synthetics.diagnose import read_failure
from synthetics.exchange import Exchange
from synthetics.match import Matcher


class CheckFailed(AssertionError):
    """A check found its fault. The message starts with the failure mode, for people and for Allure."""

    def __init__(self, failure_mode: str, message: str) -> None:
        super().__init__(f"[{failure_mode}] {message}")
        self.failure_mode = failure_mode
        self.detail = message


def _declared_mode() -> str:
    info = current_check.get()
    return info.detects if info else "origin-down"


def fail(message: str, *, failure_mode: str | None = None) -> CheckFailed:
    """Builds the failure for `raise`; the failure mode defaults to the one the check declared."""
    return CheckFailed(failure_mode or _declared_mode(), message)


def match_response(exchange: Exchange, *matchers: Matcher, failure_mode: str | None = None) -> None:
    """Fails unless every matcher is satisfied.

    When the exchange itself proves a lower-layer fault (a Cloudflare 52x, a challenge), that fault
    is named, since it is the cause and the check's own expectation only its symptom. With no HTTP
    response at all, an explicit `failure_mode` names what the missing connection means for this
    check (e.g. federation-broken for a refused port 8448); else the transport error is read.
    """
    __tracebackhide__ = True
    problems = [problem for matcher in matchers if (problem := matcher(exchange))]
    if exchange.error is None and not problems:
        return
    reading = read_failure(exchange)
    if reading is not None and not (reading.transport and failure_mode):
        mode = reading.failure_mode
    else:
        mode = failure_mode or _declared_mode()
    if exchange.error is not None:
        parts = [f"{exchange.request_line}: no HTTP response ({exchange.error})"]
        if exchange.reused_failure:
            parts.append("not retried: an earlier probe of this host already failed this way")
    else:
        parts = [f"{exchange.request_line}: {problems[0]}", reading.meaning if reading else "", _edge_trace(exchange)]
    raise CheckFailed(mode, "; ".join(p for p in parts if p))


def _edge_trace(exchange: Exchange) -> str:
    server, ray = exchange.header("server"), exchange.header("cf-ray")
    bits = [f"server: {server}" if server else "", f"cf-ray: {ray}" if ray else ""]
    return ", ".join(b for b in bits if b)


_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("synthetics_warnings", default=None)


def warn(message: str) -> None:
    """Records a warning on the running check (in the verdict and the report); the check still passes."""
    collected = _warnings.get()
    if collected is not None:
        collected.append(message)


def collecting_warnings() -> tuple[list[str], contextvars.Token[list[str] | None]]:
    collected: list[str] = []
    return collected, _warnings.set(collected)


def stop_collecting_warnings(token: contextvars.Token[list[str] | None]) -> None:
    _warnings.reset(token)
