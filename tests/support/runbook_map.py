"""Writes the Status column of docs/runbook-map.md from the checks' `proven_by` declarations.

Which fault proves which check is declared once, beside the check (`@check(..., proven_by=...)`),
and asserted by tests/suite/test_proofs.py. The runbook map says the same to a person; written by
hand it went stale, so its status cells are generated here and a test fails when they disagree:

    .venv/bin/python -m tests.support.runbook_map          # rewrite the status cells
    .venv/bin/python -m tests.support.runbook_map --check  # exit 1, with a diff, when they are stale

Only the status cells are written. A row names its checks in its Check (or Checks) cell, as code
spans: `area.name` (every parameter of it), `area.name[a\\|b]` (those parameters) or
`area.name[...]` (every parameter); other code spans there (a failure mode, an option) are prose.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.support.declarations import REPO, Declared, collect

__all__ = ["DOCUMENT", "REGENERATE", "RunbookMapError", "referenced", "render"]

DOCUMENT = REPO / "docs" / "runbook-map.md"
REGENERATE = ".venv/bin/python -m tests.support.runbook_map"
STATUS = "Status"
CHECK_COLUMNS = ("Check", "Checks")
NOT_YET = "not yet proven"

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_REFERENCE = re.compile(r"^(?P<base>[a-z0-9_]+\.[a-z0-9_]+)(?:\[(?P<params>[^\]]*)\])?$")
_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


class RunbookMapError(Exception):
    """The document names a check that does not exist, or a status row names none."""


def _cells(line: str) -> list[str]:
    """A table row's cells, split on unescaped pipes (`a\\|b` in a code span stays one cell)."""
    return [cell.strip() for cell in _CELL_SPLIT.split(line.strip())[1:-1]]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def referenced(cell: str, checks: Mapping[str, Declared]) -> list[str]:
    """The check ids a Check cell names, in the order it names them (see the module's docstring)."""
    found: list[str] = []
    for span in _CODE_SPAN.findall(cell):
        match = _REFERENCE.match(span.strip())
        if match is None:
            continue
        base, params = match["base"], match["params"]
        family = [check_id for check_id in checks if check_id == base or check_id.startswith(base + "[")]
        if not family:
            continue  # not a check: a target key such as `tls.min_days_remaining`
        if params is None or params == "...":
            chosen = family
        else:
            chosen = [f"{base}[{param.strip()}]" for param in params.replace("\\|", "|").split("|")]
            unknown = [check_id for check_id in chosen if check_id not in checks]
            if unknown:
                raise RunbookMapError(f"{DOCUMENT.name} names {', '.join(unknown)}, which no check is")
        found.extend(check_id for check_id in chosen if check_id not in found)
    return found


def _proofs(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _units(ids: Sequence[str], checks: Mapping[str, Declared]) -> list[tuple[str, tuple[str, ...]]]:
    """The ids as (label, proofs): a parametrised check whose parameters share their proofs is one
    label (`tls.modern_protocol`); otherwise its parameters are grouped by proofs (`x[a\\|b]`)."""
    units: list[tuple[str, tuple[str, ...]]] = []
    bases: dict[str, list[str]] = {}
    for check_id in ids:
        bases.setdefault(check_id.split("[", 1)[0], []).append(check_id)
    for base, members in bases.items():
        by_proofs: dict[tuple[str, ...], list[str]] = {}
        for check_id in members:
            by_proofs.setdefault(checks[check_id].proven_by, []).append(check_id)
        if len(by_proofs) == 1 or members == [base]:
            units.append((base, checks[members[0]].proven_by))
            continue
        for proven_by, group in by_proofs.items():
            params = "\\|".join(check_id.split("[", 1)[1].rstrip("]") for check_id in group)
            units.append((f"{base}[{params}]", proven_by))
    return units


def render(ids: Sequence[str], checks: Mapping[str, Declared]) -> str:
    """A status cell: "proven (`fault`, ...)" when every check of the row shares its proofs, "not yet
    proven" when none has any; otherwise which check is proven by what, proven ones first."""
    units = _units(ids, checks)
    if len({proven_by for _, proven_by in units}) == 1:
        proven_by = units[0][1]
        return f"proven ({_proofs(proven_by)})" if proven_by else NOT_YET
    groups: dict[tuple[str, ...], list[str]] = {}
    for label, proven_by in units:
        groups.setdefault(proven_by, []).append(f"`{label}`")
    parts = [f"{', '.join(labels)}: proven ({_proofs(p)})" for p, labels in groups.items() if p]
    parts += [f"{', '.join(labels)}: {NOT_YET}" for p, labels in groups.items() if not p]
    return "; ".join(parts)


@dataclass(frozen=True)
class Generated:
    text: str
    covered: frozenset[str]  # every check id some status row names


def generate(document: str, declared: Iterable[Declared]) -> Generated:
    """The document with every status cell rewritten from the declarations."""
    checks = {each.id: each for each in declared}
    lines = document.splitlines(keepends=False)
    covered: set[str] = set()
    columns: tuple[int, int] | None = None  # (check column, status column) of the table being read
    for number, line in enumerate(lines):
        if not line.startswith("|"):
            columns = None
            continue
        cells = _cells(line)
        if columns is None:
            # A table's first row is its header.
            status = cells.index(STATUS) if STATUS in cells else None
            check = next((cells.index(name) for name in CHECK_COLUMNS if name in cells), None)
            columns = (check, status) if check is not None and status is not None else (-1, -1)
            continue
        check, status = columns
        if status < 0 or _SEPARATOR.match(line):
            continue
        ids = referenced(cells[check], checks)
        if not ids:
            raise RunbookMapError(f"{DOCUMENT.name}:{number + 1}: a status row names no check: {cells[check]!r}")
        covered.update(ids)
        cells[status] = render(ids, checks)
        lines[number] = _row(cells)
    return Generated("\n".join(lines) + ("\n" if document.endswith("\n") else ""), frozenset(covered))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.runbook_map", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the document is up to date")
    arguments = parser.parse_args(argv)
    current = DOCUMENT.read_text()
    generated = generate(current, collect()).text
    if generated == current:
        return 0
    if arguments.check:
        diff = difflib.unified_diff(
            current.splitlines(True), generated.splitlines(True), "docs/runbook-map.md", "generated"
        )
        sys.stdout.writelines(diff)
        print(f"\ndocs/runbook-map.md is stale; regenerate it with: {REGENERATE}")
        return 1
    DOCUMENT.write_text(generated)
    print(f"rewrote the status cells of {DOCUMENT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
