"""The runner's own view of the network: what it should always reach, whatever the target does."""

from __future__ import annotations

from dataclasses import dataclass

from synthetics.exchange import Exchange
from synthetics.resolve import Lookup

__all__ = ["ControlReport"]

# A resolver that answered at all (even "no such name") is reached: only silence or no route is not.
_ANSWERED = frozenset({"ok", "nodata", "nxdomain", "servfail", "refused"})


@dataclass(frozen=True)
class ControlReport:
    lookups: tuple[Lookup, ...]  # the name asked of each control resolver
    exchange: Exchange | None  # the control URL, when the target names one

    @property
    def reached(self) -> bool:
        """Something of the control answered: the runner's network works."""
        answered = any(lookup.outcome in _ANSWERED for lookup in self.lookups)
        return answered or (self.exchange is not None and self.exchange.error is None)

    def tried(self) -> list[str]:
        tried = [lookup.describe() for lookup in self.lookups]
        if self.exchange is not None:
            tried.append(self.exchange.summary())
        return tried
