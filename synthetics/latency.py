"""Latency of the client API over a small, bounded sample."""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.exchange import Exchange
from synthetics.probe import Prober

__all__ = ["LATENCY_SAMPLES", "Latency", "sample_latency"]

LATENCY_SAMPLES = 5


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


def sample_latency(prober: Prober, threshold_ms: float, warning_ms: float, versions: Exchange) -> Latency:
    """A few samples of /versions, after its first request (`versions`) answered; none when it did not."""
    if versions.error is not None or versions.status != 200:
        return Latency((), threshold_ms, warning_ms, versions)
    samples: list[float] = []
    retried: list[Exchange] = []
    # The first request of the sampling thread opens its connection (TCP, TLS, HTTP/2): it times the
    # handshake under whatever load the runner has, not the API, and is not a sample.
    for number in range(LATENCY_SAMPLES + 1):
        exchange = prober.fetch("/_matrix/client/versions")
        if exchange.error is not None or exchange.status != 200:
            return Latency(tuple(samples), threshold_ms, warning_ms, exchange, tuple(retried))
        if exchange.earlier:
            retried.append(exchange)
        if number == 0:
            continue
        samples.append(exchange.elapsed_s * 1000)
        # With so few samples the p95 is the slowest one: once it is over, more samples change nothing.
        if samples[-1] > threshold_ms:
            break
    return Latency(tuple(samples), threshold_ms, warning_ms, None, tuple(retried))
