"""Loaded by a child Python (PYTHONPATH) to record every attempt at network traffic.

Audit hooks see each socket connect, send and name lookup, whichever library makes it, so a test can
prove that a command made no network traffic at all.
"""

import os
import sys

_LOG = os.environ["SYNTHETICS_NETWORK_AUDIT_LOG"]
_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.sendmsg"}


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in _EVENTS:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{event} {args!r}\n")


sys.addaudithook(_audit)
