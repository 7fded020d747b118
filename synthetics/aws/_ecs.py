"""ECS: the service, its deployments and recently stopped tasks, polled like `aws ecs wait services-stable`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from synthetics.aws._access import AwsAccess
from synthetics.target import EcsSettings


@dataclass(frozen=True)
class EcsDeployment:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    rollout_state: str | None  # COMPLETED | IN_PROGRESS | FAILED
    rollout_reason: str | None
    task_definition: str
    desired: int
    running: int
    failed_tasks: int


@dataclass(frozen=True)
class StoppedTask:
    task: str
    stopped_reason: str
    stopped_at: str
    containers: tuple[str, ...]


@dataclass(frozen=True)
class EcsState:
    cluster: str
    service: str
    found: bool
    status: str | None = None
    desired: int = 0
    running: int = 0
    pending: int = 0
    task_definition: str | None = None
    deployments: tuple[EcsDeployment, ...] = ()
    events: tuple[str, ...] = ()
    stopped_tasks: tuple[StoppedTask, ...] = ()
    waited_s: float = 0.0

    @property
    def primary(self) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    @property
    def settled(self) -> bool:
        """What `aws ecs wait services-stable` accepts, and what it misses: a completed, clean rollout."""
        primary = self.primary
        return (
            self.found
            and len(self.deployments) == 1
            and self.running == self.desired > 0
            and primary is not None
            and primary.rollout_state in (None, "COMPLETED")
            and primary.failed_tasks == 0
        )

    @property
    def rollout_failed(self) -> bool:
        return any(d.rollout_state == "FAILED" for d in self.deployments)


def _describe_ecs(access: AwsAccess, settings: EcsSettings) -> EcsState:
    ecs = access.client("ecs")
    found = ecs.describe_services(cluster=settings.cluster, services=[settings.service]).get("services", [])
    service = next((s for s in found if s.get("status") != "MISSING"), None)
    if service is None:
        return EcsState(settings.cluster, settings.service, found=False)
    deployments = tuple(
        EcsDeployment(
            id=d.get("id", ""),
            status=d.get("status", ""),
            rollout_state=d.get("rolloutState"),
            rollout_reason=d.get("rolloutStateReason"),
            task_definition=d.get("taskDefinition", "").rsplit("/", 1)[-1],
            desired=int(d.get("desiredCount", 0)),
            running=int(d.get("runningCount", 0)),
            failed_tasks=int(d.get("failedTasks", 0)),
        )
        for d in service.get("deployments", [])
    )
    events = tuple(str(e.get("message", "")) for e in service.get("events", [])[:5])
    return EcsState(
        cluster=settings.cluster,
        service=settings.service,
        found=True,
        status=service.get("status"),
        desired=int(service.get("desiredCount", 0)),
        running=int(service.get("runningCount", 0)),
        pending=int(service.get("pendingCount", 0)),
        task_definition=str(service.get("taskDefinition", "")).rsplit("/", 1)[-1] or None,
        deployments=deployments,
        events=events,
        stopped_tasks=_stopped_tasks(ecs, settings),
    )


def _stopped_tasks(ecs: Any, settings: EcsSettings, limit: int = 5) -> tuple[StoppedTask, ...]:
    arns = ecs.list_tasks(
        cluster=settings.cluster, serviceName=settings.service, desiredStatus="STOPPED", maxResults=limit
    ).get("taskArns", [])
    if not arns:
        return ()
    tasks = ecs.describe_tasks(cluster=settings.cluster, tasks=arns[:limit]).get("tasks", [])
    return tuple(
        StoppedTask(
            task=str(task.get("taskArn", "")).rsplit("/", 1)[-1],
            stopped_reason=str(task.get("stoppedReason", "")),
            stopped_at=str(task.get("stoppedAt", "")),
            containers=tuple(
                f"{c.get('name')}: {c.get('reason') or ''} (exit {c.get('exitCode')})".strip()
                for c in task.get("containers", [])
                if c.get("reason") or c.get("exitCode") not in (None, 0)
            ),
        )
        for task in tasks
    )


def read_ecs(access: AwsAccess, settings: EcsSettings, *, wait_stable_s: float = 0.0, poll_s: float = 5.0) -> EcsState:
    """The service now; with `wait_stable_s`, polled like the waiter until it settles, fails or time is up."""
    started = time.monotonic()
    state = _describe_ecs(access, settings)
    while wait_stable_s > 0 and state.found and not state.settled and not state.rollout_failed:
        left = wait_stable_s - (time.monotonic() - started)
        if left <= 0:
            # The whole bound was waited; the last describe's round trip is not waiting.
            return _with_wait(state, wait_stable_s)
        time.sleep(min(poll_s, left))
        state = _describe_ecs(access, settings)
    return _with_wait(state, min(time.monotonic() - started, wait_stable_s) if wait_stable_s > 0 else 0.0)


def _with_wait(state: EcsState, waited_s: float) -> EcsState:
    return replace(state, waited_s=round(waited_s, 1))
