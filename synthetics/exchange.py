"""What a probe saw: one HTTP request and its answer, or why none came. Pure data, no transport,
so matchers and readers of evidence can be used and tested without a network."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["MAX_JSON_DEPTH", "ErrorKind", "Exchange", "Followed", "ProbeError", "describe_json", "parse_json"]

# No Matrix document the suite reads nests deeper; anything deeper is hostile, and reading it would
# exhaust the recursion of json or of canonical JSON encoding.
MAX_JSON_DEPTH = 32

# Why no HTTP response came back.
# "no-route" is the runner's own: its network is unreachable (no route, no interface), before any packet left.
ErrorKind = Literal[
    "dns",
    "refused",
    "reset",
    "connect-timeout",
    "tls",
    "timeout",
    "protocol",
    "too-large",
    "network",
    "no-route",
    "blocked",
]


@dataclass(frozen=True)
class ProbeError:
    """Why no HTTP response came back. `kind` is one of the names below."""

    kind: ErrorKind
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class Exchange:
    """One request and what came back: the evidence every HTTP assertion reads."""

    method: str
    url: str
    status: int | None = None
    http_version: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed_s: float = 0.0
    error: ProbeError | None = None
    reused_failure: bool = False
    # Milliseconds per phase of this request, as blackbox_exporter reports them: resolve (the name
    # lookup of a new connection; 0 for an address or a `network.connect_to` mapping), connect, tls
    # (both only on a new connection), processing (request sent to first byte) and transfer.
    phases_ms: Mapping[str, float] = field(default_factory=dict)
    # The attempts before this one that failed fast and were tried again (synthetics.probe): a
    # failure counts only once its confirming attempt failed too.
    earlier: tuple[Exchange, ...] = ()
    # Where the connection went when not to the URL's host:port (an SRV target, one address).
    via: str | None = None

    @property
    def attempts(self) -> int:
        return len(self.earlier) + 1

    def outcome(self) -> str:
        """This attempt's answer in a few words: the status and who sent it, or why none came."""
        took = f"after {self.elapsed_s * 1000:.0f} ms"
        if self.error is not None:
            return f"no HTTP response ({self.error}) {took}"
        server = self.header("server")
        return f"HTTP {self.status}" + (f" (server: {server})" if server else "") + f" {took}"

    def attempt_lines(self) -> tuple[str, ...]:
        """Every attempt of this request, oldest first: what the verdict shows of a retried request."""
        return tuple(
            f"{self.request_line}: attempt {number}: {attempt.outcome()}"
            for number, attempt in enumerate((*self.earlier, self), start=1)
        )

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.url}" + (f" (connected to {self.via})" if self.via else "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError with a readable reason."""
        return parse_json(self.body)

    def summary(self) -> str:
        if self.error:
            return f"{self.request_line} -> no response ({self.error})"
        return f"{self.request_line} -> {self.http_version} {self.status} in {self.elapsed_s * 1000:.0f} ms"


@dataclass(frozen=True)
class Followed:
    """A GET with its redirects followed, as homeservers fetch .well-known/matrix/server."""

    exchanges: tuple[Exchange, ...]
    problem: str | None  # a redirect loop or too many hops
    insecure_hops: tuple[str, ...] = ()  # redirects from https to http, followed as Synapse follows them

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]


def parse_json(body: bytes) -> Any:
    """A JSON document of bounded depth; ValueError, with a readable reason, for anything else."""
    excerpt = body[:80].decode("utf-8", errors="replace").replace("\n", " ")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"body is not JSON ({error.__class__.__name__}): {excerpt!r}") from None
    except RecursionError:
        raise ValueError(f"body nests deeper than {MAX_JSON_DEPTH} levels: {excerpt!r}") from None
    if _depth_over(document, MAX_JSON_DEPTH):
        raise ValueError(f"body nests deeper than {MAX_JSON_DEPTH} levels: {excerpt!r}")
    return document


def _depth_over(document: Any, limit: int) -> bool:
    level: list[Any] = [document]
    for _ in range(limit + 1):
        level = [child for node in level for child in _children(node)]
        if not level:
            return False
    return True


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return node
    return []


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number"}


def describe_json(value: Any, limit: int = 60) -> str:
    """A JSON value as a finding names it: its JSON type and a bounded excerpt."""
    kind = "null" if value is None else _JSON_TYPES.get(type(value), "a number" if isinstance(value, float) else "?")
    text = repr(value)
    return f"{kind} ({text[:limit]}{'...' if len(text) > limit else ''})"
