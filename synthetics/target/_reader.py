"""Walking the YAML document: the key path of every error, and `${VAR}` expansion.

Every error names the file, the key path and the problem, so a bad file is fixed in one look.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["Reader", "TargetError", "join", "kind"]

_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class TargetError(Exception):
    """A target file that cannot be used; the message is meant for a person."""

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = source
        self.key_path = key_path
        self.problem = problem
        where = f"{source}: {key_path}: " if key_path else f"{source}: "
        super().__init__(where + problem)


class Reader:
    """Reads values out of one document, remembering which variables were unset and where."""

    def __init__(self, source: str, environ: Mapping[str, str], base_dir: Path) -> None:
        self.source = source
        self.environ = environ
        # Relative file paths in the target are relative to the target file, not the working directory.
        self.base_dir = base_dir
        self.unset_variables: dict[str, str] = {}

    def fail(self, path: str, problem: str) -> TargetError:
        return TargetError(self.source, path, problem)

    def section(self, data: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
        """`data` as a mapping holding only `allowed` keys and every `required` one (not null)."""
        if not isinstance(data, Mapping):
            raise self.fail(path, f"must be a mapping, got {kind(data)}")
        known = set(allowed)
        for key in data:
            if key not in known:
                raise self.fail(join(path, str(key)), f"unknown key (known keys here: {', '.join(sorted(known))})")
        for key in sorted(required):
            if key not in data or data[key] is None:
                raise self.fail(join(path, key), "is required")
        return dict(data)

    def text(self, value: Any, path: str, *, optional: bool = False) -> str | None:
        if value is None:
            if optional:
                return None
            raise self.fail(path, "is required")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(path, f"must be a string, got {kind(value)}")
        expanded = self.expand(str(value), path)
        if expanded is None or expanded == "":
            if optional:
                return None
            variable = self.unset_variables.get(path)
            if variable:
                raise self.fail(path, f"comes from ${{{variable}}}, which is not set")
            raise self.fail(path, "must not be empty")
        return expanded

    def expand(self, value: str, path: str) -> str | None:
        """`${VAR}` and `${VAR:-default}` from the environment; None (noting the variable) when unset."""
        missing: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            # An empty variable counts as unset, as in the shell's `:-`.
            if name in self.environ and self.environ[name] != "":
                return self.environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        expanded = _ENV_REFERENCE.sub(substitute, value)
        if missing:
            self.unset_variables[path] = missing[0]
            return None
        return expanded

    def number(self, value: Any, path: str, *, minimum: float, maximum: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {kind(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(path, f"must be between {minimum:g} and {maximum:g}, got {value}")
        return float(value)

    def integer(self, value: Any, path: str, *, minimum: int, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, got {kind(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(path, f"must be between {minimum} and {maximum}, got {value}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {kind(value)}")
        return value


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def kind(value: Any) -> str:
    """What a wrong value is, in words, for an error message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"{type(value).__name__} ({value!r})"
