"""The deployment's AWS: a moto server process on loopback, and boto3 clients that reach it."""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from stack._errors import StackError
from stack._layout import Layout
from stack._process import ProcRef, is_running, last_line, python_env, spawn, wait_until
from stack._secrets import write_private

REGION = "us-east-1"
# moto accepts any credentials; these are the conventional dummies, not a secret.
DUMMY_KEY_ID = "testing"
DUMMY_SECRET = "testing"

READY_S = 20.0
# Every call to moto is local and small: a short connect, a read long enough for a busy 2-core box,
# and a bounded number of attempts, so a dead moto fails a call in seconds rather than minutes.
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
TOTAL_ATTEMPTS = 3


def endpoint_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def server_env() -> dict[str, str]:
    env = python_env()
    # moto sets a new ECS service's runningCount from this variable, read when the service is created.
    # Fixed at 0 (moto's default) so an inherited value cannot change what seeding and faults produce:
    # see `_aws_seed` for how the healthy and faulty services are built on top of it.
    env["MOTO_ECS_SERVICE_RUNNING"] = "0"
    env["MOTO_ECS_SERVICE_FAILED_TASKS"] = "0"
    return env


def start(layout: Layout, port: int) -> ProcRef:
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return spawn(argv, log=layout.moto_log, cwd=layout.root, env=server_env())


def wait_ready(layout: Layout, ref: ProcRef, port: int, *, timeout_s: float = READY_S) -> None:
    """Until moto answers its own API; fail early if the process dies."""
    url = f"{endpoint_url(port)}/moto-api/config"
    with httpx.Client(timeout=1.0, trust_env=False) as client:

        def ready() -> bool:
            if not is_running(ref):
                raise StackError(f"moto exited during startup: {last_line(layout.moto_log)}")
            try:
                # It answers 201 to a GET of its config.
                return client.get(url).is_success
            except httpx.TransportError:
                return False

        if not wait_until(ready, timeout_s=timeout_s, interval_s=0.05):
            raise StackError(f"moto not answering on 127.0.0.1:{port} within {timeout_s:.0f} s")


def write_credentials(layout: Layout) -> None:
    write_private(
        layout.aws_credentials,
        f"[default]\naws_access_key_id = {DUMMY_KEY_ID}\naws_secret_access_key = {DUMMY_SECRET}\n",
    )


def set_transition(port: int, model_name: str, transition: Mapping[str, Any]) -> None:
    """Configure how moto advances a model's status (its documented state-manager API)."""
    url = f"{endpoint_url(port)}/moto-api/state-manager/set-transition"
    body = {"model_name": model_name, "transition": dict(transition)}
    try:
        response = httpx.post(url, json=body, timeout=READ_TIMEOUT_S, trust_env=False)
    except httpx.HTTPError as err:
        raise StackError(f"moto set-transition for {model_name} failed: {type(err).__name__}") from err
    if response.status_code not in (200, 201):
        raise StackError(f"moto set-transition for {model_name} answered {response.status_code}")


class Aws:
    """boto3 clients for the deployment's moto server, one per service, made on first use."""

    def __init__(self, credentials_file: Path, port: int) -> None:
        # Imported here: boto3 takes a noticeable part of a second to import, and only AWS work needs it.
        import boto3
        import botocore.session
        from botocore.config import Config

        parser = configparser.ConfigParser()
        if not parser.read(credentials_file):
            raise StackError(f"cannot read AWS credentials file {credentials_file}")
        profile = parser["default"]
        # Explicit keys, region and an empty config file: nothing from the caller's environment or
        # ~/.aws applies (an AWS_PROFILE naming a missing profile would otherwise break every call).
        core = botocore.session.Session()
        core.set_config_variable("config_file", os.devnull)
        core.set_config_variable("credentials_file", str(credentials_file))
        core.set_config_variable("profile", "default")
        self._session = boto3.session.Session(
            aws_access_key_id=profile["aws_access_key_id"],
            aws_secret_access_key=profile["aws_secret_access_key"],
            region_name=REGION,
            botocore_session=core,
        )
        self._config = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
        )
        self.endpoint_url = endpoint_url(port)
        self.port = port
        self._clients: dict[str, Any] = {}

    @classmethod
    def of(cls, layout: Layout, port: int) -> Aws:
        return cls(layout.aws_credentials, port)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)
        return self._clients[service]

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    @property
    def rds(self) -> Any:
        return self.client("rds")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def logs(self) -> Any:
        return self.client("logs")
