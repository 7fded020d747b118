"""docs/runbook-map.md's Status column says what the checks' `proven_by` declarations say.

The status cells are generated (tests.support.runbook_map); a stale document fails here with the
command that regenerates it, and a check with no status row at all fails too (the map is where a
person looks up what automates a runbook line, and how far it is proven).
"""

from __future__ import annotations

import pytest

from tests.support.declarations import Declared, collect
from tests.support.runbook_map import DOCUMENT, NOT_YET, REGENERATE, RunbookMapError, generate, referenced, render


def test_the_status_column_is_the_generated_one() -> None:
    current = DOCUMENT.read_text()
    generated = generate(current, collect()).text
    stale = [
        f"  line {number}: {line}\n  should be: {new}"
        for number, (line, new) in enumerate(zip(current.splitlines(), generated.splitlines(), strict=True), 1)
        if line != new
    ]
    assert not stale, "docs/runbook-map.md disagrees with the checks' proven_by; regenerate it with:\n  " + (
        REGENERATE + "\n" + "\n".join(stale)
    )


def test_every_check_has_a_status_row() -> None:
    declared = collect()
    covered = generate(DOCUMENT.read_text(), declared).covered
    missing = sorted({d.id for d in declared} - covered)
    assert not missing, f"no row of docs/runbook-map.md with a Status column names these checks: {missing}"


CHECKS = {
    d.id: d
    for d in (
        Declared("tls.verifies[chat-host]", "t", "tls-certificate", ("trust",)),
        Declared("tls.verifies[server-name]", "t", "tls-certificate", ()),
        Declared("tls.verifies[delegated-host]", "t", "tls-certificate", ()),
        Declared("tls.expiring[chat-host]", "t", "tls-certificate", ("cert-expiring",)),
        Declared("tls.expiring[server-name]", "t", "tls-certificate", ("cert-expiring",)),
        Declared("client_api.versions", "t", "origin-down", ("synapse-down", "http1-only")),
        Declared("client_api.latency", "t", "slow-performance", ()),
    )
}


def test_a_cell_names_checks_by_id_by_parameters_or_all_parameters() -> None:
    cell = "`client_api.versions`: answers (`origin-down`, `--since=10m`)"
    assert referenced(cell, CHECKS) == ["client_api.versions"]
    assert referenced("`tls.verifies[chat-host\\|server-name]`", CHECKS) == [
        "tls.verifies[chat-host]",
        "tls.verifies[server-name]",
    ]
    assert referenced("`tls.expiring[...]` (`tls.min_days_remaining`); `tls.expiring`", CHECKS) == [
        "tls.expiring[chat-host]",
        "tls.expiring[server-name]",
    ]
    with pytest.raises(RunbookMapError, match=r"tls.verifies\[nowhere\]"):
        referenced("`tls.verifies[nowhere]`", CHECKS)


def test_a_status_says_what_proves_each_check_of_the_row() -> None:
    assert render(["client_api.versions"], CHECKS) == "proven (`synapse-down`, `http1-only`)"
    assert render(["client_api.latency"], CHECKS) == NOT_YET
    assert render(["tls.expiring[chat-host]", "tls.expiring[server-name]"], CHECKS) == "proven (`cert-expiring`)"
    assert render(list(CHECKS)[:5], CHECKS) == (
        "`tls.verifies[chat-host]`: proven (`trust`); `tls.expiring`: proven (`cert-expiring`); "
        "`tls.verifies[server-name\\|delegated-host]`: not yet proven"
    )


def test_a_status_row_that_names_no_check_is_refused() -> None:
    document = "| What | Check | Status |\n|---|---|---|\n| x | `nothing.here` | proven |\n"
    with pytest.raises(RunbookMapError, match="names no check"):
        generate(document, CHECKS.values())


def test_only_status_cells_are_rewritten() -> None:
    document = (
        "Prose `client_api.versions` stays.\n\n"
        "| What | Check | Status |\n|---|---|---|\n| x | `client_api.versions` | checked |\n\n"
        "| Layer | Check |\n|---|---|\n| URL | `client_api.latency` (checked) |\n"
    )
    generated = generate(document, CHECKS.values())
    assert generated.text == document.replace("| checked |", "| proven (`synapse-down`, `http1-only`) |")
    assert generated.covered == {"client_api.versions"}
