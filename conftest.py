"""This repository's checks: the run modes they are chosen by, and what --read-only leaves out.

The installable plugin (fixtures/, the `pytest11` entry point) serves whatever checks it runs:
options, targets, evidence, gates, reporting. What belongs to the checks in checks/ lives here,
beside pytest.ini and checks/: the markers their `@check` declarations put on them, registered from
the one list in `synthetics.check` rather than copied by hand into pytest.ini, and the selection
`--read-only` makes among them. (The option itself is the plugin's: its fixtures read it too, to
leave out the probes that write.) pytest loads this file for every run under the repository: from
its root, and from elsewhere with the checks as the path (`pytest /path/to/repository/checks`).
"""

from __future__ import annotations

import pytest

from synthetics.check import WRITES, RunMode

# Hooks only: pytest finds them by name.
__all__: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # With --strict-markers (pytest.ini) a mode RunMode does not define is then a collection error.
    for mode in RunMode:
        config.addinivalue_line("markers", f"{mode.value}: run mode: {mode.purpose}")
    config.addinivalue_line(
        "markers", f"{WRITES}: a check that writes (S3 canary, canary messages, media); --read-only skips it"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("read_only", False):
        return
    skip = pytest.mark.skip(reason="--read-only: this check writes")
    for item in items:
        if item.get_closest_marker(WRITES):
            item.add_marker(skip)
