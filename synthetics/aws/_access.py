"""Access to AWS: the session and its clients, the one reason AWS cannot be asked, and how an AWS error is worded.

The same boto3 code reaches AWS or an AWS-compatible endpoint (`aws.endpoint_url`). Every call has
a connect and read deadline and a bounded number of attempts.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from synthetics.target import AwsSettings


class AwsProblem(Exception):
    """AWS cannot be asked at all (credentials, profile, endpoint): one reason that names the fix."""


# Every AWS call the suite makes, by (boto3 service, operation), and the IAM action it needs, as
# AWS names it (the Service Authorization Reference): deploy/iam-policy.json grants exactly these
# (tests/unit/test_iam_policy.py holds the two together). Most are the operation's own name; S3's
# are not always: ListObjectsV2 needs s3:ListBucket (the canary lists its prefix rather than send a
# HeadBucket, which needs the listing of the whole bucket), and the two GetPublicAccessBlock
# operations are s3:GetBucketPublicAccessBlock (S3) and s3:GetAccountPublicAccessBlock (S3 Control).
PERMISSIONS: Mapping[tuple[str, str], str] = {
    ("sts", "GetCallerIdentity"): "sts:GetCallerIdentity",
    ("ecs", "DescribeServices"): "ecs:DescribeServices",
    ("ecs", "ListTasks"): "ecs:ListTasks",
    ("ecs", "DescribeTasks"): "ecs:DescribeTasks",
    ("cloudwatch", "GetMetricStatistics"): "cloudwatch:GetMetricStatistics",
    ("rds", "DescribeDBInstances"): "rds:DescribeDBInstances",
    ("ec2", "DescribeInstances"): "ec2:DescribeInstances",
    ("ec2", "DescribeInstanceStatus"): "ec2:DescribeInstanceStatus",
    ("logs", "FilterLogEvents"): "logs:FilterLogEvents",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "DeleteObject"): "s3:DeleteObject",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "GetBucketPolicyStatus"): "s3:GetBucketPolicyStatus",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "GetBucketAcl"): "s3:GetBucketAcl",
    ("s3control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
}


def permission(service: str, operation: str) -> str:
    """The IAM action a call needs (its operation's name under the service's prefix when unlisted)."""
    return PERMISSIONS.get((service, operation), f"{service}:{operation}")


# What AWS answers a caller whose role lacks the action: each service has its own code (EC2's is
# UnauthorizedOperation); an S3 HEAD or moto's S3 Control refuses with a bare 403, no code.
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", ""})


class AwsDenied(botocore.exceptions.ClientError):  # type: ignore[misc]  # botocore ships no hints
    """AWS refused a call for want of a permission: `action` is the IAM action to grant.

    A ClientError still, so code that judges a refusal itself (the canary's write, the exposure
    reads) sees what it always saw; a read that nothing catches reaches the check's fixture, which
    skips the check naming the action (fixtures/evidence.py): the suite's own missing permission is
    no finding about the homeserver, neither an outage nor a crash."""

    def __init__(self, error_response: Mapping[str, Any], operation_name: str, action: str) -> None:
        super().__init__(dict(error_response), operation_name)
        self.action = action

    def __reduce__(self) -> tuple[Any, ...]:
        # ClientError pickles back as a bare ClientError; this crosses processes whole (handover).
        return AwsDenied, (self.response, self.operation_name, self.action)


def _raise_denied(service: str) -> Callable[..., None]:
    def after_call(http_response: Any, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        if getattr(http_response, "status_code", 200) != 403:
            return
        code = str(parsed.get("Error", {}).get("Code") or "")
        if code in _DENIED_CODES:
            raise AwsDenied(parsed, model.name, permission(service, model.name))

    return after_call


@dataclass(frozen=True)
class AwsAccess:
    settings: AwsSettings
    session: boto3.Session
    config: Config
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str) -> Any:
        # Clients are thread-safe once made; making them is not.
        with self._lock:
            if service not in self._clients:
                made = _despite_environment_churn(
                    lambda: self.session.client(service, endpoint_url=self.settings.endpoint_url, config=self.config)
                )
                _keep_account_out_of_an_address(made, service, self.settings.endpoint_url)
                made.meta.events.register("after-call", _raise_denied(service))
                self._clients[service] = made
            return self._clients[service]


def _keep_account_out_of_an_address(client: Any, service: str, endpoint_url: str | None) -> None:
    """S3 Control's calls go to `<account id>.<endpoint>`: right for AWS's names (and a VPC
    endpoint's), never resolvable when an AWS-compatible endpoint is an address (`127.0.0.1:PORT`, as
    the reference deployment's moto is) or `localhost`. There the call goes to the endpoint as given
    (moto tells S3 Control by its path); the account id still travels in `x-amz-account-id`."""
    if service != "s3control" or not endpoint_url:
        return
    endpoint = urlsplit(endpoint_url)
    host = endpoint.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            return

    def to_the_endpoint(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        if parts.netloc.endswith("." + endpoint.netloc):
            request.url = urlunsplit(parts._replace(netloc=endpoint.netloc))

    # Before signing, so the signature covers the host the request really goes to.
    client.meta.events.register("before-sign.s3-control", to_the_endpoint)


_T = TypeVar("_T")
_ENVIRONMENT_ATTEMPTS = 5


def _despite_environment_churn(make: Callable[[], _T]) -> _T:
    """botocore copies os.environ while it makes a client, and pytest's main thread rewrites
    PYTEST_CURRENT_TEST in it between checks: the copy can meet a key that is gone (KeyError) or a
    dictionary that changed size (RuntimeError). Neither says anything about AWS: make it again."""
    for attempt in range(_ENVIRONMENT_ATTEMPTS):
        try:
            return make()
        except (KeyError, RuntimeError):
            if attempt == _ENVIRONMENT_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _fix(settings: AwsSettings) -> str:
    if settings.profile:
        return f"run `aws sso login --profile {settings.profile}` (or refresh that profile's credentials)"
    return "provide AWS credentials (environment, profile, SSO or web identity)"


def open_aws(settings: AwsSettings, timeout_s: float) -> AwsAccess:
    """A session for the target's account, its credentials proven once with sts:GetCallerIdentity."""
    core = botocore.session.Session(profile=settings.profile)
    if settings.credentials_file:
        core.set_config_variable("credentials_file", settings.credentials_file)
    config = Config(
        region_name=settings.region,
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    try:
        session = _despite_environment_churn(lambda: boto3.Session(botocore_session=core, region_name=settings.region))
        access = AwsAccess(settings, session, config)
        access.client("sts").get_caller_identity()
    except botocore.exceptions.ProfileNotFound:
        raise AwsProblem(f"AWS profile {settings.profile!r} is not configured: {_fix(settings)}") from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsProblem(f"no AWS credentials found: {_fix(settings)}") from None
    except (botocore.exceptions.SSOError, botocore.exceptions.TokenRetrievalError) as error:
        raise AwsProblem(f"the AWS SSO session is missing or expired ({one_line(error)}): {_fix(settings)}") from None
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise AwsProblem(f"AWS refused the credentials ({code}): {_fix(settings)}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise AwsProblem(f"AWS cannot be reached ({one_line(error)})") from None
    return access


def one_line(error: BaseException) -> str:
    """The first line of the error's message, or its type's name when it says nothing."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def error_code(error: BaseException) -> str:
    """AWS's code for a refused call (or its HTTP status), else the exception's type name."""
    if isinstance(error, botocore.exceptions.ClientError):
        return str(
            error.response.get("Error", {}).get("Code")
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        )
    return type(error).__name__
