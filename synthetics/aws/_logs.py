"""CloudWatch Logs: database error signatures in the log group, a few matching lines kept as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    matches: tuple[LogMatch, ...]  # the newest few
    # Lines matched since the run started (when its live checks ran): errors still arriving.
    arriving_since: str = ""
    arriving: tuple[LogMatch, ...] = ()
    counted: int = 0  # matching lines seen in the window (at most PAGE per signature)
    newest: str | None = None  # the newest matching line's time

    @property
    def counted_at_least(self) -> bool:
        return self.counted >= PAGE


PAGE = 50  # lines read per signature and window: enough to count a rate, bounded for a deadline


def _matching(logs: Any, group: str, start_ms: int, limit: int) -> dict[tuple[int, str], LogMatch]:
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
    return found


def search_logs(
    access: AwsAccess, group: str, since: datetime, limit: int = 5, *, run_started: datetime | None = None
) -> LogSearch:
    """Database error signatures in the group since `since`, one plain filter each (what moto and
    CloudWatch both understand), the newest `limit` lines kept as evidence; and those logged since
    the run started, so old errors can be told from errors still arriving."""
    logs = access.client("logs")
    started = run_started or datetime.now(UTC)
    found = _matching(logs, group, int(since.timestamp() * 1000), PAGE)
    arriving = _matching(logs, group, int(started.timestamp() * 1000), limit)
    newest = sorted(found)[-limit:]
    return LogSearch(
        group,
        since.isoformat(timespec="seconds"),
        DB_ERROR_SIGNATURES,
        tuple(found[key] for key in newest),
        arriving_since=started.isoformat(timespec="seconds"),
        arriving=tuple(arriving[key] for key in sorted(arriving)[:limit]),
        counted=len(found),
        newest=found[newest[-1]].timestamp if newest else None,
    )
