"""What the checks declare about themselves, read the way pytest sees them.

The proof test, the name-space test and the runbook map's generator all need every check's id,
failure mode and `proven_by`. They read them from a `pytest --collect-only` of `checks/` in a
subprocess, with this module as a plugin that writes each collected check's `check_info` as JSON:
the checks are then exactly the ones a run collects (parametrised ids included), and importing
them never touches the process that asks (no markers, no fixtures, no target of its own).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from synthetics.check import MARKER, check_info

__all__ = ["Declared", "collect", "declared_by"]

REPO = Path(__file__).resolve().parents[2]
# Where the plugin writes what it collected (set by `collect` for its subprocess only).
OUTPUT_ENV = "SYNTHETICS_DECLARATIONS_OUT"
COLLECT_DEADLINE_S = 120


@dataclass(frozen=True)
class Declared:
    """One collected check as its `@check(...)` declares it."""

    id: str
    title: str
    detects: str
    proven_by: tuple[str, ...]  # what proves this check (this parameter of it), as `check_info` says
    declares: tuple[str, ...] = ()  # `proven_by` as written on the function (`name[param]` included)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Plugin side: write every collected check's declaration where `collect` asked."""
    output = os.environ.get(OUTPUT_ENV)
    if not output:
        return
    found = []
    for item in session.items:
        info = check_info(item)
        marker = item.get_closest_marker(MARKER)
        if info is not None and marker is not None:
            found.append(
                {
                    "id": info.id,
                    "title": info.title,
                    "detects": str(info.detects),
                    "proven_by": list(info.proven_by),
                    "declares": list(marker.kwargs.get("proven_by", ())),
                }
            )
    Path(output).write_text(json.dumps(found, indent=1))


@functools.cache
def collect() -> tuple[Declared, ...]:
    """Every check of `checks/` with its declarations, from a collect-only run in a subprocess.

    Cached: the declarations cannot change while a test session runs, and a collection costs a
    second or two.
    """
    with tempfile.TemporaryDirectory(prefix="synthetics-declarations-") as scratch:
        output = Path(scratch) / "declared.json"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                __name__,
                # Nothing of a collection may land in the repository's reports/.
                f"--alluredir={Path(scratch) / 'allure-results'}",
                f"--verdict={Path(scratch) / 'verdict.json'}",
                "checks",
            ],
            cwd=REPO,
            env={**os.environ, OUTPUT_ENV: str(output)},
            capture_output=True,
            text=True,
            timeout=COLLECT_DEADLINE_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if completed.returncode != 0 or not output.exists():
            output_text = completed.stdout + completed.stderr
            raise RuntimeError(f"collecting checks/ failed ({completed.returncode}):\n{output_text}")
        records = json.loads(output.read_text())
    return tuple(
        Declared(r["id"], r["title"], r["detects"], tuple(r["proven_by"]), tuple(r["declares"])) for r in records
    )


def declared_by(declared: tuple[Declared, ...]) -> Mapping[str, tuple[Declared, ...]]:
    """Each proof name (a stack fault or a proof of tests/suite) -> the checks that declare it."""
    by_name: dict[str, list[Declared]] = defaultdict(list)
    for each in declared:
        for name in each.proven_by:
            by_name[name].append(each)
    return {name: tuple(checks) for name, checks in sorted(by_name.items())}
