"""The whole target file: which deployment to verify, parsed once into frozen, typed objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field

from synthetics.target._aws import AwsSettings
from synthetics.target._schema import nested, option, section
from synthetics.target._sections import Canary, Credentials, Dns, Edge, Homeserver, Network, Reporting, Thresholds, Tls
from synthetics.target._values import boolean, text

__all__ = ["EMBEDDED_KEYS", "Target"]


@section
class Target:
    name: str = option(text, doc="the name in the report and the verdict")
    # The reference deployment's full target is only known once it has booted (ports, CA).
    embedded: bool = option(boolean, default=False, doc="true for the reference deployment, generated at boot")
    # Required unless embedded, which parse_target checks (the schema cannot say "unless").
    homeserver: Homeserver | None = option(nested(Homeserver), default=None, doc="the homeserver under test")
    edge: Edge = option(nested(Edge), default=Edge(provider="none"), doc="what proxies the homeserver")
    tls: Tls = option(nested(Tls), default_factory=Tls, doc="how certificates are judged")
    dns: Dns = option(nested(Dns), default_factory=Dns, doc="which resolver answers")
    network: Network = option(nested(Network), default_factory=Network, doc="timeouts and where TCP goes")
    aws: AwsSettings | None = option(nested(AwsSettings), default=None, doc="the AWS resources behind it")
    credentials: Credentials = option(nested(Credentials), default_factory=Credentials, doc="where the tokens are")
    canary: Canary | None = option(nested(Canary), default=None, doc="the synthetic user and room of the journeys")
    reporting: Reporting = option(nested(Reporting), default_factory=Reporting, doc="where results go")
    thresholds: Thresholds = option(nested(Thresholds), default_factory=Thresholds, doc="what counts as too much")
    # Not keys of the file: where it came from, and what its ${VAR}s left out.
    source: str
    # Key path -> environment variable that was unset, so a skip can name what to set.
    unset_variables: Mapping[str, str] = field(default_factory=dict)

    def why_absent(self, key_path: str) -> str:
        """A skip reason for a value the target does not give."""
        variable = self.unset_variables.get(key_path)
        if variable:
            return f"{key_path} comes from ${{{variable}}}, which is not set: set {variable}"
        return f"{key_path} is not set in {self.source}"


# An embedded target says only which deployment to boot; the rest is generated.
EMBEDDED_KEYS = ("name", "embedded")
