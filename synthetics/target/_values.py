"""The checks a key can declare: each turns a YAML value into a typed one, or says what is wrong.

A check is `(reader, value, key path) -> value`. Most keys hold text, so most checks are built from
a rule over the expanded text with `required(rule)` or `optional(rule)`; an optional key whose
`${VAR}` is unset reads as absent, and `Target.why_absent` names the variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from synthetics.servername import canonical_host, is_ip_literal, parse_server_name
from synthetics.target._reader import Reader, kind
from synthetics.target._schema import Check

__all__ = [
    "HostPort",
    "boolean",
    "choice",
    "connect_map",
    "env_name",
    "existing_file",
    "https_url",
    "integer",
    "key_value_tag",
    "matching",
    "matrix_server_name",
    "nameserver_list",
    "number",
    "optional",
    "optional_number",
    "optional_text",
    "required",
    "s3_folder",
    "text",
    "web_url",
]

T = TypeVar("T")
Rule = Callable[[Reader, str, str], T]
"""(reader, the expanded non-empty text, its key path) -> the typed value."""
HostPort = tuple[str, int]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def required(rule: Rule[T]) -> Check[T]:
    def check(reader: Reader, value: Any, path: str) -> T:
        expanded = reader.text(value, path)
        assert expanded is not None  # reader.text raises rather than return None unless optional
        return rule(reader, expanded, path)

    return check


def optional(rule: Rule[T]) -> Check[T | None]:
    def check(reader: Reader, value: Any, path: str) -> T | None:
        expanded = reader.text(value, path, optional=True)
        return None if expanded is None else rule(reader, expanded, path)

    return check


def _as_is(reader: Reader, value: str, path: str) -> str:
    return value


text = required(_as_is)
optional_text = optional(_as_is)


def boolean(reader: Reader, value: Any, path: str) -> bool:
    return reader.boolean(value, path)


def number(minimum: float, maximum: float) -> Check[float]:
    def check(reader: Reader, value: Any, path: str) -> float:
        return reader.number(value, path, minimum=minimum, maximum=maximum)

    return check


def optional_number(minimum: float, maximum: float) -> Check[float | None]:
    def check(reader: Reader, value: Any, path: str) -> float | None:
        return None if value is None else reader.number(value, path, minimum=minimum, maximum=maximum)

    return check


def integer(minimum: int, maximum: int) -> Check[int]:
    def check(reader: Reader, value: Any, path: str) -> int:
        return reader.integer(value, path, minimum=minimum, maximum=maximum)

    return check


def choice(*allowed: str) -> Rule[str]:
    def rule(reader: Reader, value: str, path: str) -> str:
        if value not in allowed:
            options = " or ".join(repr(each) for each in allowed)
            raise reader.fail(path, f"must be {options}, got {value!r}")
        return value

    return rule


def matching(pattern: str, problem: str) -> Rule[str]:
    """Text the whole of which matches `pattern` (so a trailing newline does not slip through)."""
    compiled = re.compile(pattern)

    def rule(reader: Reader, value: str, path: str) -> str:
        if not compiled.fullmatch(value):
            raise reader.fail(path, f"{problem}, got {value!r}")
        return value

    return rule


def https_url(reader: Reader, url: str, path: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise reader.fail(path, f"must be an https:// URL with a host, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise reader.fail(path, "must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def web_url(problem: str, *, refuse_query: bool = False, strip: bool = True) -> Rule[str]:
    """An http(s) URL with a host and no credentials; `problem` says what was expected."""

    def rule(reader: Reader, url: str, path: str) -> str:
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password
            or (refuse_query and parts.query)
        ):
            raise reader.fail(path, f"{problem}, got {url!r}")
        return url.rstrip("/") if strip else url

    return rule


def host_port(reader: Reader, text: str, path: str, *, default_port: int | None) -> HostPort:
    """Reads "host", "host:port" or "[v6]:port" by the server-name grammar; no port means `default_port`."""
    try:
        host, port = parse_server_name(text)
    except ValueError as error:
        raise reader.fail(path, str(error)) from None
    if port is None:
        if default_port is None:
            raise reader.fail(path, f"must be host:port, got {text!r}")
        port = default_port
    return host, port


def matrix_server_name(reader: Reader, name: str, path: str) -> str:
    """A Matrix server name, kept as written (it is compared with what servers say about themselves)."""
    host_port(reader, name, path, default_port=8448)
    return name


def _nameserver(reader: Reader, value: str, path: str) -> HostPort:
    # A nameserver is an address, so a bare IPv6 one is unambiguous (resolv.conf writes them so).
    bare_ipv6 = ":" in value and not value.startswith("[") and is_ip_literal(value)
    host, port = (value, 53) if bare_ipv6 else host_port(reader, value, path, default_port=53)
    if not is_ip_literal(host):
        raise reader.fail(path, f"must be an IP address (optionally with :port), got {value!r}")
    return host, port


def _empty(value: Any) -> bool:
    # "None" spelled as an empty list or an empty mapping: YAML writers differ, and both read as none.
    return isinstance(value, list | Mapping) and not value


def nameserver_list(reader: Reader, value: Any, path: str) -> tuple[HostPort, ...]:
    if _empty(value):
        return ()
    if not isinstance(value, list):
        raise reader.fail(path, f"must be a list, got {kind(value)}")
    return tuple(required(_nameserver)(reader, item, f"{path}[{index}]") for index, item in enumerate(value))


def connect_map(reader: Reader, value: Any, path: str) -> dict[HostPort, HostPort]:
    if _empty(value):
        return {}
    if not isinstance(value, Mapping):
        raise reader.fail(path, f"must be a mapping of 'host:port' to 'ip:port', got {kind(value)}")
    mapping: dict[HostPort, HostPort] = {}
    for key, address in value.items():
        key_path = f"{path}.{key}"
        host, port = host_port(reader, str(key), key_path, default_port=None)
        # Keyed as connections look it up: a name in lower case, an address in its compressed form.
        mapping[(canonical_host(host), port)] = required(_explicit_host_port)(reader, address, key_path)
    return mapping


def _explicit_host_port(reader: Reader, value: str, path: str) -> HostPort:
    return host_port(reader, value, path, default_port=None)


def _env_name(reader: Reader, name: str, path: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise reader.fail(path, f"must name an environment variable (not hold a value), got {name!r}")
    return name


env_name = optional(_env_name)


def _existing_file(reader: Reader, value: str, path: str) -> str:
    resolved = (reader.base_dir / value).resolve()
    if not resolved.is_file():
        raise reader.fail(path, f"no such file: {resolved}")
    return str(resolved)


existing_file = optional(_existing_file)


def key_value_tag(reader: Reader, value: str, path: str) -> tuple[str, str]:
    key, separator, tag_value = value.partition("=")
    if not separator or not key:
        raise reader.fail(path, f"must be 'Key=Value', got {value!r}")
    return key, tag_value


def s3_folder(reader: Reader, prefix: str, path: str) -> str:
    # A dedicated prefix keeps the canary (and the sweep of stale canaries) away from media keys.
    if not prefix.endswith("/") or prefix.startswith("/") or len(prefix) < 3:
        raise reader.fail(path, f"must be a dedicated folder like 'synthetics-canary/', got {prefix!r}")
    return prefix
