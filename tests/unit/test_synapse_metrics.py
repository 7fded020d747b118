"""Reading Synapse's metrics (pure code): the change between two scrapes, never the totals."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Severity, current_check
from synthetics.exchange import Exchange, ProbeError
from synthetics.layers import Layer
from synthetics.synapse_metrics import SynapseMetrics, parse_scrape

URL = "http://10.0.1.5:9000/_synapse/metrics"


def page(
    *,
    wait_sum: float,
    wait_count: float,
    busy: float = 0,
    persisted: float = 9,
    sender: float = 9,
    txn: tuple[float, float] = (0.05, 10),
    fds: float = 30,
) -> bytes:
    """A metrics page as Synapse's listener serves it, written by prometheus_client (never by hand)."""
    families: list[Metric] = []

    def family(metric: GaugeMetricFamily | CounterMetricFamily, *samples: tuple[list[str], float]) -> None:
        for labels, value in samples:
            metric.add_metric(labels, value)
        families.append(metric)

    schedule = HistogramMetricFamily("synapse_storage_schedule_time", "sec", labels=["server_name"])
    schedule.add_metric(["hs"], buckets=[("+Inf", wait_count)], sum_value=wait_sum)
    families.append(schedule)
    family(CounterMetricFamily("synapse_storage_transaction_time_count", "", labels=["desc", "server_name"]),
           (["get_users", "hs"], txn[1]))  # fmt: skip
    family(CounterMetricFamily("synapse_storage_transaction_time_sum", "", labels=["desc", "server_name"]),
           (["get_users", "hs"], txn[0]))  # fmt: skip
    family(GaugeMetricFamily("synapse_threadpool_working_threads", "", labels=["name", "server_name"]),
           (["database-master", "hs"], busy), (["default", "hs"], 0.0))  # fmt: skip
    family(GaugeMetricFamily("synapse_threadpool_max_threads", "", labels=["name", "server_name"]),
           (["database-master", "hs"], 5.0))  # fmt: skip
    family(GaugeMetricFamily("synapse_event_persisted_position", "", labels=["server_name"]), (["hs"], persisted))
    family(GaugeMetricFamily("synapse_event_processing_positions", "", labels=["name", "server_name"]),
           (["federation_sender", "hs"], sender))  # fmt: skip
    family(GaugeMetricFamily("process_open_fds", "", labels=[]), ([], fds))
    family(GaugeMetricFamily("process_max_fds", "", labels=[]), ([], 100.0))
    family(GaugeMetricFamily("synapse_build_info", "", labels=["pythonversion", "version"]),
           (["CPython 3.11.7", "1.163.2 (b=main,766632b)"], 1.0))  # fmt: skip
    family(GaugeMetricFamily("synapse_unrelated", "", labels=[]), ([], 1.0))
    return exposition(families)


def exposition(families: list[Metric]) -> bytes:
    """The text exposition format of these families, by prometheus_client."""

    class Page(Collector):
        def collect(self) -> Iterable[Metric]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Page())
    return generate_latest(registry)


def metrics(first: bytes, second: bytes) -> SynapseMetrics:
    a, b = (
        parse_scrape(Exchange("GET", URL, status=200, body=first), at=100.0),
        parse_scrape(Exchange("GET", URL, status=200, body=second), at=102.0),
    )
    return SynapseMetrics(URL, a, b)


def declared(mode: Mode = Mode.SLOW_PERFORMANCE) -> None:
    """As inside a check that declares `mode` (what a must helper's failure names)."""
    current_check.set(CheckInfo("synapse_metrics.t", "t", Layer.METRICS, Severity.NORMAL, mode))


def test_the_readings_are_the_change_between_the_scrapes() -> None:
    declared()
    # A day of fast transactions (1000 at 1 ms) must not hide 10 that waited 300 ms each.
    read = metrics(
        page(wait_sum=1.0, wait_count=1000, txn=(1.0, 1000)),
        page(wait_sum=4.0, wait_count=1010, busy=5, txn=(6.0, 1010), sender=7, persisted=12),
    )
    assert read.problem is None and read.interval_s == 2.0
    assert read.pool_wait() == pytest.approx((300.0, 10))
    assert read.pool_busy() == (5.0, 5.0)
    assert [(k.desc, k.count, round(k.average_ms)) for k in read.transaction_kinds()] == [("get_users", 10, 500)]
    assert read.file_descriptors() == (30.0, 100.0)
    assert read.version() == "1.163.2"
    # Behind at the second scrape, but it was level at the first and moved: not stalled.
    assert read.processing_lags() == [("federation_sender", 5.0, False)]
    # Only the families read are kept.
    assert all(s.name != "synapse_unrelated" for s in read.first.samples)


def test_a_processor_behind_at_both_scrapes_that_does_not_move_is_stalled() -> None:
    declared()
    read = metrics(page(wait_sum=0, wait_count=0, sender=7), page(wait_sum=0, wait_count=0, sender=7, persisted=10))
    assert read.processing_lags() == [("federation_sender", 3.0, True)]
    with pytest.raises(must.CheckFailed, match=r"\[slow-performance\].*federation_sender is 3 events behind and did"):
        must.keep_event_processing_current(read, 1000)


def test_pool_wait_over_the_threshold_names_the_exhausted_pool() -> None:
    declared()
    read = metrics(page(wait_sum=1.0, wait_count=1000), page(wait_sum=4.0, wait_count=1010, busy=5))
    current_check.set(
        CheckInfo("synapse_metrics.pool_wait", "t", Layer.METRICS, Severity.CRITICAL, Mode.DATABASE_ERRORS)
    )
    with pytest.raises(
        must.CheckFailed, match=r"\[database-errors\] transactions waited 300 ms.*5 of its 5.*exhausted"
    ):
        must.wait_little_for_connections(read, 50)
    must.wait_little_for_connections(read, 500)


def test_a_full_pool_that_schedules_nothing_is_exhausted_whatever_the_average() -> None:
    declared()
    read = metrics(page(wait_sum=1.0, wait_count=1000, busy=5), page(wait_sum=1.0, wait_count=1000, busy=5))
    with pytest.raises(must.CheckFailed, match="no transaction got a database connection"):
        must.wait_little_for_connections(read, 50)


def test_a_counter_reset_by_a_restart_is_no_negative_rate() -> None:
    declared()
    read = metrics(page(wait_sum=4.0, wait_count=1010), page(wait_sum=0.1, wait_count=5))
    assert read.pool_wait() == (0.0, 0.0)


@pytest.mark.parametrize(
    ("exchange", "problem"),
    [
        (Exchange("GET", URL, error=ProbeError("refused", "connection refused")), "no HTTP response"),
        (Exchange("GET", URL, status=404, body=b"not found"), "answered HTTP 404"),
        (Exchange("GET", URL, status=200, body=b"<html>hello</html>"), "not Prometheus text"),
        (
            Exchange("GET", URL, status=200, body=exposition([GaugeMetricFamily("other", "", value=1.0)])),
            "none of Synapse's metrics",
        ),
    ],
)
def test_a_listener_that_does_not_give_metrics_says_why(exchange: Exchange, problem: str) -> None:
    declared()
    scrape = parse_scrape(exchange, at=0.0)
    assert scrape.problem is not None and problem in scrape.problem
    assert scrape.exchange.body == b""  # the page is not kept in the evidence
    with pytest.raises(must.CheckFailed, match="metrics listener"):
        must.read_the_metrics(SynapseMetrics(URL, scrape, None))


def test_the_version_is_compared_without_its_build_suffix() -> None:
    declared()
    read = metrics(page(wait_sum=0, wait_count=0), page(wait_sum=0, wait_count=0))
    must.run_the_expected_version(read, "1.163.2")
    with pytest.raises(must.CheckFailed, match=r"Synapse 1\.163\.2 runs .*not the 1\.164\.0"):
        must.run_the_expected_version(read, "1.164.0")


def test_descriptors_near_the_limit_fail() -> None:
    declared()
    read = metrics(page(wait_sum=0, wait_count=0), page(wait_sum=0, wait_count=0, fds=95))
    with pytest.raises(must.CheckFailed, match="95 of its 100 file descriptors"):
        must.keep_file_descriptors(read, 80)


def test_one_slow_transaction_is_no_slow_kind() -> None:
    declared()
    once = metrics(page(wait_sum=0, wait_count=0, txn=(0.0, 10)), page(wait_sum=0, wait_count=0, txn=(0.115, 11)))
    must.keep_transactions_fast(once, 100)
    thrice = metrics(page(wait_sum=0, wait_count=0, txn=(0.0, 10)), page(wait_sum=0, wait_count=0, txn=(0.6, 13)))
    with pytest.raises(must.CheckFailed, match="get_users averaged 200 ms over 3"):
        must.keep_transactions_fast(thrice, 100)


def with_reactor(base: bytes, *, took: float, ticks: float, last_seen: float = 0.01) -> bytes:
    """A page with Synapse's reactor metrics too (its tick-time histogram, its last-seen gauge)."""
    tick_time = HistogramMetricFamily("python_twisted_reactor_tick_time", "Tick time of the Twisted reactor (sec)")
    tick_time.add_metric([], buckets=[("+Inf", ticks)], sum_value=took)
    last_polled = GaugeMetricFamily("python_twisted_reactor_last_seen", "", value=last_seen)
    return base + exposition([tick_time, last_polled])


def reactor(took: tuple[float, float], ticks: tuple[float, float], last_seen: float = 0.01) -> SynapseMetrics:
    """Two scrapes 2 s apart whose reactor histogram went from took[0] s over ticks[0] to took[1] over ticks[1]."""
    quiet = page(wait_sum=0, wait_count=0)
    return metrics(
        with_reactor(quiet, took=took[0], ticks=ticks[0]),
        with_reactor(quiet, took=took[1], ticks=ticks[1], last_seen=last_seen),
    )


def test_a_reactor_blocked_by_a_few_long_ticks_among_idle_ones_fails_on_its_busy_share() -> None:
    declared()
    # 5 ticks of 300 ms and 15 idle ones in 2 s: 75 ms on average, under the 100 ms, yet 75 % of the time.
    read = reactor(took=(10.0, 11.5), ticks=(1000, 1020))
    ticks = read.reactor_ticks()
    assert ticks is not None and ticks.count == 20
    assert (ticks.average_ms, ticks.busy_percent, ticks.last_seen_s) == pytest.approx((75.0, 75.0, 0.01))
    with pytest.raises(
        must.CheckFailed,
        match=r"\[slow-performance\] 20 reactor ticks averaged 75\.0 ms and took 1\.5 s, 75 % of the interval, in the "
        r"2\.0 s .*, over the 50 % of thresholds\.reactor_busy_percent: .*every endpoint answering slowly",
    ):
        must.keep_reactor_ticking(read, 100, 50)
    must.keep_reactor_ticking(read, 100, 80)


def test_ticks_all_long_fail_on_their_average() -> None:
    declared()
    read = reactor(took=(10.0, 10.9), ticks=(1000, 1003))
    with pytest.raises(must.CheckFailed, match=r"averaged 300\.0 ms .*over the 100 ms of thresholds\.reactor_tick_ms:"):
        must.keep_reactor_ticking(read, 100, 50)


def test_an_idle_reactor_passes() -> None:
    declared()
    # What the reference deployment's idle Synapse shows: 27 ticks of well under a millisecond in 2 s.
    must.keep_reactor_ticking(reactor(took=(2.258, 2.264), ticks=(474, 501)), 100, 50)


def test_a_reactor_that_does_not_tick_says_when_it_last_polled() -> None:
    declared()
    read = reactor(took=(10.0, 10.0), ticks=(1000, 1000), last_seen=12.3)
    with pytest.raises(must.CheckFailed, match=r"the reactor did not tick once in the 2\.0 s .*12\.3 s ago\): Synapse"):
        must.keep_reactor_ticking(read, 100, 50)


def test_a_tick_that_began_before_the_first_scrape_counts_at_most_the_whole_interval() -> None:
    declared()
    ticks = reactor(took=(10.0, 13.0), ticks=(1000, 1001)).reactor_ticks()
    assert ticks is not None and ticks.busy_percent == 100.0


def test_a_synapse_without_reactor_metrics_is_no_finding() -> None:
    declared()
    read = metrics(page(wait_sum=0, wait_count=0), page(wait_sum=0, wait_count=0))
    assert read.reactor_ticks() is None
    with pytest.raises(pytest.skip.Exception, match="python_twisted_reactor_tick_time"):
        must.keep_reactor_ticking(read, 100, 50)


def queue_page(pending: float | None) -> bytes:
    """A page with the outbound federation queue's gauge (`None`: a Synapse that does not export it)."""
    families: list[Metric] = [GaugeMetricFamily("process_open_fds", "", value=30.0)]
    if pending is not None:
        queue = GaugeMetricFamily("synapse_federation_transaction_queue_pending_pdus", "", labels=["server_name"])
        queue.add_metric(["hs"], pending)
        families.append(queue)
    return exposition(families)


def test_the_federation_queue_is_read_at_the_latest_scrape() -> None:
    declared(Mode.FEDERATION_BROKEN)
    read = metrics(queue_page(5), queue_page(1200))
    assert read.pending_pdus() == 1200.0
    with pytest.raises(
        must.CheckFailed,
        match=r"\[federation-broken\] 1200 PDUs wait in Synapse's outbound federation queue .*over the 1000 of "
        r"thresholds\.federation_pending_pdus: .*other servers get this server's events late",
    ):
        must.keep_federation_queue_short(read, 1000)
    # A queue that was long and has drained is no finding: only the latest scrape counts.
    must.keep_federation_queue_short(metrics(queue_page(1200), queue_page(5)), 1000)


def test_a_synapse_without_the_federation_queue_gauge_is_no_finding() -> None:
    declared(Mode.FEDERATION_BROKEN)
    read = metrics(queue_page(None), queue_page(None))
    assert read.pending_pdus() is None
    with pytest.raises(pytest.skip.Exception, match="exports no synapse_federation_transaction_queue_pending_pdus"):
        must.keep_federation_queue_short(read, 1000)
