"""Synapse's own metrics, read from its metrics listener: two scrapes a short interval apart, and what
they say about the causes the outside only sees as symptoms (a pool out of connections, a stalled
event processor, descriptors running out, a blocked reactor, a backed-up federation queue).

Pure code over the parsed samples (prometheus_client's parser), so every reading is tested without
a network. Counters and histograms are read as the change between the two scrapes, as Prometheus's
`rate()` does, never as totals since Synapse started (a day of health would hide a minute of pain).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from prometheus_client.parser import text_string_to_metric_families

from synthetics.exchange import Exchange

__all__ = [
    "FAMILIES",
    "MIN_TRANSACTIONS",
    "SCRAPE_TRANSIENT_STATUSES",
    "ReactorTicks",
    "Sample",
    "Scrape",
    "SynapseMetrics",
    "TransactionKind",
    "parse_scrape",
]

# The families read (names as the parser gives them: a counter family without `_total`); every
# other sample is dropped at once, so a large page costs no memory past the parse.
FAMILIES = frozenset(
    {
        "synapse_storage_schedule_time",  # histogram: waiting for a database connection
        "synapse_storage_transaction_time_sum",  # counters per `desc`: transaction time...
        "synapse_storage_transaction_time_count",  # ...and transactions
        "synapse_threadpool_working_threads",  # gauges per `name`: busy database connections...
        "synapse_threadpool_max_threads",  # ...of the pool's cp_max
        "synapse_event_persisted_position",
        "synapse_event_processing_positions",
        "synapse_federation_transaction_queue_pending_pdus",  # gauge: PDUs waiting to go to other servers
        "process_open_fds",
        "process_max_fds",
        "synapse_build_info",
        "python_twisted_reactor_tick_time",  # histogram: the time between two polls of the reactor
        "python_twisted_reactor_last_seen",  # gauge: seconds since the reactor last polled
    }
)
# Synapse's metrics listener is prometheus_client's own threaded server, reading Synapse's gauges
# while the reactor thread changes them: now and then a scrape answers 500 ("dictionary changed size
# during iteration", element-hq/synapse#18764, #19961) and the next one does not, as Prometheus sees
# one failed scrape. Such a 500 is confirmed by a second scrape before it counts (synthetics.probe).
SCRAPE_TRANSIENT_STATUSES = frozenset({500})
# How many transactions of a kind the interval must hold for their average to say the kind is slow.
MIN_TRANSACTIONS = 3
# Synapse's database connection pool, as its threadpool metrics name it.
DATABASE_POOL = "database-master"


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str:
        return dict(self.labels).get(key, "")


@dataclass(frozen=True)
class Scrape:
    """One GET of the metrics listener: the exchange (its body dropped once read), when the answer
    came (wall clock), the samples of FAMILIES, and why it cannot be read, when it cannot."""

    exchange: Exchange
    at: float
    samples: tuple[Sample, ...] = ()
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def values(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name]

    def total(self, name: str) -> float | None:
        """The sum of a series over its labels (None when Synapse does not export it)."""
        found = self.values(name)
        return sum(s.value for s in found) if found else None

    def by_label(self, name: str, key: str) -> dict[str, float]:
        totals: dict[str, float] = {}
        for sample in self.values(name):
            totals[sample.label(key)] = totals.get(sample.label(key), 0.0) + sample.value
        return totals


def parse_scrape(exchange: Exchange, at: float | None = None) -> Scrape:
    """The scrape an exchange holds: its samples, or the problem (no answer, not 200, unparsable)."""
    at = time.time() if at is None else at
    kept = replace(exchange, body=b"")
    problem = _problem_of(exchange)
    if problem is not None:
        if exchange.earlier:
            problem += f" (confirmed on attempt {exchange.attempts}; attempt 1: {exchange.earlier[0].outcome()})"
        return Scrape(kept, at, problem=problem)
    try:
        samples = tuple(_wanted(text_string_to_metric_families(exchange.body.decode("utf-8", "replace"))))
    except (ValueError, TypeError, IndexError, KeyError) as error:
        return Scrape(kept, at, problem=f"answered 200 with a body that is not Prometheus text ({error})")
    if not samples:
        return Scrape(kept, at, problem="answered 200 with none of Synapse's metrics: is this Synapse's listener?")
    return Scrape(kept, at, samples)


def _problem_of(exchange: Exchange) -> str | None:
    if exchange.error is not None:
        return f"no HTTP response ({exchange.error})"
    if exchange.status != 200:
        return f"answered HTTP {exchange.status}, expected 200 with Prometheus text"
    return None


def _wanted(families: Iterable[object]) -> Iterable[Sample]:
    for family in families:
        name = getattr(family, "name", "")
        if name not in FAMILIES:
            continue
        for sample in getattr(family, "samples", ()):
            yield Sample(sample.name, tuple(sorted(sample.labels.items())), float(sample.value))


@dataclass(frozen=True)
class TransactionKind:
    desc: str  # Synapse's name for the transaction
    count: float  # how many finished in the interval
    average_ms: float


@dataclass(frozen=True)
class SynapseMetrics:
    """Two scrapes of the listener, `second` taken about `interval_s` after `first` (None when the
    first did not answer: there is nothing to compare with)."""

    url: str
    first: Scrape
    second: Scrape | None

    @property
    def scrapes(self) -> tuple[Scrape, ...]:
        return (self.first,) if self.second is None else (self.first, self.second)

    @property
    def problem(self) -> str | None:
        """Why the listener cannot be read: the first scrape's problem, else the second's."""
        if not self.first.ok:
            return self.first.problem
        if self.second is None:
            return "the second scrape was not made"
        return self.second.problem

    @property
    def interval_s(self) -> float:
        return self.second.at - self.first.at if self.second is not None else 0.0

    @property
    def latest(self) -> Scrape:
        return self.second if self.second is not None and self.second.ok else self.first

    def _change(self, name: str) -> float | None:
        """How much a counter (or a histogram's _sum/_count) grew between the scrapes."""
        if self.second is None:
            return None
        before, after = self.first.total(name), self.second.total(name)
        if before is None or after is None:
            return None
        return max(0.0, after - before)  # a restart in between resets counters: no growth seen

    def pool_wait(self) -> tuple[float, float] | None:
        """(average wait for a database connection per transaction in ms, transactions scheduled)."""
        waited = self._change("synapse_storage_schedule_time_sum")
        count = self._change("synapse_storage_schedule_time_count")
        if waited is None or count is None:
            return None
        return (waited / count * 1000 if count else 0.0), count

    def pool_busy(self) -> tuple[float, float] | None:
        """(connections busy, the pool's size) at the latest scrape; None when not exported."""
        return _pool_of(self.latest)

    def pool_full_throughout(self) -> bool:
        """Every connection of the pool busy at both scrapes."""
        if self.second is None:
            return False
        pools = (_pool_of(self.first), _pool_of(self.second))
        return all(pool is not None and pool[0] >= pool[1] for pool in pools)

    def transaction_kinds(self) -> list[TransactionKind]:
        """Each kind of transaction that finished in the interval, slowest on average first."""
        if self.second is None:
            return []
        sums = _change_by(self.first, self.second, "synapse_storage_transaction_time_sum_total", "desc")
        counts = _change_by(self.first, self.second, "synapse_storage_transaction_time_count_total", "desc")
        kinds = [
            TransactionKind(desc, count, sums.get(desc, 0.0) / count * 1000) for desc, count in counts.items() if count
        ]
        return sorted(kinds, key=lambda k: (-k.average_ms, k.desc))

    def processing_lags(self) -> list[tuple[str, float, bool]]:
        """(event processor, events it is behind the persisted stream, stalled) for each processor:
        stalled when it was behind at both scrapes and did not move in between."""
        scrape = self.latest
        persisted = scrape.total("synapse_event_persisted_position")
        if persisted is None:
            return []
        before_persisted = self.first.total("synapse_event_persisted_position")
        before = self.first.by_label("synapse_event_processing_positions", "name")
        lags = []
        for name, position in sorted(scrape.by_label("synapse_event_processing_positions", "name").items()):
            behind = max(0.0, persisted - position)
            earlier = before.get(name)
            stalled = (
                scrape is not self.first
                and behind > 0
                and earlier is not None
                and before_persisted is not None
                and before_persisted > earlier
                and position <= earlier
            )
            lags.append((name, behind, stalled))
        return lags

    def file_descriptors(self) -> tuple[float, float] | None:
        """(open file descriptors, the process's limit) at the latest scrape."""
        scrape = self.latest
        opened, limit = scrape.total("process_open_fds"), scrape.total("process_max_fds")
        return None if opened is None or limit is None else (opened, limit)

    def version(self) -> str | None:
        """The running version as synapse_build_info labels it, e.g. '1.163.2' (a build suffix dropped)."""
        for sample in self.latest.values("synapse_build_info"):
            label = sample.label("version")
            if label:
                return label.split()[0]
        return None

    def reactor_ticks(self) -> ReactorTicks | None:
        """Synapse's reactor ticks that ended in the interval; None when not exported."""
        took = self._change("python_twisted_reactor_tick_time_sum")
        ticks = self._change("python_twisted_reactor_tick_time_count")
        if took is None or ticks is None:
            return None
        return ReactorTicks(ticks, took, self.interval_s, self.latest.total("python_twisted_reactor_last_seen"))

    def pending_pdus(self) -> float | None:
        """PDUs waiting in the outbound federation queues (every destination's) at the latest scrape,
        the transactions in flight included; None when not exported."""
        return self.latest.total("synapse_federation_transaction_queue_pending_pdus")


def _change_by(first: Scrape, second: Scrape, name: str, key: str) -> Mapping[str, float]:
    before = first.by_label(name, key)
    return {label: max(0.0, value - before.get(label, 0.0)) for label, value in second.by_label(name, key).items()}


def _pool_of(scrape: Scrape) -> tuple[float, float] | None:
    """(connections busy, the pool's size) of Synapse's database pool in one scrape; None when not exported."""
    busy = scrape.by_label("synapse_threadpool_working_threads", "name").get(DATABASE_POOL)
    size = scrape.by_label("synapse_threadpool_max_threads", "name").get(DATABASE_POOL)
    return None if busy is None or size is None else (busy, size)


@dataclass(frozen=True)
class ReactorTicks:
    """Synapse's reactor (its event loop) over the interval. A tick is the time between two polls,
    spent running callbacks: every request waiting for the reactor waits out the tick it is in.

    Two measures, because an average over many idle ticks hides a few long ones: a reactor blocked
    300 ms of every 400 ms among the dozen idle ticks a second an idle Synapse makes averages under
    100 ms a tick (Grafana's measure), yet spent three quarters of the interval in ticks. The busy
    share sees that robustly; the average sees ticks that are all long."""

    count: float  # ticks that ended in the interval
    seconds: float  # their time together
    interval_s: float
    last_seen_s: float | None  # since the reactor last polled, at the latest scrape

    @property
    def average_ms(self) -> float:
        return self.seconds / self.count * 1000 if self.count else 0.0

    @property
    def busy_percent(self) -> float:
        """The share of the interval spent in ticks; a tick that began before the first scrape counts
        whole when it ends in the interval, so the share is capped at all of it."""
        return min(100.0, self.seconds / self.interval_s * 100) if self.interval_s > 0 else 0.0
