"""Pure matchers: each looks at an Exchange and returns what is wrong, or None.

They never fail a test themselves (that is `must`'s job), so they can be unit-tested and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthetics.exchange import Exchange

__all__ = [
    "Matcher",
    "header_equals",
    "header_present",
    "http_version",
    "json_body",
    "json_field",
    "json_key_nonempty_strings",
    "json_key_present",
    "status",
]

Matcher = Callable[[Exchange], str | None]


def status(expected: int) -> Matcher:
    def matcher(exchange: Exchange) -> str | None:
        if exchange.status == expected:
            return None
        return f"expected HTTP {expected}, saw {exchange.status}"

    return matcher


def http_version(expected: str) -> Matcher:
    def matcher(exchange: Exchange) -> str | None:
        if exchange.http_version == expected:
            return None
        return f"expected {expected}, saw {exchange.http_version}"

    return matcher


def json_body() -> Matcher:
    def matcher(exchange: Exchange) -> str | None:
        try:
            exchange.json()
        except ValueError as error:
            return f"expected a JSON body, but the {error}"
        return None

    return matcher


def json_key_nonempty_strings(key: str) -> Matcher:
    """The JSON object has `key`, a non-empty list of strings (as `versions` in /versions)."""

    def matcher(exchange: Exchange) -> str | None:
        try:
            document: Any = exchange.json()
        except ValueError as error:
            return f"expected a JSON body, but the {error}"
        if not isinstance(document, dict) or key not in document:
            keys = sorted(document) if isinstance(document, dict) else type(document).__name__
            return f"expected the key {key!r} in the JSON body, saw {keys}"
        value = document[key]
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            return f"expected {key!r} to be a non-empty list of strings, saw {value!r:.120}"
        return None

    return matcher


def header_equals(name: str, expected: str) -> Matcher:
    def matcher(exchange: Exchange) -> str | None:
        seen = exchange.header(name)
        if seen is not None and seen.lower() == expected.lower():
            return None
        return f"expected header {name}: {expected}, saw {seen!r}"

    return matcher


def header_present(name: str) -> Matcher:
    def matcher(exchange: Exchange) -> str | None:
        return None if exchange.header(name) else f"expected a {name} header, saw none"

    return matcher


class _Missing(Exception):
    pass


def _at(exchange: Exchange, key: str) -> Any:
    """The value at a dotted `key` of the JSON body; _Missing says what is wrong instead."""
    try:
        node: Any = exchange.json()
    except ValueError as error:
        raise _Missing(f"expected a JSON body, but the {error}") from None
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise _Missing(f"expected {key!r} in the JSON body, saw none")
        node = node[part]
    return node


def json_field(key: str, expected: Any) -> Matcher:
    """The JSON object's `key` (a dotted path for nested objects) equals `expected`."""

    def matcher(exchange: Exchange) -> str | None:
        try:
            value = _at(exchange, key)
        except _Missing as missing:
            return str(missing)
        return None if value == expected else f"expected {key} = {expected!r}, saw {value!r:.120}"

    return matcher


def json_key_present(key: str) -> Matcher:
    """The JSON object has `key` (a dotted path for nested objects)."""

    def matcher(exchange: Exchange) -> str | None:
        try:
            _at(exchange, key)
        except _Missing as missing:
            return str(missing)
        return None

    return matcher
