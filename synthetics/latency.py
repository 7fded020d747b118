"""Latency of the client API over a small, bounded sample."""

from __future__ import annotations

import time
from dataclasses import dataclass

from synthetics.exchange import Exchange
from synthetics.probe import Prober

__all__ = ["LATENCY_SAMPLES", "Latency", "sample_latency"]

# Enough that the p95 (nearest rank: the 19th of 20) lets one outlier through, a GC pause or a cold
# cache after a restart, while a slow origin is over the line on every sample.
LATENCY_SAMPLES = 20


@dataclass(frozen=True)
class Latency:
    samples_ms: tuple[float, ...]
    threshold_ms: float  # over it, chat is too slow: an outage
    warning_ms: float  # over it (and under the threshold), a warning
    first_failure: Exchange | None
    retried: tuple[Exchange, ...] = ()  # samples that answered only when tried again

    @property
    def p50_ms(self) -> float:
        return _percentile(self.samples_ms, 50)

    @property
    def p95_ms(self) -> float:
        return _percentile(self.samples_ms, 95)


def _percentile(values: tuple[float, ...], percent: int) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-percent * len(ordered) // 100))  # nearest rank
    return ordered[rank - 1]


def sample_latency(
    prober: Prober, threshold_ms: float, warning_ms: float, versions: Exchange, budget_s: float
) -> Latency:
    """Samples of /versions, after its first request (`versions`) answered (none when it did not):
    LATENCY_SAMPLES of them, or as many as `budget_s` (one network deadline, what the run's plan
    allows a probe) leaves time for, at least one."""
    if versions.error is not None or versions.status != 200:
        return Latency((), threshold_ms, warning_ms, versions)
    samples: list[float] = []
    retried: list[Exchange] = []
    ends = time.monotonic() + budget_s
    over = 0
    for number in range(LATENCY_SAMPLES + 1):
        exchange = prober.fetch("/_matrix/client/versions")
        if exchange.error is not None or exchange.status != 200:
            return Latency(tuple(samples), threshold_ms, warning_ms, exchange, tuple(retried))
        if exchange.earlier:
            retried.append(exchange)
        out_of_time = time.monotonic() >= ends
        if number == 0 and not out_of_time:
            # The sampling thread's first request opens its connection (TCP, TLS, HTTP/2): it times a
            # handshake under whatever load the runner has, not the API. Unless it used up the time.
            continue
        samples.append(exchange.elapsed_s * 1000)
        over += samples[-1] > threshold_ms
        # Two samples over the threshold put the p95 of any LATENCY_SAMPLES over it: decided.
        if over >= 2 or out_of_time:
            break
    return Latency(tuple(samples), threshold_ms, warning_ms, None, tuple(retried))
