"""One reference deployment for the whole session; a few tests boot their own."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack import Deployment
from tests.stack._helpers import edge_client


@pytest.fixture(scope="session")
def state_base() -> Iterator[Path]:
    # Not pytest's tmp_path: that is 0700, and PostgreSQL runs as another user who must pass.
    base = Path(tempfile.mkdtemp(prefix="stack-tests-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def deployment(state_base: Path) -> Iterator[Deployment]:
    dep = Deployment(state_base / "session")
    with dep.running():
        yield dep


@pytest.fixture(scope="session")
def client(deployment: Deployment) -> Iterator[httpx.Client]:
    with edge_client(deployment.target_path) as c:
        yield c


@pytest.fixture
def fresh(state_base: Path, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """A deployment of its own, not started; whatever the test leaves is downed afterwards."""
    dep = Deployment(state_base / request.node.name)
    yield dep
    dep.down()
