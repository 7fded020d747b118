"""`proven_by` on a check: bare names prove every parameter, `name[param]` one; a typo fails at import."""

from __future__ import annotations

import pytest

from synthetics.catalogue import Mode
from synthetics.check import Severity, check, proven_for
from synthetics.layers import Layer


def test_a_bare_name_proves_every_parameter_and_a_qualified_one_only_its_own() -> None:
    declared = ("dns-missing[chat-host]", "slow-origin")
    assert proven_for(declared, "chat-host") == ("dns-missing", "slow-origin")
    assert proven_for(declared, "server-name") == ("slow-origin",)
    assert proven_for(declared, None) == ("slow-origin",)
    assert proven_for(("a[x]", "a"), "x") == ("a",)


@pytest.mark.parametrize("proven_by", ["synapse-down", ("Synapse Down",), ("synapse-down[",), ("x[a][b]",)])
def test_a_malformed_proven_by_fails_at_import(proven_by: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="proven_by"):
        check(layer=Layer.DNS, severity=Severity.MINOR, detects=Mode.DNS_MISCONFIGURED, title="t", proven_by=proven_by)
