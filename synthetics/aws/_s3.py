"""The S3 media bucket: the runbook's "S3 write" canary, its janitor and stale-canary sweep, and the
bucket's public access block."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions

from synthetics.aws._access import AwsAccess, error_code, one_line

CANARY_PREFIX = "synthetics-canary/"
# A canary older than this belongs to a run that died before cleaning up; younger ones may be live.
STALE_CANARY = timedelta(minutes=10)


@dataclass(frozen=True)
class CanaryResult:
    bucket: str
    key: str
    steps: tuple[str, ...]
    failed_step: str | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PublicAccess:
    bucket: str
    block: dict[str, bool] | None
    error: str | None


class CanaryJanitor:
    """Remembers canaries in flight, so an interrupted run still deletes what it wrote."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], Callable[[], None]] = {}
        self._changed = threading.Condition()

    def track(self, bucket: str, key: str, delete: Callable[[], None]) -> None:
        with self._changed:
            self._pending[(bucket, key)] = delete

    def done(self, bucket: str, key: str) -> None:
        with self._changed:
            self._pending.pop((bucket, key), None)
            self._changed.notify_all()

    def clean_up(self, wait_s: float) -> None:
        """Lets canaries in flight finish (they delete their own object), then deletes what is left."""
        with self._changed:
            self._changed.wait_for(lambda: not self._pending, timeout=wait_s)
            pending = list(self._pending.values())
            self._pending.clear()
        for delete in pending:
            with contextlib.suppress(Exception):  # best effort on the way out; the next run sweeps
                delete()


JANITOR = CanaryJanitor()


def s3_canary(access: AwsAccess, bucket: str, prefix: str = CANARY_PREFIX) -> CanaryResult:
    """Writes a uniquely named object under `prefix`, reads it back byte for byte, deletes it.

    Only keys under `prefix` that this suite names are ever touched: the canary, and stale canaries
    of runs that died before their clean-up. The canary is deleted whatever happens.
    """
    s3 = access.client("s3")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{prefix}{stamp}-{secrets.token_hex(8)}.txt"
    steps: list[str] = []
    progress = {"step": "head-bucket"}

    def delete() -> None:
        s3.delete_object(Bucket=bucket, Key=key)

    JANITOR.track(bucket, key, delete)
    try:
        _write_and_read_back(s3, bucket, prefix, key, steps, progress)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        return CanaryResult(bucket, key, tuple(steps), progress["step"], error_code(error), one_line(error))
    except _Mismatch as mismatch:
        return CanaryResult(bucket, key, tuple(steps), "get-object", "Mismatch", str(mismatch))
    finally:
        with contextlib.suppress(botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            delete()
            steps.append("deleted it")
        JANITOR.done(bucket, key)
    return CanaryResult(bucket, key, tuple(steps))


class _Mismatch(Exception):
    pass


def _write_and_read_back(
    s3: Any, bucket: str, prefix: str, key: str, steps: list[str], progress: dict[str, str]
) -> None:
    payload = secrets.token_bytes(64)
    s3.head_bucket(Bucket=bucket)
    steps.append(f"bucket {bucket} exists")
    progress["step"] = "sweep"
    swept = _sweep_stale_canaries(s3, bucket, prefix)
    if swept:
        steps.append(f"deleted {swept} stale canary object(s) of earlier runs")
    progress["step"] = "put-object"
    s3.put_object(Bucket=bucket, Key=key, Body=payload)
    steps.append(f"wrote s3://{bucket}/{key} ({len(payload)} bytes)")
    progress["step"] = "get-object"
    if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != payload:
        raise _Mismatch("the object read back differs from what was written")
    steps.append("read it back byte for byte")


def _sweep_stale_canaries(s3: Any, bucket: str, prefix: str) -> int:
    cutoff = datetime.now(UTC) - STALE_CANARY
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=100).get("Contents", [])
    stale = [o["Key"] for o in listed if o["LastModified"] < cutoff and o["Key"].endswith(".txt")]
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(stale)


def read_public_access(access: AwsAccess, bucket: str) -> PublicAccess:
    """The bucket's public access block (read only; the canary is the write)."""
    try:
        answer = access.client("s3").get_public_access_block(Bucket=bucket)
    except botocore.exceptions.ClientError as error:
        return PublicAccess(bucket, None, error_code(error))
    return PublicAccess(bucket, dict(answer.get("PublicAccessBlockConfiguration", {})), None)
