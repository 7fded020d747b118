"""RDS: the database instance as AWS describes it, with its free storage and connection metrics."""

from __future__ import annotations

from dataclasses import dataclass

import botocore.exceptions

from synthetics.aws._access import AwsAccess, error_code
from synthetics.aws._metrics import latest_metric


@dataclass(frozen=True)
class RdsState:
    instance: str
    found: bool
    status: str | None = None
    engine: str | None = None
    endpoint: str | None = None
    allocated_storage_gb: int | None = None
    free_storage_bytes: float | None = None
    connections: float | None = None


def read_rds(access: AwsAccess, instance: str) -> RdsState:
    try:
        found = access.client("rds").describe_db_instances(DBInstanceIdentifier=instance).get("DBInstances", [])
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return RdsState(instance, found=False)
        raise
    if not found:
        return RdsState(instance, found=False)
    db = found[0]
    endpoint = db.get("Endpoint") or {}
    dimensions = {"DBInstanceIdentifier": instance}
    return RdsState(
        instance=instance,
        found=True,
        status=db.get("DBInstanceStatus"),
        engine=f"{db.get('Engine')} {db.get('EngineVersion')}",
        endpoint=f"{endpoint.get('Address')}:{endpoint.get('Port')}" if endpoint else None,
        allocated_storage_gb=db.get("AllocatedStorage"),
        free_storage_bytes=latest_metric(access, "AWS/RDS", "FreeStorageSpace", dimensions, stat="Minimum"),
        connections=latest_metric(access, "AWS/RDS", "DatabaseConnections", dimensions, stat="Maximum"),
    )
