"""Assertions on the AWS side: ECS, RDS, the S3 media bucket and the logs."""

from __future__ import annotations

from collections.abc import Mapping

from synthetics.aws import (
    BLOCK_SETTINGS,
    CanaryResult,
    DatabaseProbe,
    Ec2State,
    EcsState,
    LogSearch,
    Permission,
    PublicAccess,
    RdsState,
)
from synthetics.must._core import fail, note, warn


def _service(state: EcsState) -> str:
    return f"ECS service {state.service} in cluster {state.cluster}"


def run_the_service(state: EcsState) -> None:
    """The service exists, is ACTIVE and runs as many tasks as it wants (and wants some)."""
    __tracebackhide__ = True
    if not state.found:
        raise fail(
            f"{_service(state)} does not exist. The runbook is unsure whether Synapse runs on ECS Fargate "
            "or EC2: if it is EC2, set aws.ec2 in the target instead of aws.ecs",
        )
    if state.status != "ACTIVE":
        raise fail(f"{_service(state)} is {state.status}, not ACTIVE")
    if state.desired == 0 or state.running < state.desired:
        stopped = "; ".join(
            f"task {t.task} stopped: {t.stopped_reason}" + (f" ({', '.join(t.containers)})" if t.containers else "")
            for t in state.stopped_tasks[:2]
        )
        raise fail(
            f"{_service(state)} runs {state.running} of {state.desired} desired task(s)"
            + (f"; {stopped}" if stopped else "")
            + (f"; latest event: {state.events[0]}" if state.events else ""),
        )


def settle(state: EcsState) -> None:
    """One deployment, rolled out completely with no failed tasks: what `services-stable` accepts,
    and what it misses (rolloutState, failedTasks)."""
    __tracebackhide__ = True
    if state.settled:
        if state.waited_s:
            note(f"{_service(state)} settled after {state.waited_s:g} s of waiting")
        return
    waited = f" after waiting {state.waited_s:g} s" if state.waited_s else ""
    rollouts = ", ".join(
        f"{d.status} {d.task_definition} {d.rollout_state or '?'} ({d.running}/{d.desired} running, "
        f"{d.failed_tasks} failed)" + (f": {d.rollout_reason}" if d.rollout_reason else "")
        for d in state.deployments
    )
    if state.rollout_failed:
        problem = "a rollout FAILED"
    elif len(state.deployments) > 1:
        problem = f"{len(state.deployments)} deployments are live at once"
    elif state.running != state.desired or state.desired == 0:
        problem = f"{state.running} of {state.desired} tasks run"
    else:
        problem = "the rollout has not completed"
    raise fail(f"{_service(state)} is not settled{waited}: {problem} [{rollouts}]")


def stay_under_utilisation(utilisation: dict[str, float | None], cpu_percent: float, memory_percent: float) -> None:
    __tracebackhide__ = True
    limits = {"CPUUtilization": cpu_percent, "MemoryUtilization": memory_percent}
    over = [
        f"{metric} {value:.0f}% over {limits[metric]:.0f}%"
        for metric, value in utilisation.items()
        if value is not None and value > limits[metric]
    ]
    missing = [metric for metric, value in utilisation.items() if value is None]
    if missing:
        note(f"no recent AWS/ECS datapoints for {', '.join(missing)}")
    if over:
        raise fail(f"the ECS service is busy: {'; '.join(over)}")


def be_available(state: RdsState) -> None:
    __tracebackhide__ = True
    if not state.found:
        raise fail(f"RDS instance {state.instance} does not exist")
    if state.status != "available":
        raise fail(
            f"RDS instance {state.instance} is {state.status!r}, not 'available': Synapse cannot use its database",
        )


def have_free_storage(state: RdsState, min_free_mb: float) -> None:
    __tracebackhide__ = True
    if state.free_storage_bytes is None:
        note(f"no recent FreeStorageSpace datapoint for RDS instance {state.instance}")
        return
    free_mb = state.free_storage_bytes / 1024 / 1024
    if free_mb < min_free_mb:
        raise fail(
            f"RDS instance {state.instance} has {free_mb:.0f} MB free, under {min_free_mb:.0f} MB",
        )


def write_media(result: CanaryResult) -> None:
    """The media bucket takes a write, gives it back byte for byte and lets it be deleted."""
    __tracebackhide__ = True
    if result.failed_step is not None:
        raise fail(
            f"S3 media bucket {result.bucket}: {result.failed_step} failed with {result.error_code} "
            f"({result.error}); done before: {'; '.join(result.steps) or 'nothing'}",
        )


def block_public_access(access: PublicAccess) -> None:
    """The media bucket is not public, and public access to it stays blocked ("Public means public").

    Public is what AWS applies. The bucket's and the account's public access blocks count setting
    by setting (a setting on at either level is on); RestrictPublicBuckets makes a public bucket
    policy ineffective and IgnorePublicAcls public ACL grants, while BlockPublicPolicy and
    BlockPublicAcls only refuse new ones. So:
    - a public policy or ACL grant (to AllUsers or AuthenticatedUsers) that no setting makes
      ineffective: the bucket is public, the check fails naming it and the setting that stops it;
    - public or not, undecided because a read got no answer: the check fails naming the permission;
    - private, but a setting off at both levels: a warning (nothing stops a future public policy or
      ACL), naming the settings;
    - private, every setting on at one level or the other: passes.
    A read that got no answer but decides nothing is a note.
    """
    __tracebackhide__ = True
    bucket = f"S3 media bucket {access.bucket}"
    restricted = _effective(access, "RestrictPublicBuckets")
    ignored = _effective(access, "IgnorePublicAcls")
    policy_public = _policy_public(access)
    acl_public = None if access.public_grants is None else bool(access.public_grants)
    by_policy = _both(policy_public, _negated(restricted))
    by_acl = _both(acl_public, _negated(ignored))

    # The reads that leave each way in undecided.
    needed: set[Permission] = set()
    if by_policy is None:
        needed |= _BLOCK_READS if restricted is None else set()
        needed |= {Permission.POLICY_STATUS, Permission.POLICY} if policy_public is None else set()
    if by_acl is None:
        needed |= _BLOCK_READS if ignored is None else set()
        needed |= {Permission.ACL} if acl_public is None else set()
    undecided = _unread(access, needed)

    exposures = []
    if by_policy:
        exposures.append(
            f"its bucket policy lets anyone in ({_policy_evidence(access)}), and RestrictPublicBuckets is not on "
            f"to make it ineffective ({_levels(access)}); turn it on (BlockPublicPolicy also refuses new public "
            "policies)"
        )
    if by_acl:
        exposures.append(
            f"its ACL grants {', '.join(access.public_grants or ())}, and IgnorePublicAcls is not on to make them "
            f"ineffective ({_levels(access)}); turn it on (BlockPublicAcls also refuses new public ACLs)"
        )
    if exposures:
        also = f"; also undecided: {undecided}" if undecided else ""
        raise fail(f"{bucket} is public: {'; '.join(exposures)}{also}")
    if undecided:
        ways = [way for way, seen in (("its bucket policy", by_policy), ("its ACL", by_acl)) if seen is None]
        raise fail(f"cannot tell whether {bucket} is public ({' and '.join(ways)}): {undecided}")

    # Private now. What stops it becoming public, and what was seen on the way.
    if policy_public:
        note(
            f"{bucket}: its bucket policy is public ({_policy_evidence(access)}), "
            "made ineffective by RestrictPublicBuckets"
        )
    if acl_public:
        note(f"{bucket}: its ACL grants {', '.join(access.public_grants or ())}, made ineffective by IgnorePublicAcls")
    off = [setting for setting in BLOCK_SETTINGS if _effective(access, setting) is False]
    unknown = [setting for setting in BLOCK_SETTINGS if _effective(access, setting) is None]
    unread_blocks = _unread(access, _BLOCK_READS)
    for unneeded in access.unread:
        if unneeded.permission not in _BLOCK_READS or not unknown:
            note(f"{bucket}: not needed for the verdict, not read: {unneeded}")
    if not off and not unknown:
        return
    missing = [
        *([f"{', '.join(off)} not on at either level ({_levels(access)})"] if off else []),
        *([f"{', '.join(unknown)} not on where read ({_levels(access)}); {unread_blocks}"] if unknown else []),
    ]
    warn(
        f"{bucket} is private now (no public bucket policy or ACL grant in effect), but nothing stops a future "
        f"public policy or ACL: {'; '.join(missing)}. Turn them on: aws s3api put-public-access-block --bucket "
        f"{access.bucket} (or for the account: aws s3control put-public-access-block"
        + (f" --account-id {access.account}" if access.account else "")
        + ")"
    )


def _unread(access: PublicAccess, permissions: set[Permission]) -> str:
    """The reads of these permissions that got no answer, and what to grant the role for those denied."""
    unread = [u for u in access.unread if u.permission in permissions]
    grant = [str(u.permission) for u in unread if u.denied]
    return "; ".join(str(u) for u in unread) + (f": grant the role {', '.join(grant)}" if grant else "")


# The reads the effective block is made of.
_BLOCK_READS = {Permission.BUCKET_BLOCK, Permission.IDENTITY, Permission.ACCOUNT_BLOCK}


def _blocks(access: PublicAccess) -> tuple[tuple[str, Mapping[str, bool] | None], ...]:
    return (("bucket", access.bucket_block), ("account", access.account_block))


def _effective(access: PublicAccess, setting: str) -> bool | None:
    """The setting as AWS applies it: on at either level is on; None when that depends on a block unread."""
    blocks = [block for _, block in _blocks(access)]
    if any(block is not None and block.get(setting) for block in blocks):
        return True
    return None if any(block is None for block in blocks) else False


def _levels(access: PublicAccess) -> str:
    """What each level's block says of the settings named with it: off in it, no block at all, or unread."""
    said = []
    for level, block in _blocks(access):
        if block is None:
            said.append(f"the {level}-level block unread")
        elif not block:
            said.append(f"no {level}-level block")
        else:
            said.append(f"off in the {level}-level block")
    return ", ".join(said)


def _policy_public(access: PublicAccess) -> bool | None:
    """AWS's evaluation (IsPublic), or the document's statements letting anyone read, either saying so."""
    if access.policy_public or access.public_statements:
        return True
    if access.policy_public is False or access.has_policy is False:
        return False
    return None


def _policy_evidence(access: PublicAccess) -> str:
    said = ["GetBucketPolicyStatus: IsPublic"] if access.policy_public else []
    said += list(access.public_statements or ())
    return "; ".join(said)


def _both(first: bool | None, second: bool | None) -> bool | None:
    if first is False or second is False:
        return False
    return True if first and second else None


def _negated(value: bool | None) -> bool | None:
    return None if value is None else not value


def log_no_database_errors(search: LogSearch, live: Mapping[str, bool | None] | None = None) -> None:
    """No database errors in the logs, judged against the live checks of the database (`live`: what
    each saw: passed, failed, or None when it could not reach the database at all):
    - errors while a live check fails are the outage;
    - errors still arriving during this run: a warning with their count while every live check
      passes (intermittent), the outage otherwise (nothing live says the database is fine);
    - errors that stopped before this run began: recovered, a warning.
    """
    __tracebackhide__ = True
    if not search.matches:
        return
    lines = " | ".join(f"{m.timestamp} {m.message[:200]}" for m in search.matches[-3:])
    counted = f"{'at least ' if search.counted_at_least else ''}{search.counted}"
    seen = dict(live or {})
    failing = [name for name, passed in seen.items() if passed is False]
    confirmed = bool(seen) and all(passed is True for passed in seen.values())
    outage = f"{counted} database error line(s) in {search.group} since {search.since}: {lines}"
    if failing:
        raise fail(f"{outage} (and the live check(s) {', '.join(failing)} fail)")
    if search.arriving:
        if not confirmed:
            raise fail(f"{outage}, still arriving during this run, with no live check to say the database is fine")
        warn(
            f"intermittent: {len(search.arriving)} database error line(s) logged during this run (since "
            f"{search.arriving_since}; {counted} since {search.since}) while the live checks pass "
            f"({', '.join(seen)}): {lines}"
        )
        return
    judged = f"the live checks pass ({', '.join(seen)})" if confirmed else "no live check could reach the database now"
    warn(
        f"recovered: the last of {counted} database error line(s) in {search.group} was logged at "
        f"{search.newest}, before this run began ({search.arriving_since}); {judged}",
        recovered=True,
    )


def run_the_instances(state: Ec2State) -> None:
    """The EC2 instance(s) Synapse runs on are running and pass their status checks."""
    __tracebackhide__ = True
    if not state.instances:
        raise fail(f"no EC2 instance matches {state.selector}")
    unhealthy = [i for i in state.instances if not i.healthy]
    if unhealthy:
        detail = "; ".join(
            f"{i.instance_id} is {i.state} (instance status {i.instance_status}, system status {i.system_status})"
            for i in unhealthy
        )
        raise fail(f"EC2 {state.selector}: {detail}")


def answer_directly(probe: DatabaseProbe, busy_ratio: float = 0.9) -> None:
    """A read-only session connects and answers, with connection slots to spare."""
    __tracebackhide__ = True
    if not probe.connected or probe.error:
        raise fail(f"the database does not answer a direct probe: {probe.error}")
    use = probe.pool_use
    if use is not None and use >= busy_ratio:
        raise fail(
            f"the database has {probe.connections} of {probe.max_connections} connections in use: the pool is "
            "close to exhausted",
        )
    if probe.oldest_query_s:
        note(f"the oldest running query has run {probe.oldest_query_s:.0f} s")
