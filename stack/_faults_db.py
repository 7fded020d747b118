"""Faults of the db layer of the reference deployment."""

from __future__ import annotations

from stack._fault_types import Fault

FAULTS: tuple[Fault, ...] = ()
