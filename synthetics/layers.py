"""The layers of a deployment, bottom of the stack first: defined once, here.

The order is the one the dependency graph, the root-cause ranking (a lower layer's failure explains
the failures above it) and the public/AWS split all use.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Layer"]


class Layer(StrEnum):
    RUNNER = "runner"  # the machine the suite runs on: its network, its resolver
    DNS = "dns"
    TLS = "tls"
    EDGE = "edge"
    CLIENT_API = "client-api"  # the origin (Synapse) answering through the edge
    AWS = "aws"  # what the origin runs on and stores in: ECS, RDS, S3, its logs
    FEDERATION = "federation"
    JOURNEY = "journey"
    # Synapse's own measurements of itself (its metrics listener): the causes (a pool out of
    # connections, a stalled event processor) of what the layers above the edge show as symptoms.
    METRICS = "metrics"
    ADMIN = "admin"  # Synapse's own view of itself (the admin API)
    SECURITY = "security"

    @property
    def depth(self) -> int:
        """0 for the bottom of the stack; a lower depth is the likelier root cause."""
        return _ORDER.index(self)

    @property
    def seen_from_outside(self) -> bool:
        """Probed as the internet sees it (through DNS and the edge), not read from AWS or the admin API."""
        return self not in (Layer.RUNNER, Layer.AWS, Layer.METRICS, Layer.ADMIN)

    @property
    def live(self) -> bool:
        """Measured now, by the suite or by Synapse itself: not an account another system keeps (AWS's,
        the admin API's), which a live probe that passed may contradict."""
        return self.seen_from_outside or self is Layer.METRICS

    @property
    def public_surface(self) -> bool:
        """What any client or homeserver touches first: cheap to probe, safe every minute (smoke)."""
        return self.depth <= Layer.FEDERATION.depth and self is not Layer.AWS

    @property
    def epic(self) -> str:
        """How the Allure report groups checks: by what an on-call engineer looks at."""
        if self.public_surface:
            return "Public surface"
        return _EPICS[self]


_ORDER: tuple[Layer, ...] = tuple(Layer)
_EPICS = {
    Layer.RUNNER: "Runner",
    Layer.AWS: "AWS",
    Layer.JOURNEY: "Users",
    Layer.METRICS: "Synapse metrics",
    Layer.ADMIN: "Admin API",
    Layer.SECURITY: "Security exposure",
}
