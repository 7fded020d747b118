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

# A target file is a few dozen keys: anything far bigger, deeper or more repetitive is not one.
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 12
MAX_NODES = 5_000  # values visited, aliases counted each time they are used (a "billion laughs" stops here)


def _plain(reader: Reader, document: Any) -> None:
    """The document is a tree of mappings with string keys, lists and scalars, of bounded size."""
    level: list[tuple[str, Any]] = [("", document)]
    visited = 0
    for depth in range(MAX_DEPTH + 1):
        next_level: list[tuple[str, Any]] = []
        for path, node in level:
            visited += 1
            if visited > MAX_NODES:
                raise reader.fail("", f"holds more than {MAX_NODES} values (aliases included): not a target file")
            if isinstance(node, dict):
                for key, value in node.items():
                    if not isinstance(key, str):
                        raise reader.fail(path, f"has a key that is not a string ({key!r:.40})")
                    next_level.append((f"{path}.{key}" if path else key, value))
            elif isinstance(node, list):
                next_level.extend((f"{path}[{index}]", value) for index, value in enumerate(node))
            elif not (node is None or isinstance(node, str | int | float | bool)):
                raise reader.fail(path, f"is a {type(node).__name__}, which a target file cannot hold")
        if not next_level:
            return
        if depth == MAX_DEPTH:
            raise reader.fail(next_level[0][0], f"nests deeper than {MAX_DEPTH} levels: not a target file")
        level = next_level


def parse_target(document: Any, *, source: str, base_dir: Path, environ: Mapping[str, str] | None = None) -> Target:
    """Validates an already-loaded YAML document; `base_dir` anchors relative paths."""
    reader = Reader(source, os.environ if environ is None else environ, base_dir)
    if document is None:
        raise reader.fail("", "the file is empty")
    _plain(reader, document)
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
    target = Target(**first, **rest, source=source, unset_variables=dict(reader.unset_variables))
    _check_tiers(reader, target, top.get("tls"))
    return target


def _check_tiers(reader: Reader, target: Target, tls_document: object) -> None:
    """A warning line given must come before its critical one, or the warning could never be raised."""
    warning_ms = target.thresholds.latency_p95_warning_ms
    if warning_ms is not None and warning_ms >= target.thresholds.latency_p95_ms:
        raise reader.fail(
            "thresholds.latency_p95_warning_ms",
            f"must be under thresholds.latency_p95_ms ({target.thresholds.latency_p95_ms:g})",
        )
    given = isinstance(tls_document, Mapping) and tls_document.get("critical_days_remaining") is not None
    if given and target.tls.critical_days_remaining >= target.tls.min_days_remaining:
        raise reader.fail(
            "tls.critical_days_remaining", f"must be under tls.min_days_remaining ({target.tls.min_days_remaining})"
        )


def load_target(path: Path, *, environ: Mapping[str, str] | None = None) -> Target:
    source = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise TargetError(source, "", "no such target file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TargetError(source, "", f"cannot read the file ({error})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise TargetError(source, "", f"is larger than {MAX_FILE_BYTES} bytes: not a target file")
    try:
        document = yaml.safe_load(text)
    except RecursionError:
        raise TargetError(source, "", f"nests deeper than {MAX_DEPTH} levels: not a target file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise TargetError(source, "", f"not valid YAML{where}: {problem}") from None
    return parse_target(document, source=source, base_dir=path.parent, environ=environ)
