"""Faults of the dns layer of the reference deployment."""

from __future__ import annotations

from stack._fault_types import Fault

FAULTS: tuple[Fault, ...] = ()
