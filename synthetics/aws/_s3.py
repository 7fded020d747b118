"""The S3 media bucket: the runbook's "S3 write" canary, its janitor and stale-canary sweep, and
whether the bucket is public.

Whether the bucket is public is read, not guessed from one setting (issue 14, "Public means
public"): AWS's own evaluation of the bucket policy (GetBucketPolicyStatus), the policy document
(only to name the statements that make it public), the ACL's grants to everyone (AllUsers) or to
every AWS account (AuthenticatedUsers), and the public access blocks of the bucket and of the
account (S3 Control, for the account STS names). `must.block_public_access` judges these facts.
A read whose answer is "not configured" (NoSuchPublicAccessBlockConfiguration, NoSuchBucketPolicy)
is a fact (absent); any other error, AccessDenied above all, is recorded with the IAM action the
read needs (`Unread`), never raised.

What moto 5.2.5 answers (checked against its server, as the reference deployment runs it):
- get_bucket_policy_status computes IsPublic from the document: true for any Allow statement
  without a Condition whose Principal is "*" or {"AWS": "*"} (whatever its action: a Principal "*"
  s3:PutObject policy is public too); false for a Deny, a Condition, or an account principal.
  It ignores the public access blocks (IsPublic stays true under RestrictPublicBuckets), so the
  blocks are judged here, as AWS applies them. NoSuchBucketPolicy when there is no policy.
- get_bucket_acl lists the grants of a canned ACL (public-read: READ to AllUsers,
  authenticated-read: READ to AuthenticatedUsers); a new bucket has FULL_CONTROL for its owner only.
- get_public_access_block: NoSuchPublicAccessBlockConfiguration when the bucket has none; a
  partial configuration comes back with the unset settings false. moto enforces none of the four
  settings (a public policy or ACL is accepted under BlockPublicPolicy/BlockPublicAcls).
- S3 Control get_public_access_block(AccountId=...) answers for STS's account (123456789012),
  NoSuchPublicAccessBlockConfiguration when unset. botocore sends it to `<account>.<endpoint>`,
  which an address endpoint cannot be: `_access` sends it to the endpoint itself (moto knows S3
  Control by the path /v20180820/).
- With IAM enforced (moto-api/reset-auth), a denied S3 read answers AccessDenied (403); a denied
  S3 Control read answers 403 with an empty code. moto authorises two reads under other actions
  than AWS: the bucket-level block as s3:ListBucket (not s3:GetBucketPublicAccessBlock), the
  account-level block as s3:GetPublicAccessBlock (not s3:GetAccountPublicAccessBlock);
  s3:GetBucketPolicyStatus, s3:GetBucketPolicy and s3:GetBucketAcl are AWS's names.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
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


# The settings of a public access block (bucket or account level), as AWS names them.
BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
# The ACL grantee groups that make a grant public: anyone, and anyone with an AWS account.
PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


class Permission(StrEnum):
    """The IAM action each read of `read_public_access` needs."""

    BUCKET_BLOCK = "s3:GetBucketPublicAccessBlock"
    POLICY_STATUS = "s3:GetBucketPolicyStatus"
    POLICY = "s3:GetBucketPolicy"  # only to name the statements that make the policy public
    ACL = "s3:GetBucketAcl"
    IDENTITY = "sts:GetCallerIdentity"  # the account whose block to read
    ACCOUNT_BLOCK = "s3:GetAccountPublicAccessBlock"


@dataclass(frozen=True)
class Unread:
    """A read that got no answer: the IAM action it needs, and what AWS said instead."""

    permission: Permission
    error_code: str
    error: str

    @property
    def denied(self) -> bool:
        # moto's S3 Control says a bare 403 with an empty code.
        return self.error_code in ("AccessDenied", "AccessDeniedException", "403")

    def __str__(self) -> str:
        if self.denied:
            return f"{self.permission} denied ({self.error_code})"
        return f"the read needing {self.permission} failed: {self.error_code} ({self.error})"


@dataclass(frozen=True)
class PublicAccess:
    """What AWS says about who may reach the bucket. None wherever a read got no answer (its
    `Unread` says why); "not configured" is an answer (an empty block, no policy)."""

    bucket: str
    # Each public access block's settings ({} when none is configured).
    bucket_block: Mapping[str, bool] | None
    account_block: Mapping[str, bool] | None
    account: str | None  # the account (STS) whose block `account_block` is
    has_policy: bool | None
    # AWS's evaluation of the bucket policy (GetBucketPolicyStatus IsPublic); False without a policy.
    policy_public: bool | None
    # The policy's statements that let anyone read objects, read from the document (() without a policy).
    public_statements: tuple[str, ...] | None
    # The ACL's grants to AllUsers or AuthenticatedUsers, "READ to AllUsers".
    public_grants: tuple[str, ...] | None
    unread: tuple[Unread, ...] = ()


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
    # The first call lists the canary prefix (stale canaries to sweep): it also proves the bucket
    # exists, with nothing beyond s3:ListBucket under the prefix (HeadBucket would need the whole listing).
    progress = {"step": "list-canaries"}

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
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=100).get("Contents", [])
    steps.append(f"bucket {bucket} exists")
    progress["step"] = "sweep"
    swept = _sweep_stale_canaries(s3, bucket, listed)
    if swept:
        steps.append(f"deleted {swept} stale canary object(s) of earlier runs")
    progress["step"] = "put-object"
    s3.put_object(Bucket=bucket, Key=key, Body=payload)
    steps.append(f"wrote s3://{bucket}/{key} ({len(payload)} bytes)")
    progress["step"] = "get-object"
    if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != payload:
        raise _Mismatch("the object read back differs from what was written")
    steps.append("read it back byte for byte")


def _sweep_stale_canaries(s3: Any, bucket: str, listed: list[dict[str, Any]]) -> int:
    cutoff = datetime.now(UTC) - STALE_CANARY
    stale = [o["Key"] for o in listed if o["LastModified"] < cutoff and o["Key"].endswith(".txt")]
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
    return len(stale)


def read_public_access(access: AwsAccess, bucket: str) -> PublicAccess:
    """Who may reach the bucket, as AWS says it (read only; the canary is the write)."""
    s3 = access.client("s3")
    unread: list[Unread] = []

    def ask(permission: Permission, call: Callable[[], Any], absent: str | None = None) -> Any:
        try:
            return call()
        except botocore.exceptions.ClientError as error:
            if absent is not None and error_code(error) == absent:
                return _ABSENT
            unread.append(Unread(permission, error_code(error), one_line(error)))
        except botocore.exceptions.BotoCoreError as error:
            unread.append(Unread(permission, error_code(error), one_line(error)))
        return _UNREAD

    no_block = "NoSuchPublicAccessBlockConfiguration"
    bucket_block = _block(ask(Permission.BUCKET_BLOCK, lambda: s3.get_public_access_block(Bucket=bucket), no_block))
    status = ask(Permission.POLICY_STATUS, lambda: s3.get_bucket_policy_status(Bucket=bucket), "NoSuchBucketPolicy")
    document = ask(Permission.POLICY, lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy")
    acl = ask(Permission.ACL, lambda: s3.get_bucket_acl(Bucket=bucket))
    identity = ask(Permission.IDENTITY, lambda: access.client("sts").get_caller_identity())
    account = str(identity["Account"]) if isinstance(identity, dict) else None
    account_block = (
        _block(
            ask(
                Permission.ACCOUNT_BLOCK,
                lambda: access.client("s3control").get_public_access_block(AccountId=account),
                no_block,
            )
        )
        if account is not None
        else None
    )
    answered = [answer for answer in (status, document) if answer is not _UNREAD]
    return PublicAccess(
        bucket=bucket,
        bucket_block=bucket_block,
        account_block=account_block,
        account=account,
        has_policy=all(answer is not _ABSENT for answer in answered) if answered else None,
        policy_public=(
            None
            if status is _UNREAD
            else status is not _ABSENT and bool(status.get("PolicyStatus", {}).get("IsPublic"))
        ),
        public_statements=(
            None
            if document is _UNREAD
            else ()
            if document is _ABSENT
            else readable_by_anyone(str(document.get("Policy", "")))
        ),
        public_grants=None if acl is _UNREAD else public_grants(acl.get("Grants", [])),
        unread=tuple(unread),
    )


# What `ask` answers instead of an answer: the thing is not configured, or the read got no answer.
_ABSENT = object()
_UNREAD = object()


def _block(answer: Any) -> dict[str, bool] | None:
    if answer is _UNREAD:
        return None
    if answer is _ABSENT:
        return {}
    configuration = answer.get("PublicAccessBlockConfiguration", {})
    return {setting: configuration.get(setting) is True for setting in BLOCK_SETTINGS}


def public_grants(grants: object) -> tuple[str, ...]:
    """The grants of an ACL to everyone or to every AWS account, as "READ to AllUsers"."""
    found = []
    for grant in grants if isinstance(grants, list) else []:
        grantee = grant.get("Grantee") if isinstance(grant, dict) else None
        group = PUBLIC_GROUPS.get(grantee.get("URI", "")) if isinstance(grantee, dict) else None
        if group is not None:
            found.append(f"{grant.get('Permission', '?')} to {group}")
    return tuple(found)


def readable_by_anyone(policy: str) -> tuple[str, ...]:
    """The statements of a bucket policy that let anyone read its objects: Allow, Principal "*" or
    {"AWS": "*"}, no Condition, an Action (or a NotAction that leaves) s3:GetObject. AWS's own
    evaluation (IsPublic) is the broader authority; this names the statements, and stands in for it
    when it cannot be read. Any document, however malformed, gives an answer."""
    try:
        document = json.loads(policy)
    except (ValueError, RecursionError):
        return ()
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    found = []
    for number, statement in enumerate(statements if isinstance(statements, list) else [], start=1):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow" or "Condition" in statement:
            continue
        if not _anyone(statement.get("Principal")) or not _reads_objects(statement):
            continue
        sid = statement.get("Sid")
        name = f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement {number}"
        actions = statement.get("Action", statement.get("NotAction"))
        verb = "NotAction" if "Action" not in statement else "Action"
        found.append(f"{name} (Allow {verb} {json.dumps(actions)} to Principal {json.dumps(statement['Principal'])})")
    return tuple(found)


def _anyone(principal: object) -> bool:
    if principal == "*":
        return True
    aws = principal.get("AWS") if isinstance(principal, dict) else None
    return aws == "*" or (isinstance(aws, list) and "*" in aws)


def _reads_objects(statement: dict[str, Any]) -> bool:
    def matches(patterns: object) -> bool:
        listed = [patterns] if isinstance(patterns, str) else patterns if isinstance(patterns, list) else []
        return any(isinstance(p, str) and _action_pattern(p).fullmatch("s3:getobject") for p in listed)

    if "Action" in statement:
        return matches(statement["Action"])
    return "NotAction" in statement and not matches(statement["NotAction"])


def _action_pattern(pattern: str) -> re.Pattern[str]:
    # IAM action names are case-insensitive; * matches any run of characters, ? one.
    return re.compile(re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", "."))
