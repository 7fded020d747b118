"""How much of anything the suite writes: a hostile server can make evidence as large as it likes,
so every message, attachment and verdict is cut to a size a person (and a CI log) can take."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MAX_ATTACHMENT_BYTES", "MAX_MESSAGE_CHARS", "MAX_VERDICT_BYTES", "bounded", "first_few"]

MAX_MESSAGE_CHARS = 1000  # one finding, warning or skip reason: terminal, verdict, JUnit
MAX_ATTACHMENT_BYTES = 64 * 1024  # one Allure attachment
MAX_VERDICT_BYTES = 256 * 1024  # reports/verdict.json


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f" ... ({len(text) - limit} more characters)"
    return text[: max(0, limit - len(note))] + note


def first_few(items: Sequence[str], count: int = 5) -> str:
    """The first `count` items, and how many more there were."""
    shown = ", ".join(items[:count])
    return shown + (f" and {len(items) - count} more" if len(items) > count else "")
