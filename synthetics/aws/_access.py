"""Access to AWS: the session and its clients, the one reason AWS cannot be asked, and how an AWS error is worded.

The same boto3 code reaches AWS or an AWS-compatible endpoint (`aws.endpoint_url`). Every call has
a connect and read deadline and a bounded number of attempts.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
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
