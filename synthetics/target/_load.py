"""From a file (or an already-loaded document) to a Target, or a TargetError naming the key path."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synthetics.target._document import EMBEDDED_KEYS, Target
from synthetics.target._reader import Reader, TargetError
from synthetics.target._schema import default_of, given_keys, read_values

__all__ = ["load_target", "parse_target"]


def parse_target(document: Any, *, source: str, base_dir: Path, environ: Mapping[str, str] | None = None) -> Target:
    """Validates an already-loaded YAML document; `base_dir` anchors relative paths."""
    reader = Reader(source, os.environ if environ is None else environ, base_dir)
    if document is None:
        raise reader.fail("", "the file is empty")
    top = given_keys(reader, Target, document, "")
    # Whether the target is embedded decides what else it may hold, so it is read before the rest.
    first = read_values(reader, Target, top, "", EMBEDDED_KEYS)
    if first.get("embedded", default_of(Target, "embedded")):
        extra = sorted(set(top) - set(EMBEDDED_KEYS))
        if extra:
            raise reader.fail(extra[0], "an embedded target is generated at boot; give only 'name' and 'embedded'")
    elif top.get("homeserver") is None:
        raise reader.fail("homeserver", "is required")
    rest = read_values(reader, Target, top, "", set(top) - set(EMBEDDED_KEYS))
    return Target(**first, **rest, source=source, unset_variables=dict(reader.unset_variables))


def load_target(path: Path, *, environ: Mapping[str, str] | None = None) -> Target:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetError(source, "", "no such target file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TargetError(source, "", f"cannot read the file ({error})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise TargetError(source, "", f"not valid YAML{where}: {problem}") from None
    return parse_target(document, source=source, base_dir=path.parent, environ=environ)
