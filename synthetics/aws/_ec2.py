"""EC2 (when Synapse is not on ECS): the instances by id or tag, with their status checks."""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.aws._access import AwsAccess
from synthetics.target import Ec2Settings


@dataclass(frozen=True)
class Ec2Instance:
    instance_id: str
    state: str
    instance_status: str | None
    system_status: str | None

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.instance_status == "ok" and self.system_status == "ok"


@dataclass(frozen=True)
class Ec2State:
    selector: str
    instances: tuple[Ec2Instance, ...]


def read_ec2(access: AwsAccess, settings: Ec2Settings) -> Ec2State:
    ec2 = access.client("ec2")
    if settings.instance_id:
        selector = settings.instance_id
        reservations = ec2.describe_instances(InstanceIds=[settings.instance_id])["Reservations"]
    else:
        assert settings.tag is not None
        selector = f"tag {settings.tag[0]}={settings.tag[1]}"
        filters = [{"Name": f"tag:{settings.tag[0]}", "Values": [settings.tag[1]]}]
        reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    found = [i for r in reservations for i in r.get("Instances", []) if i["State"]["Name"] != "terminated"]
    if not found:
        return Ec2State(selector, ())
    statuses = {
        s["InstanceId"]: s
        for s in ec2.describe_instance_status(
            InstanceIds=[i["InstanceId"] for i in found], IncludeAllInstances=True
        ).get("InstanceStatuses", [])
    }
    return Ec2State(
        selector,
        tuple(
            Ec2Instance(
                instance_id=i["InstanceId"],
                state=i["State"]["Name"],
                instance_status=statuses.get(i["InstanceId"], {}).get("InstanceStatus", {}).get("Status"),
                system_status=statuses.get(i["InstanceId"], {}).get("SystemStatus", {}).get("Status"),
            )
            for i in found
        ),
    )
