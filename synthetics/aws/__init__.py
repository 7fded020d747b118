"""AWS as the runbook's remediations see it: ECS, RDS, the S3 media bucket, CloudWatch logs and metrics.

The same boto3 code reaches AWS or an AWS-compatible endpoint (`aws.endpoint_url`). Every call has
a connect and read deadline and a bounded number of attempts.

One private module per subject; import from the package, not from them:

- `_access`: the session and its clients (`open_aws`, `AwsAccess`), `AwsProblem`, how an error is worded,
  the IAM action of every call (`PERMISSIONS`) and a refusal for want of one (`AwsDenied`)
- `_ecs`: the ECS service, its deployments and stopped tasks, polled like `aws ecs wait services-stable`
- `_metrics`: the latest CloudWatch datapoint of a metric
- `_rds`: the RDS instance, with its free storage and connections
- `_s3`: the media bucket's write canary, its janitor and stale-canary sweep, and whether it is public
  (policy status, ACL grants, the bucket's and the account's public access blocks)
- `_logs`: database error signatures in the CloudWatch log group
- `_ec2`: the EC2 instances (when Synapse is not on ECS) and their status checks
- `_database`: a direct, read-only look at the database
"""

from synthetics.aws._access import PERMISSIONS, AwsAccess, AwsDenied, AwsProblem, error_code, open_aws, permission
from synthetics.aws._database import DatabaseProbe, probe_database
from synthetics.aws._ec2 import Ec2State, read_ec2
from synthetics.aws._ecs import EcsState, read_ecs
from synthetics.aws._logs import LogSearch, search_logs
from synthetics.aws._metrics import latest_metric
from synthetics.aws._rds import RdsState, read_rds
from synthetics.aws._s3 import (
    BLOCK_SETTINGS,
    JANITOR,
    CanaryResult,
    Permission,
    PublicAccess,
    Unread,
    public_grants,
    read_public_access,
    readable_by_anyone,
    s3_canary,
)

__all__ = [
    "BLOCK_SETTINGS",
    "JANITOR",
    "PERMISSIONS",
    "AwsAccess",
    "AwsDenied",
    "AwsProblem",
    "CanaryResult",
    "DatabaseProbe",
    "Ec2State",
    "EcsState",
    "LogSearch",
    "Permission",
    "PublicAccess",
    "RdsState",
    "Unread",
    "error_code",
    "latest_metric",
    "open_aws",
    "permission",
    "probe_database",
    "public_grants",
    "read_ec2",
    "read_ecs",
    "read_public_access",
    "read_rds",
    "readable_by_anyone",
    "s3_canary",
    "search_logs",
]
