"""`python -m synthetics.silence`: a maintenance silence in the target's Alertmanager (issue 16).

    python -m synthetics.silence create --target prod --minutes 90 [--vantage github] [--created-by WHO]
    python -m synthetics.silence expire --target prod (--id SILENCE_ID | --created-by WHO)

`create` silences every alert of the target (of one vantage with --vantage) but the watchdog, for a
bounded time, so a silence nobody removes still ends; it prints the silence's id. `expire` removes
one silence by id, or every active silence of the target made by --created-by (what the deploy gate
does, so its removing job needs nothing from the job that set it). The Alertmanager and its bearer
token come from the target: reporting.alertmanager_url and the variable
credentials.alertmanager_token_env names. Exit status 0 on success (also when the target names no
Alertmanager: nothing to silence, said on stderr), 1 when Alertmanager refused or did not answer
(one line on stderr, no traceback, no secret), 4 for a bad target file or arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from synthetics.alert_rules import WATCHDOG
from synthetics.alertmanager import AlertmanagerProblem, alertmanager_client
from synthetics.redact import Redactor
from synthetics.target import Target, TargetError, load_target

__all__ = ["MAX_MINUTES", "main", "silence_matchers"]

# A silence outlives a forgotten removal by at most this: a deploy with its post-deploy gate (which
# may wait an hour for ECS to settle) fits, a day of missed pages does not.
MAX_MINUTES = 720
_DEADLINE_S = 30.0  # the whole command, however many silences `expire` finds
_MAX_EXPIRED = 20  # silences one `expire --created-by` removes (a runaway loop would make more)
_SILENCE_ID = re.compile(r"[0-9a-fA-F-]{1,64}")
_REPO = Path(__file__).resolve().parents[1]


def silence_matchers(target: str, vantage: str | None = None) -> list[dict[str, Any]]:
    """The target's alerts (one vantage's, when given) but the watchdog: a deploy must not look, to a
    dead man's switch service, like the suite stopped running."""
    matchers: list[dict[str, Any]] = [{"name": "target", "value": target, "isRegex": False, "isEqual": True}]
    if vantage:
        matchers.append({"name": "vantage", "value": vantage, "isRegex": False, "isEqual": True})
    matchers.append({"name": "alertname", "value": WATCHDOG, "isRegex": False, "isEqual": False})
    return matchers


def _minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {value!r}") from None
    if not 1 <= minutes <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_MINUTES} minutes (a bound, so it expires)")
    return minutes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthetics.silence", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (("create", "set a bounded silence; prints its id"), ("expire", "remove silences")):
        command = commands.add_parser(name, help=summary)
        command.add_argument("--target", required=True, help="a NAME for targets/NAME.yaml, or a PATH to a target file")
        command.add_argument("--created-by", default="", help="who sets it (expire: remove every one it set)")
    create = commands.choices["create"]
    create.add_argument("--minutes", type=_minutes, default=60.0, help=f"how long (1-{MAX_MINUTES}, default 60)")
    create.add_argument("--vantage", default=None, help="only this vantage's alerts (default: every vantage)")
    create.add_argument("--comment", default="", help="why (default: a maintenance window of the target)")
    commands.choices["expire"].add_argument("--id", default=None, help="the silence id `create` printed")
    return parser


def _target(value: str) -> Target:
    path = Path(value) if "/" in value or value.endswith((".yaml", ".yml")) else _REPO / "targets" / f"{value}.yaml"
    return load_target(path.resolve())


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() >= self.ends:
            raise AlertmanagerProblem(f"gave up after {_DEADLINE_S:.0f} s")


def _answer(response: httpx.Response) -> Any:
    if not response.is_success:
        detail = " ".join(response.text.split())[:200]
        raise AlertmanagerProblem(f"{response.request.method} {response.request.url} answered "
                                  f"{response.status_code}{': ' + detail if detail else ''}")  # fmt: skip
    return response.json() if response.content else None


def _create(client: httpx.Client, target: Target, args: argparse.Namespace, deadline: _Deadline) -> str:
    now = datetime.now(UTC)
    ends = now + timedelta(minutes=args.minutes)
    comment = args.comment or f"maintenance of {target.name} (bounded: ends by itself at {ends:%Y-%m-%d %H:%M} UTC)"
    body = {
        "matchers": silence_matchers(target.name, args.vantage),
        "startsAt": now.isoformat(timespec="seconds"),
        "endsAt": ends.isoformat(timespec="seconds"),
        "createdBy": args.created_by or "synapse-synthetics",
        "comment": comment,
    }
    deadline.check()
    answer = _answer(client.post("api/v2/silences", json=body))
    silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
    if not isinstance(silence_id, str) or not silence_id:
        raise AlertmanagerProblem(f"{client.base_url} answered no silenceID")
    return silence_id


def _expire(client: httpx.Client, target: Target, args: argparse.Namespace, deadline: _Deadline) -> list[str]:
    if args.id:
        ids = [args.id]
    else:
        deadline.check()
        found = _answer(client.get("api/v2/silences", params={"filter": f"target={json.dumps(target.name)}"}))
        ids = [
            silence["id"]
            for silence in (found if isinstance(found, list) else [])
            if isinstance(silence, dict)
            and silence.get("createdBy") == args.created_by
            and (silence.get("status") or {}).get("state") in ("active", "pending")
        ][:_MAX_EXPIRED]
    for silence_id in ids:
        if not isinstance(silence_id, str) or not _SILENCE_ID.fullmatch(silence_id):
            raise AlertmanagerProblem(f"not a silence id: {silence_id!r}")
        deadline.check()
        _answer(client.delete(f"api/v2/silence/{silence_id}"))
    return ids


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 4 if exit_.code else 0
    if args.command == "expire" and not (args.id or args.created_by):
        print("expire needs --id or --created-by", file=sys.stderr)
        return 4
    try:
        target = _target(args.target)
    except TargetError as error:
        print(f"invalid target: {error}", file=sys.stderr)
        return 4
    if not target.reporting.alertmanager_url:
        print(f"no silence: reporting.alertmanager_url is not set in {target.source}", file=sys.stderr)
        return 0
    redact = Redactor.for_target(target, environ)
    deadline = _Deadline(_DEADLINE_S)
    try:
        with alertmanager_client(target, environ) as client:
            if args.command == "create":
                print(_create(client, target, args, deadline))
            else:
                expired = _expire(client, target, args, deadline)
                if expired:
                    print("\n".join(expired))
                else:
                    print(f"no active silence of {target.name} to expire", file=sys.stderr)
    except AlertmanagerProblem as problem:
        print(f"alertmanager: {redact(str(problem))}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, ValueError) as error:
        print(f"alertmanager: {redact(f'{target.reporting.alertmanager_url}: {type(error).__name__}: {error}')}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
