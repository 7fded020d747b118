"""`python -m stack`: run the reference deployment from a shell or a Makefile."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from stack._deployment import Deployment
from stack._errors import StackError
from stack._faults import REGISTRY


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="state directory (default: $SYNTHETICS_STACK_DIR or a per-user temp directory)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start in the background; print the target file's path")
    commands.add_parser("status", help="show which components are running")
    commands.add_parser("down", help="stop everything and delete the state directory")
    fault = commands.add_parser("fault", help="inject a fault")
    fault.add_argument("name", nargs="?")
    fault.add_argument(
        "--list", action="store_true", help="list faults: name, failure mode, summary, expected verdict status"
    )
    heal = commands.add_parser("heal", help="undo one fault, or all")
    heal.add_argument("name", nargs="?")
    return parser


def _run(args: argparse.Namespace) -> int:
    deployment = Deployment(args.state_dir)
    if args.command == "up":
        # No owner: it stays up after this command returns, until `down`.
        print(deployment.up())
    elif args.command == "status":
        for key, value in deployment.status().items():
            if isinstance(value, bool):
                value = ("yes" if value else "no") if key == "ready" else ("running" if value else "stopped")
            print(f"{key}: {value}")
    elif args.command == "down":
        deployment.down()
    elif args.command == "fault" and args.list:
        for fault in REGISTRY.values():
            print(f"{fault.name}\t{fault.failure_mode}\t{fault.summary}\t{fault.status}")
    elif args.command == "fault":
        if not args.name:
            raise StackError("fault needs a NAME (or --list)")
        deployment.fault(args.name)
    elif args.command == "heal":
        deployment.heal(args.name)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Progress goes to stderr, so stdout carries only what scripts consume.
    logging.basicConfig(level=logging.WARNING, format="stack: %(message)s", stream=sys.stderr)
    logging.getLogger("stack").setLevel(logging.INFO)
    try:
        return _run(args)
    except StackError as err:
        print(f"stack: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
