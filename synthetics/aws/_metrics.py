"""CloudWatch metrics: the latest datapoint of one metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from synthetics.aws._access import AwsAccess


def latest_metric(
    access: AwsAccess,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    minutes: int = 15,
    stat: str = "Average",
) -> float | None:
    """The most recent datapoint of a metric over the last minutes, or None when there is none."""
    now = datetime.now(UTC)
    answer = access.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=minutes),
        # The period still running counts: an end at "now" would leave out the newest datapoints.
        EndTime=now + timedelta(seconds=60),
        Period=60,
        Statistics=[stat],
    )
    points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1][stat]) if points else None
