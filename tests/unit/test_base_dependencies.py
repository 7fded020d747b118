"""The suite runs on its base dependencies alone: the image (deploy/Dockerfile) installs no extra, so
every module the suite imports at load time must come from `[project].dependencies` or what they
require (issue 17; signedjson, unpaddedbase64 and cryptography came only with the reference
deployment's Synapse before). Imports inside a function are the lazy ones (psycopg2 for the direct
database probe, which the image installs itself; the reference deployment for the local target)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    *REPO.glob("synthetics/**/*.py"),
    *REPO.glob("fixtures/**/*.py"),
    *REPO.glob("checks/*.py"),
    REPO / "conftest.py",
]
OWN = {"synthetics", "fixtures", "checks", "stack", "tests"}


def load_time_imports(path: Path) -> set[str]:
    """Top-level names imported at module level (also under `if`/`try`), not inside a def."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(ast.parse(path.read_text()).body)
    return found


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with what they require in turn (extras included)."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.requires(requirement.name) or []:
            needed = Requirement(line)
            environments = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if needed.marker is None or any(needed.marker.evaluate(env) for env in environments):
                pending.append(needed)
    return {key.split("[")[0] for key in seen}


def test_every_load_time_import_comes_with_the_base_dependencies() -> None:
    base = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = closure(base)
    providers = metadata.packages_distributions()
    missing = {}
    for path in SOURCES:
        for module in load_time_imports(path) - OWN - set(sys.stdlib_module_names) - {"__future__", "_typeshed"}:
            distributions = {canonicalize_name(d) for d in providers.get(module, [])}
            if not distributions & installed:
                missing[module] = f"{path.relative_to(REPO)} (from {sorted(distributions) or 'nothing installed'})"
    assert not missing, f"imported at load time but not in [project].dependencies: {missing}"
