"""Public means public: the media bucket's exposure judged from AWS's facts (pure code, hand-made facts).

One test per rule of `must.block_public_access`, then the readers of the policy document and the ACL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pytest

from synthetics import must
from synthetics.aws import BLOCK_SETTINGS, Permission, PublicAccess, Unread, public_grants, readable_by_anyone
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Impact, Severity, current_check
from synthetics.layers import Layer

FULL: Mapping[str, bool] = dict.fromkeys(BLOCK_SETTINGS, True)
NONE: Mapping[str, bool] = {}
PUBLIC_READ = 'statement \'PublicRead\' (Allow Action "s3:GetObject" to Principal "*")'
# A private bucket with its own full block and none on the account: the reference deployment, healthy.
PRIVATE = PublicAccess(
    bucket="media",
    bucket_block=FULL,
    account_block=NONE,
    account="123456789012",
    has_policy=False,
    policy_public=False,
    public_statements=(),
    public_grants=(),
)


def only(*settings: str) -> dict[str, bool]:
    return {setting: setting in settings for setting in BLOCK_SETTINGS}


def denied(permission: Permission) -> Unread:
    return Unread(permission, "AccessDenied", "Access Denied")


@dataclass
class Judged:
    failed: must.CheckFailed | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


CHECK = CheckInfo(
    "aws.s3_public_access_blocked", "t", Layer.AWS, Severity.CRITICAL, Mode.SECURITY_EXPOSURE, Impact.EXPOSURE
)


def judge(access: PublicAccess) -> Judged:
    """As inside aws.s3_public_access_blocked: its failure, or the warnings and notes it recorded."""
    check = current_check.set(CHECK)
    observed, token = must.observing()
    judged = Judged()
    try:
        must.block_public_access(access)
    except must.CheckFailed as failed:
        judged.failed = failed
    finally:
        must.stop_observing(token)
        current_check.reset(check)
    assert all(w.failure_mode == Mode.SECURITY_EXPOSURE and not w.recovered for w in observed.warnings)
    judged.warnings, judged.notes = [w.message for w in observed.warnings], observed.notes
    return judged


def failure(access: PublicAccess) -> str:
    failed = judge(access).failed
    assert failed is not None and failed.failure_mode == Mode.SECURITY_EXPOSURE
    return failed.finding


def passes(access: PublicAccess) -> Judged:
    judged = judge(access)
    assert judged.failed is None, judged.failed
    return judged


def test_private_with_its_own_full_block_passes_with_no_warning() -> None:
    assert passes(PRIVATE) == Judged()


def test_a_public_policy_no_setting_restricts_is_public() -> None:
    public = replace(PRIVATE, bucket_block=NONE, has_policy=True, policy_public=True, public_statements=(PUBLIC_READ,))
    finding = failure(public)
    assert finding.startswith("S3 media bucket media is public: its bucket policy lets anyone in")
    assert "GetBucketPolicyStatus: IsPublic" in finding and PUBLIC_READ in finding
    assert "RestrictPublicBuckets" in finding and "BlockPublicPolicy" in finding
    assert "RestrictPublicBuckets is not on to make it ineffective (no bucket-level block, no account-level block)" in (
        finding
    )


def test_a_policy_aws_calls_public_is_public_even_when_no_statement_reads() -> None:
    # Principal "*" on s3:PutObject: not readable, but AWS says public (anyone may write).
    finding = failure(replace(PRIVATE, bucket_block=NONE, has_policy=True, policy_public=True))
    assert "lets anyone in (GetBucketPolicyStatus: IsPublic)" in finding


def test_a_statement_letting_anyone_read_is_public_even_when_aws_says_not() -> None:
    # Belt and braces for an AWS-compatible endpoint that does not evaluate policies.
    finding = failure(replace(PRIVATE, bucket_block=NONE, has_policy=True, public_statements=(PUBLIC_READ,)))
    assert PUBLIC_READ in finding


def test_a_public_acl_grant_no_setting_ignores_is_public() -> None:
    finding = failure(replace(PRIVATE, bucket_block=only("BlockPublicAcls"), public_grants=("READ to AllUsers",)))
    assert "its ACL grants READ to AllUsers, and IgnorePublicAcls is not on" in finding
    assert "(off in the bucket-level block, no account-level block)" in finding


def test_a_grant_to_every_aws_account_is_public_too() -> None:
    finding = failure(replace(PRIVATE, bucket_block=NONE, public_grants=("READ to AuthenticatedUsers",)))
    assert "READ to AuthenticatedUsers" in finding


def test_ignore_public_acls_makes_a_public_grant_ineffective() -> None:
    neutralised = replace(PRIVATE, public_grants=("READ to AllUsers",))
    said = ["S3 media bucket media: its ACL grants READ to AllUsers, made ineffective by IgnorePublicAcls"]
    assert passes(neutralised) == Judged(notes=said)
    # At the account level it does the same.
    assert passes(replace(neutralised, bucket_block=NONE, account_block=FULL)) == Judged(notes=said)


def test_restrict_public_buckets_makes_a_public_policy_ineffective() -> None:
    restricted = replace(
        PRIVATE,
        bucket_block=only("RestrictPublicBuckets"),
        account_block=only("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy"),
        has_policy=True,
        policy_public=True,
    )
    judged = passes(restricted)
    assert judged.warnings == []
    assert judged.notes == [
        "S3 media bucket media: its bucket policy is public (GetBucketPolicyStatus: IsPublic), made ineffective by "
        "RestrictPublicBuckets"
    ]


def test_the_account_block_covers_a_bucket_with_none() -> None:
    assert passes(replace(PRIVATE, bucket_block=NONE, account_block=FULL)) == Judged()


def test_private_without_any_block_is_a_hygiene_warning() -> None:
    [warning] = passes(replace(PRIVATE, bucket_block=NONE)).warnings
    assert warning.startswith("S3 media bucket media is private now")
    assert "nothing stops a future public policy or ACL" in warning
    assert (
        "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets not on at either level" in warning
    )
    assert "(no bucket-level block, no account-level block)" in warning
    assert "aws s3api put-public-access-block --bucket media" in warning
    assert "--account-id 123456789012" in warning


def test_a_partial_block_warns_naming_the_settings_off_at_both_levels() -> None:
    partial = replace(
        PRIVATE, bucket_block=only("BlockPublicAcls", "IgnorePublicAcls"), account_block=only("BlockPublicPolicy")
    )
    [warning] = passes(partial).warnings
    assert (
        ": RestrictPublicBuckets not on at either level (off in the bucket-level block, off in the account-level"
        in (warning)
    )


def test_a_denied_read_that_decides_exposure_fails_naming_the_permission() -> None:
    unread = replace(
        PRIVATE, bucket_block=NONE, has_policy=None, policy_public=None, public_statements=None,
        unread=(denied(Permission.POLICY_STATUS), denied(Permission.POLICY)),
    )  # fmt: skip
    finding = failure(unread)
    assert finding.startswith("cannot tell whether S3 media bucket media is public (its bucket policy)")
    assert finding.endswith(
        "s3:GetBucketPolicyStatus denied (AccessDenied); s3:GetBucketPolicy denied (AccessDenied): grant the role "
        "s3:GetBucketPolicyStatus, s3:GetBucketPolicy"
    )


def test_each_denied_read_names_its_permission() -> None:
    acl = failure(replace(PRIVATE, bucket_block=NONE, public_grants=None, unread=(denied(Permission.ACL),)))
    assert "(its ACL)" in acl and "grant the role s3:GetBucketAcl" in acl
    account = replace(PRIVATE, bucket_block=NONE, account_block=None, unread=(denied(Permission.ACCOUNT_BLOCK),))
    assert "s3:GetAccountPublicAccessBlock" in failure(replace(account, policy_public=True, has_policy=True))
    bucket = replace(PRIVATE, bucket_block=None, public_grants=("READ to AllUsers",))
    finding = failure(replace(bucket, unread=(denied(Permission.BUCKET_BLOCK),)))
    assert "grant the role s3:GetBucketPublicAccessBlock" in finding
    # moto's S3 Control refuses with a bare 403.
    assert Unread(Permission.ACCOUNT_BLOCK, "403", "").denied


def test_a_public_finding_also_says_what_is_undecided() -> None:
    both = replace(
        PRIVATE, bucket_block=NONE, has_policy=True, policy_public=True, public_grants=None,
        unread=(denied(Permission.ACL),),
    )  # fmt: skip
    finding = failure(both)
    assert finding.startswith("S3 media bucket media is public: its bucket policy")
    assert "also undecided: s3:GetBucketAcl denied" in finding


def test_a_denied_read_that_decides_nothing_is_a_note() -> None:
    # The bucket's own block is complete: nothing the account, the policy or the ACL says changes that.
    blind = replace(
        PRIVATE, account_block=None, account=None, has_policy=None, policy_public=None, public_statements=None,
        public_grants=None, unread=(denied(Permission.POLICY_STATUS), denied(Permission.ACL),
                                    denied(Permission.ACCOUNT_BLOCK)),
    )  # fmt: skip
    judged = passes(blind)
    assert judged.warnings == []
    assert len(judged.notes) == 3 and all("not needed for the verdict" in n for n in judged.notes)


def test_a_partial_block_with_the_account_unread_warns_saying_so() -> None:
    unread = replace(
        PRIVATE, bucket_block=only("IgnorePublicAcls", "RestrictPublicBuckets"), account_block=None,
        unread=(denied(Permission.ACCOUNT_BLOCK),),
    )  # fmt: skip
    [warning] = passes(unread).warnings
    assert (
        "BlockPublicAcls, BlockPublicPolicy not on where read (off in the bucket-level block, the account-level "
        in (warning)
    )
    assert "s3:GetAccountPublicAccessBlock denied (AccessDenied): grant the role s3:GetAccountPublicAccessBlock" in (
        warning
    )


def test_the_document_names_the_statements_that_let_anyone_read() -> None:
    def policy(*statements: object) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    read = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "x/*"}
    assert readable_by_anyone(policy(read)) == (PUBLIC_READ,)
    for reads in ({"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}):
        assert readable_by_anyone(policy(read | {"Principal": reads}))
    for action in ("s3:*", "*", ["s3:ListBucket", "S3:Get*"], "s3:GetObjec?"):
        assert readable_by_anyone(policy(read | {"Action": action})), action
    assert readable_by_anyone(policy({k: v for k, v in read.items() if k != "Action"} | {"NotAction": "s3:Put*"}))
    assert readable_by_anyone(json.dumps({"Statement": read}))  # one statement, not a list
    not_readable = (
        read | {"Effect": "Deny"},
        read | {"Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        read | {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
        read | {"Action": "s3:PutObject"},
        {k: v for k, v in read.items() if k != "Action"} | {"NotAction": "s3:*"},
    )
    for statement in not_readable:
        assert readable_by_anyone(policy(statement)) == (), statement
    assert readable_by_anyone(policy({k: v for k, v in read.items() if k != "Sid"})) == (
        'statement 1 (Allow Action "s3:GetObject" to Principal "*")',
    )


@pytest.mark.parametrize("document", ["", "not json", "[]", "1", '{"Statement": 1}', '{"Statement": [1, null]}',
                                      "[" * 5000 + "]" * 5000, '{"Statement": [{"Effect": "Allow"}]}'])  # fmt: skip
def test_any_policy_document_gives_an_answer(document: str) -> None:
    assert readable_by_anyone(document) == ()


def test_the_acl_grants_to_everyone_and_to_every_aws_account_are_public() -> None:
    grants = [
        {"Grantee": {"ID": "owner", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
        {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
         "Permission": "WRITE"},
        {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"},
    ]  # fmt: skip
    assert public_grants(grants) == ("READ to AllUsers", "WRITE to AuthenticatedUsers")
    assert public_grants(None) == public_grants([1, {"Grantee": 1}]) == ()
