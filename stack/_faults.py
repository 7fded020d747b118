"""The faults the reference deployment can inject, and what each should look like to the suite."""

from __future__ import annotations

from collections.abc import Callable

from stack import (
    _faults_aws,
    _faults_db,
    _faults_dns,
    _faults_edge,
    _faults_federation,
    _faults_metrics,
    _faults_synapse,
)
from stack._errors import StackError
from stack._fault_types import Controls, Fault, homeserver_config, restart_synapse_with

__all__ = ["FAULTS", "REGISTRY", "Controls", "Fault", "lookup"]

_PROCESS_FAULTS = (
    Fault(
        name="synapse-down",
        failure_mode="origin-down",
        summary="the Synapse process is stopped; the edge answers 502 Bad gateway",
        inject=lambda c: c.stop_component("synapse"),
        heal=lambda c: c.start_component("synapse"),
    ),
)


def _registration(open_to_all: bool) -> Callable[[Controls], None]:
    """Registration open to anyone (no token, no e-mail), as a careless config change would leave it."""

    def change(controls: Controls) -> None:
        config = homeserver_config(controls)
        config["enable_registration"] = open_to_all
        config["enable_registration_without_verification"] = open_to_all
        restart_synapse_with(controls, config)

    return change


_CONFIG_FAULTS = (
    Fault(
        name="registration-open",
        failure_mode="security-exposure",
        summary="Synapse lets anyone register, with no token or verification (restarted with that config)",
        inject=_registration(True),
        heal=_registration(False),
    ),
)

_ALL = (
    *_PROCESS_FAULTS,
    *_CONFIG_FAULTS,
    *_faults_aws.FAULTS,
    *_faults_db.FAULTS,
    *_faults_dns.FAULTS,
    *_faults_edge.FAULTS,
    *_faults_synapse.FAULTS,
    *_faults_metrics.FAULTS,
    *_faults_federation.FAULTS,
)

REGISTRY: dict[str, Fault] = {fault.name: fault for fault in _ALL}
FAULTS: dict[str, str] = {fault.name: fault.failure_mode for fault in _ALL}


def lookup(name: str) -> Fault:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise StackError(f"unknown fault {name!r} (known: {known})") from None
