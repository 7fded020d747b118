"""Assertions on Synapse's own metrics: the causes inside that the outside checks see as symptoms.

Each message names what was measured, over which interval, the threshold (its key in `thresholds`)
and the outside symptom it explains, so the person paged reads cause and symptom together.
"""

from __future__ import annotations

from typing import TypeVar

import pytest

from synthetics.must._core import fail, note, record_attempts
from synthetics.synapse_metrics import MIN_TRANSACTIONS, SynapseMetrics

__all__ = [
    "keep_event_processing_current",
    "keep_federation_queue_short",
    "keep_file_descriptors",
    "keep_reactor_ticking",
    "keep_transactions_fast",
    "read_the_metrics",
    "run_the_expected_version",
    "wait_little_for_connections",
]

T = TypeVar("T")


def _exported(value: T | None, metrics: SynapseMetrics, what: str) -> T:
    """The reading, or a skip: a Synapse that does not export it (an older version) is no finding."""
    if value is None:
        pytest.skip(f"{metrics.url} exports no {what}: nothing to judge")
    return value


def _over(metrics: SynapseMetrics) -> str:
    return f"in the {metrics.interval_s:.1f} s between two scrapes of {metrics.url}"


def read_the_metrics(metrics: SynapseMetrics) -> None:
    __tracebackhide__ = True
    for scrape in metrics.scrapes:
        if scrape.exchange.earlier:
            record_attempts(scrape.exchange)
            if scrape.ok:
                # Synapse's exporter, not Synapse: its thread races the reactor (SCRAPE_TRANSIENT_STATUSES).
                note(
                    f"GET {metrics.url}: answered on attempt {scrape.exchange.attempts}; attempt 1: "
                    f"{scrape.exchange.earlier[0].outcome()} (a scrape Synapse's metrics exporter fails now and then)"
                )
    if metrics.problem is not None:
        raise fail(
            f"GET {metrics.url}: {metrics.problem}: Synapse's metrics listener (homeserver.metrics_url) does not "
            "answer, so none of Synapse's own measurements can be read (Synapse is down, or the listener is not "
            "where the target says)"
        )


def wait_little_for_connections(metrics: SynapseMetrics, threshold_ms: float) -> None:
    """Transactions get a database connection at once: Synapse's pool (cp_max) is not exhausted."""
    __tracebackhide__ = True
    average_ms, scheduled = _exported(metrics.pool_wait(), metrics, "synapse_storage_schedule_time")
    busy = metrics.pool_busy()
    pool = f"; {busy[0]:.0f} of its {busy[1]:.0f} connections busy" if busy is not None else ""
    explains = (
        "connection pool exhausted: this is why database-backed requests (a room alias lookup, a message send) "
        "are slow, time out or answer 500 while /versions answers"
    )
    if scheduled == 0 and metrics.pool_full_throughout():
        raise fail(
            f"no transaction got a database connection {_over(metrics)}, every connection busy{pool}: {explains}"
        )
    if average_ms > threshold_ms:
        raise fail(
            f"transactions waited {average_ms:.0f} ms on average for a database connection ({scheduled:.0f} "
            f"scheduled {_over(metrics)}{pool}), over the {threshold_ms:g} ms of thresholds.db_pool_wait_ms: {explains}"
        )
    note(f"database connection wait: {average_ms:.1f} ms per transaction over {scheduled:.0f}{pool}")


def keep_transactions_fast(metrics: SynapseMetrics, threshold_ms: float) -> None:
    """No kind of database transaction is slow on average over the interval."""
    __tracebackhide__ = True
    kinds = metrics.transaction_kinds()
    # One slow transaction (a reconnect, a cold cache) is no average: a kind counts from a few on.
    slow = [kind for kind in kinds if kind.average_ms > threshold_ms and kind.count >= MIN_TRANSACTIONS]
    if slow:
        named = ", ".join(f"{k.desc} averaged {k.average_ms:.0f} ms over {k.count:.0f}" for k in slow[:3])
        more = f" and {len(slow) - 3} more kinds" if len(slow) > 3 else ""
        raise fail(
            f"database transactions are slow {_over(metrics)}: {named}{more}, over the {threshold_ms:g} ms of "
            f"thresholds.db_transaction_ms (kinds seen {MIN_TRANSACTIONS} times or more): this explains slow "
            "database-backed requests and journeys (the runbook's slow performance)"
        )
    if kinds:
        note(f"slowest transaction: {kinds[0].desc} at {kinds[0].average_ms:.1f} ms over {kinds[0].count:.0f}")


def keep_event_processing_current(metrics: SynapseMetrics, threshold_events: float) -> None:
    """Every event processor (federation sender, push, user directory...) keeps up with persisted events."""
    __tracebackhide__ = True
    lags = _exported(metrics.processing_lags() or None, metrics, "synapse_event_processing_positions")
    behind = [(name, lag, stalled) for name, lag, stalled in lags if stalled or lag > threshold_events]
    if behind:
        named = ", ".join(
            f"{name} is {lag:.0f} events behind" + (" and did not move" if stalled else "")
            for name, lag, stalled in behind
        )
        raise fail(
            f"event processing lags the persisted events {_over(metrics)}: {named} (thresholds.event_lag_events: "
            f"{threshold_events:g}; a processor behind at both scrapes that does not move is stalled): this explains "
            "messages that are stored but reach other servers, pushes and the user directory late or never"
        )


def keep_file_descriptors(metrics: SynapseMetrics, threshold_percent: float) -> None:
    """Synapse has file descriptors to spare under its limit."""
    __tracebackhide__ = True
    opened, limit = _exported(metrics.file_descriptors(), metrics, "process_open_fds and process_max_fds")
    used = opened / limit * 100 if limit else 100.0
    if used > threshold_percent:
        raise fail(
            f"Synapse has {opened:.0f} of its {limit:.0f} file descriptors open ({used:.0f} %), over the "
            f"{threshold_percent:g} % of thresholds.open_fds_percent: once they run out it refuses connections and "
            "cannot open database connections or files, which the outside sees as refused connections and 500s"
        )


def run_the_expected_version(metrics: SynapseMetrics, expected: str) -> None:
    """The Synapse that runs is the version the target expects (what the last deploy rolled out)."""
    __tracebackhide__ = True
    running = _exported(metrics.version(), metrics, "synapse_build_info")
    if running != expected:
        raise fail(
            f"Synapse {running} runs (synapse_build_info at {metrics.url}), not the {expected} of "
            "homeserver.synapse_version: the deployment did not roll out, or rolled back"
        )


def keep_reactor_ticking(metrics: SynapseMetrics, threshold_ms: float, threshold_busy_percent: float) -> None:
    """Synapse's event loop is not blocked: its reactor ticks, each tick is short, and it spends most of
    the time waiting for work (see ReactorTicks for why both the average and the share)."""
    __tracebackhide__ = True
    ticks = _exported(metrics.reactor_ticks(), metrics, "python_twisted_reactor_tick_time")
    explains = (
        "Synapse's reactor (its event loop) is blocked: every request waits behind it, which explains every "
        "endpoint answering slowly or timing out"
    )
    if ticks.count == 0:
        seen = f" (it last polled {ticks.last_seen_s:.1f} s ago)" if ticks.last_seen_s is not None else ""
        raise fail(f"the reactor did not tick once {_over(metrics)}{seen}: {explains}")
    measured = (
        f"{ticks.count:.0f} reactor ticks averaged {ticks.average_ms:.1f} ms and took {ticks.seconds:.1f} s, "
        f"{ticks.busy_percent:.0f} % of the interval, {_over(metrics)}"
    )
    over = []
    if ticks.average_ms > threshold_ms:
        over.append(f"the {threshold_ms:g} ms of thresholds.reactor_tick_ms")
    if ticks.busy_percent > threshold_busy_percent:
        over.append(f"the {threshold_busy_percent:g} % of thresholds.reactor_busy_percent")
    if over:
        raise fail(f"{measured}, over {' and '.join(over)}: {explains}")
    note(measured)


def keep_federation_queue_short(metrics: SynapseMetrics, threshold_pdus: float) -> None:
    """Outbound federation keeps up: few PDUs wait to be sent to other servers."""
    __tracebackhide__ = True
    pending = _exported(metrics.pending_pdus(), metrics, "synapse_federation_transaction_queue_pending_pdus")
    if pending > threshold_pdus:
        raise fail(
            f"{pending:.0f} PDUs wait in Synapse's outbound federation queue ({metrics.url}), over the "
            f"{threshold_pdus:g} of thresholds.federation_pending_pdus: outbound federation is backed up, so other "
            "servers get this server's events late or not at all (which federation testers, looking inbound, "
            "cannot see)"
        )
