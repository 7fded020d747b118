"""Runs independent probes concurrently, each once, so a run lasts about as long as its slowest probe."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

__all__ = ["Survey"]


class Survey:
    """A memo of named probes: the first to ask starts one; everyone gets its one result.

    Each probe runs in a daemon thread of its own: probes may wait on other probes (discovery before
    keys), and an interrupted run must exit at once, not after the slowest deadline.
    """

    def __init__(self, plan: Mapping[str, Callable[[Survey], Any]]) -> None:
        self._plan = dict(plan)
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def start_all(self) -> None:
        for name in self._plan:
            self._future(name)

    def result(self, name: str) -> Any:
        """The probe's result; a probe that raised re-raises here, in the check that reads it."""
        return self._future(name).result()

    def _future(self, name: str) -> Future[Any]:
        with self._lock:
            if name in self._futures:
                return self._futures[name]
            if name not in self._plan:
                raise KeyError(f"no probe named {name!r}")
            future: Future[Any] = Future()
            self._futures[name] = future
        threading.Thread(target=self._run, args=(name, future), name=f"probe:{name}", daemon=True).start()
        return future

    def _run(self, name: str, future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(self._plan[name](self))
        except BaseException as error:  # handed to the check that reads it
            future.set_exception(error)
