"""A loopback HTTP server standing in for Alertmanager's receivers (PagerDuty, Slack, a dead man's
switch service): it records every webhook notification Alertmanager posts, so a test can read what
would have paged someone, and waits for one with a deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["Notification", "WebhookReceiver"]


@dataclass(frozen=True)
class Notification:
    """One POST from Alertmanager: the receiver it was routed to (the URL's last path segment, set by
    tests.support.alerting_engines) and Alertmanager's webhook payload (version 4)."""

    receiver: str
    payload: dict[str, Any]

    @property
    def status(self) -> str:
        """firing or resolved: the group's status as Alertmanager sends it."""
        return str(self.payload.get("status", ""))

    @property
    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.payload.get("alerts", [])
        return alerts

    def alertnames(self) -> set[str]:
        return {str(alert["labels"].get("alertname")) for alert in self.alerts}


class WebhookReceiver:
    """`with WebhookReceiver() as hook: hook.url("pager")` → where Alertmanager posts; `hook.received`
    is every notification so far, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[Notification] = []
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsable": body.decode(errors="replace")}
                receiver._record(Notification(self.path.rstrip("/").rsplit("/", 1)[-1], payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Alertmanager's posts are recorded, not logged.

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/{receiver}"

    def _record(self, notification: Notification) -> None:
        with self._lock:
            self._received.append(notification)
            self._lock.notify_all()

    @property
    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def wait_for(
        self, predicate: Callable[[Notification], bool], *, timeout_s: float, what: str = "a notification"
    ) -> Notification:
        """The first notification (recorded before or during the wait) that `predicate` accepts; an
        AssertionError naming `what` and everything received when none came within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for notification in self._received:
                    if predicate(notification):
                        return notification
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    summary = [(n.receiver, n.status, sorted(n.alertnames())) for n in self._received]
                    raise AssertionError(f"no {what} within {timeout_s:.0f} s; received: {summary}")
                self._lock.wait(remaining)

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
