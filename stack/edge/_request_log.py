"""The edge's request log: one JSON line per request, so a test can count what a run asked of it.

hypercorn's access log (in edge.log) is text mixed with the edge's warnings and names no Host; this
one is data: host (the Host or :authority without its port, lower case), method, path, the query's
parameter names (never their values: a query may carry a token) and the status the edge answered;
and where the request came and what it named there: `authority` (the Host or :authority as sent),
`port` (the edge's listener it reached) and `sni` (the TLS name its connection asked for, "" for
none, "?" when unknown), so a test can tell which listener a probe connected to and under what names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qsl

from stack.edge._asgi import Scope, header
from stack.edge._sni import sni_of

__all__ = ["RequestLog"]


class RequestLog:
    def __init__(self, path: Path) -> None:
        # Appended, line-buffered: an edge restarted by a TLS fault continues the same file, and a
        # line is on disk before its reply is sent, so a reader that saw the reply sees the line.
        self._file: TextIO = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open while the edge runs)

    def record(self, scope: Scope, host: str, status: int) -> None:
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        keys = sorted({key for key, _ in parse_qsl(query, keep_blank_values=True)})
        server = scope.get("server")
        line = {
            "host": host,
            "method": scope["method"],
            "path": scope["path"],
            "query": keys,
            "status": status,
            "authority": header(scope, b"host") or "",
            "port": int(server[1]) if server else None,
            "sni": sni_of(scope.get("client")),
        }
        self._file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        self._file.close()
