"""Synapse's own metrics: the causes inside (a pool out of connections, slow transactions, stalled
event processing, descriptors running out, the wrong version, a blocked reactor, a backed-up
federation queue) that the outside checks see as their symptoms. Read from the metrics listener, which
only a run from inside reaches (`homeserver.metrics_url`); skipped without it."""

import pytest

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Severity, check
from synthetics.layers import Layer
from synthetics.synapse_metrics import SynapseMetrics
from synthetics.target import Target


@check(
    # Not a measurement: a listener that does not answer is the admin side's account of the origin,
    # which /versions answering through the edge contradicts (a wrong metrics_url pages nobody first).
    layer=Layer.ADMIN,
    severity=Severity.MINOR,
    detects=Mode.ORIGIN_DOWN,
    title="Synapse's metrics listener answers with its metrics",
    # With the origin down this is no finding of its own (one root cause, not one per check); the other
    # metrics checks need only the listener (the synapse-metrics gate), so an edge outage hides none.
    needs=("origin",),
    proven_by=("metrics-listener-down",),
)
def test_listener_answers(synapse_metrics: SynapseMetrics) -> None:
    must.read_the_metrics(synapse_metrics)


@check(
    layer=Layer.METRICS,
    severity=Severity.CRITICAL,
    detects=Mode.DATABASE_ERRORS,
    title="Transactions get a database connection without waiting (the connection pool is not exhausted)",
    needs=("synapse-metrics",),
    proven_by=("db-pool-saturated", "db-pool-exhausted"),
)
def test_pool_wait(synapse_metrics: SynapseMetrics, target: Target) -> None:
    must.wait_little_for_connections(synapse_metrics, target.thresholds.db_pool_wait_ms)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="No kind of database transaction is slow",
    needs=("synapse-metrics",),
    proven_by=("db-pool-saturated", "db-pool-exhausted"),
)
def test_transaction_time(synapse_metrics: SynapseMetrics, target: Target) -> None:
    must.keep_transactions_fast(synapse_metrics, target.thresholds.db_transaction_ms)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="Every event processor keeps up with the persisted events",
    needs=("synapse-metrics",),
    proven_by=("event-processing-stalled",),
)
def test_event_processing_lag(synapse_metrics: SynapseMetrics, target: Target) -> None:
    must.keep_event_processing_current(synapse_metrics, target.thresholds.event_lag_events)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="Synapse has file descriptors to spare under its limit",
    needs=("synapse-metrics",),
    proven_by=("synapse-fds-near-limit",),
)
def test_file_descriptors(synapse_metrics: SynapseMetrics, target: Target) -> None:
    must.keep_file_descriptors(synapse_metrics, target.thresholds.open_fds_percent)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.DEPLOYMENT_UNSTABLE,
    title="The Synapse version the target expects is the one running",
    needs=("synapse-metrics",),
    proven_by=("synapse-version-unexpected",),
)
def test_version_expected(synapse_metrics: SynapseMetrics, target: Target) -> None:
    assert target.homeserver is not None  # the synapse_metrics fixture skips a target without one
    if target.homeserver.synapse_version is None:
        pytest.skip(target.why_absent("homeserver.synapse_version"))
    must.run_the_expected_version(synapse_metrics, target.homeserver.synapse_version)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.SLOW_PERFORMANCE,
    title="Synapse's reactor ticks, each tick short",
    needs=("synapse-metrics",),
    proven_by=("reactor-blocked",),
)
def test_reactor_tick(synapse_metrics: SynapseMetrics, target: Target) -> None:
    thresholds = target.thresholds
    must.keep_reactor_ticking(synapse_metrics, thresholds.reactor_tick_ms, thresholds.reactor_busy_percent)


@check(
    layer=Layer.METRICS,
    severity=Severity.NORMAL,
    detects=Mode.FEDERATION_BROKEN,
    title="Few PDUs wait in the outbound federation queue",
    needs=("synapse-metrics",),
    proven_by=("federation-queue-backed-up",),
)
def test_federation_queue(synapse_metrics: SynapseMetrics, target: Target) -> None:
    must.keep_federation_queue_short(synapse_metrics, target.thresholds.federation_pending_pdus)
