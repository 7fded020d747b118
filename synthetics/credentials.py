"""Tokens, from the environment variable the target names, else from the file it names.

A token is only ever held in memory and sent in an Authorization header; the redactor knows it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from synthetics.target import Target

__all__ = ["MissingCredential", "known_secrets", "token"]


class MissingCredential(Exception):
    """No token: the message names what to set."""


def token(target: Target, which: str, environ: Mapping[str, str] | None = None) -> str:
    """The admin or canary token; MissingCredential says which variable (or file) to provide."""
    environ = os.environ if environ is None else environ
    credentials = target.credentials
    variable = credentials.admin_token_env if which == "admin" else credentials.canary_token_env
    file = credentials.admin_token_file if which == "admin" else credentials.canary_token_file
    if variable and environ.get(variable):
        return environ[variable].strip()
    if file:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise MissingCredential(f"the {which} token file {file} cannot be read ({error.strerror})") from None
        if value:
            return value
    if variable:
        raise MissingCredential(f"no {which} token: set {variable}")
    raise MissingCredential(f"no {which} token: set credentials.{which}_token_env in {target.source}")


def known_secrets(target: Target, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every token value this target can reach, for the redactor."""
    found = []
    for which in ("admin", "canary"):
        try:
            found.append(token(target, which, environ))
        except MissingCredential:
            continue
    return found
