"""AWS as the runbook's remediations see it: ECS, RDS, the S3 media bucket, CloudWatch logs and metrics.

The same boto3 code reaches AWS or an AWS-compatible endpoint (`aws.endpoint_url`). Every call has
a connect and read deadline and a bounded number of attempts.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.aws._access import AwsAccess, AwsProblem, one_line, open_aws
from synthetics.aws._ec2 import Ec2State, read_ec2
from synthetics.aws._ecs import EcsState, read_ecs
from synthetics.aws._logs import LogSearch, search_logs
from synthetics.aws._metrics import latest_metric
from synthetics.aws._rds import RdsState, read_rds
from synthetics.aws._s3 import JANITOR, CanaryResult, PublicAccess, read_public_access, s3_canary

__all__ = [
    "JANITOR",
    "AwsAccess",
    "AwsProblem",
    "CanaryResult",
    "DatabaseProbe",
    "Ec2State",
    "EcsState",
    "LogSearch",
    "PublicAccess",
    "RdsState",
    "latest_metric",
    "open_aws",
    "probe_database",
    "read_ec2",
    "read_ecs",
    "read_public_access",
    "read_rds",
    "s3_canary",
    "search_logs",
]

# ---------------------------------------------------------------------------------------------
# A direct, read-only look at the database (optional: the target names a DSN's variable)


@dataclass(frozen=True)
class DatabaseProbe:
    connected: bool
    error: str | None = None
    connections: int | None = None
    max_connections: int | None = None
    oldest_query_s: float | None = None

    @property
    def pool_use(self) -> float | None:
        if self.connections is None or not self.max_connections:
            return None
        return self.connections / self.max_connections


def probe_database(dsn: str, timeout_s: float) -> DatabaseProbe:
    """Connects read-only, runs SELECT 1, and reads connection use and the oldest running query."""
    import psycopg2

    try:
        connection = psycopg2.connect(
            dsn,
            connect_timeout=max(1, int(timeout_s)),
            application_name="synapse-synthetics",
            options=f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_s * 1000)}",
        )
    except psycopg2.Error as error:
        # The message names the host and the reason; libpq does not echo the password.
        return DatabaseProbe(False, one_line(error))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT count(*) FROM pg_stat_activity")
            connections = int(cursor.fetchone()[0])
            cursor.execute("SELECT current_setting('max_connections')::int")
            max_connections = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT coalesce(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity "
                "WHERE state = 'active' AND pid <> pg_backend_pid()"
            )
            oldest = float(cursor.fetchone()[0])
    except psycopg2.Error as error:
        return DatabaseProbe(True, one_line(error))
    finally:
        connection.close()
    return DatabaseProbe(True, None, connections, max_connections, oldest)
