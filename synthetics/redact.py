"""Keeps secrets out of everything the suite writes: messages, attachments, the verdict."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from synthetics.target import Target

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[REDACTED]"

# Shapes that are secret whatever their source: Matrix access tokens, bearer headers, tokens in URLs.
_PATTERNS = (
    # A value that starts with $ or < names a variable or a placeholder, not a secret.
    re.compile(r"(?i)(authorization\s*[:=]\s*(?:bearer\s+)?+)(?![$<])[^\s,;\"'\\]+"),
    re.compile(r"(?i)\b(bearer\s+)(?![$<])[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)([?&](?:access_token|token|password|secret)=)[^&#\s\"']+"),
    re.compile(r"(?i)(\"(?:access_token|password|new_password|token|registration_shared_secret)\"\s*:\s*\")[^\"]*"),
    re.compile(r"()\bsy[tr]_[A-Za-z0-9_]{8,}"),
    re.compile(r"()\bAKIA[0-9A-Z]{16}\b"),
    # The password in a URL or DSN: scheme://user:password@host, and password=... in a libpq DSN.
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)"),
    re.compile(r"(?i)(\bpassword\s*=\s*)[^\s'\"]+"),
)

# Shorter values are too likely to match ordinary text to be replaced literally.
_MIN_LITERAL = 6


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literals = sorted({s for s in secrets if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True)
        self._literals = tuple(literals)

    @classmethod
    def for_target(cls, target: Target | None, environ: Mapping[str, str] | None = None) -> Redactor:
        environ = os.environ if environ is None else environ
        names: list[str] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
        if target is not None:
            credentials = target.credentials
            names += [
                n
                for n in (
                    credentials.admin_token_env,
                    credentials.canary_token_env,
                    credentials.pushgateway_token_env,
                    credentials.alertmanager_token_env,
                )
                if n
            ]
            if target.aws is not None and target.aws.rds is not None and target.aws.rds.dsn_env:
                names.append(target.aws.rds.dsn_env)
        values = [environ.get(name, "") for name in names]
        if target is not None:
            from synthetics.credentials import known_secrets

            values += known_secrets(target, environ)
        return cls(values)

    def json(self, value: Any) -> Any:
        """Redacts every string inside a JSON-like value, keeping its structure valid."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(str(key)): self.json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        return value

    def __call__(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text
