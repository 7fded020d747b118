"""The target's `aws` section: where Synapse and its resources are, read-only."""

from __future__ import annotations

from synthetics.target._reader import Reader
from synthetics.target._schema import nested, option, section
from synthetics.target._values import (
    env_name,
    existing_file,
    integer,
    key_value_tag,
    optional,
    optional_text,
    required,
    s3_folder,
    text,
    web_url,
)

__all__ = ["AwsSettings", "Ec2Settings", "EcsSettings", "LogsSettings", "RdsSettings", "S3Settings"]


@section
class EcsSettings:
    cluster: str = option(text, doc="the ECS cluster")
    service: str = option(text, doc="the ECS service running Synapse")


@section
class RdsSettings:
    instance: str = option(text, doc="the RDS instance identifier")
    database: str | None = option(optional_text, default=None, doc="the database name")
    # The DSN holds a password, so the file names where it is, never the value.
    dsn_env: str | None = option(env_name, default=None, doc="variable holding a DSN for a direct, read-only probe")


@section
class Ec2Settings:
    """Where Synapse runs on EC2 rather than ECS: an instance id, or a tag that finds it."""

    instance_id: str | None = option(optional_text, default=None, doc="the instance id")
    tag: tuple[str, str] | None = option(
        optional(key_value_tag), default=None, doc="Key=Value of a tag on the instance"
    )


def _one_way_to_the_instance(reader: Reader, ec2: Ec2Settings, path: str) -> None:
    if (ec2.instance_id is None) == (ec2.tag is None):
        raise reader.fail(path, "give either instance_id or tag ('Key=Value')")


@section
class S3Settings:
    media_bucket: str | None = option(optional_text, default=None, doc="the bucket Synapse stores media in")
    canary_prefix: str = option(
        required(s3_folder), default="synthetics-canary/", doc="the folder the canary object goes in"
    )


@section
class LogsSettings:
    group: str = option(text, doc="the CloudWatch Logs group Synapse logs to")
    lookback_minutes: int = option(integer(1, 10080), default=15, doc="how far back log queries look")


@section
class AwsSettings:
    profile: str | None = option(optional_text, default=None, doc="the profile of the standard credential chain")
    region: str = option(text, doc="the region the resources are in")
    endpoint_url: str | None = option(
        optional(web_url("must be an http(s) URL without credentials", strip=False)),
        default=None,
        doc="an AWS-compatible endpoint instead of AWS (moto, for the reference deployment)",
    )
    credentials_file: str | None = option(
        existing_file, default=None, doc="a shared credentials file; absent means the standard chain's own"
    )
    ecs: EcsSettings | None = option(nested(EcsSettings), default=None, doc="Synapse on ECS")
    rds: RdsSettings | None = option(nested(RdsSettings), default=None, doc="Synapse's PostgreSQL on RDS")
    ec2: Ec2Settings | None = option(nested(Ec2Settings, _one_way_to_the_instance), default=None, doc="Synapse on EC2")
    s3: S3Settings | None = option(nested(S3Settings), default=None, doc="Synapse's media bucket")
    logs: LogsSettings | None = option(nested(LogsSettings), default=None, doc="Synapse's logs")
