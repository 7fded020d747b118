"""CloudWatch Logs: database error signatures in the log group, a few matching lines kept as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from synthetics.aws._access import AwsAccess

DB_ERROR_SIGNATURES = (
    "OperationalError",
    '"could not connect to server"',
    '"connection refused"',
    '"too many clients"',
    '"remaining connection slots are reserved"',
    '"terminating connection"',
)


@dataclass(frozen=True)
class LogMatch:
    timestamp: str
    stream: str
    message: str


@dataclass(frozen=True)
class LogSearch:
    group: str
    since: str
    signatures: tuple[str, ...]
    matches: tuple[LogMatch, ...]


def search_logs(access: AwsAccess, group: str, since: datetime, limit: int = 5) -> LogSearch:
    """Database error signatures in the group since `since`, one plain filter each (what moto and
    CloudWatch both understand), the first `limit` lines kept as evidence."""
    logs = access.client("logs")
    start_ms = int(since.timestamp() * 1000)
    found: dict[tuple[int, str], LogMatch] = {}
    for signature in DB_ERROR_SIGNATURES:
        answer = logs.filter_log_events(logGroupName=group, startTime=start_ms, filterPattern=signature, limit=limit)
        needle = signature.strip('"').lower()
        for event in answer.get("events", []):
            message = str(event.get("message", ""))
            # The endpoint may match more loosely than CloudWatch (moto ignores unknown syntax).
            if needle not in message.lower():
                continue
            when = datetime.fromtimestamp(event.get("timestamp", 0) / 1000, UTC).isoformat(timespec="seconds")
            found[(int(event.get("timestamp", 0)), message)] = LogMatch(
                when, str(event.get("logStreamName", "")), message.strip()[:500]
            )
    matches = tuple(found[key] for key in sorted(found)[:limit])
    return LogSearch(group, since.isoformat(timespec="seconds"), DB_ERROR_SIGNATURES, matches)
