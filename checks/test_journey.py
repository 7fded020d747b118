"""Synthetic user journeys: what people notice first. A message sent arrives; a picture comes back."""

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import Reading, Severity, check
from synthetics.journey import Journey
from synthetics.layers import Layer


@check(
    layer=Layer.JOURNEY,
    severity=Severity.CRITICAL,
    detects=Mode.MESSAGING_BROKEN,
    writes=True,
    title="A message the canary sends arrives through /sync within the budget",
    needs=("origin", "database"),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("delivery-stuck",),
)
def test_message_delivered(canary_message: Journey) -> None:
    must.complete(canary_message)


@check(
    layer=Layer.JOURNEY,
    severity=Severity.CRITICAL,
    detects=Mode.MEDIA_UPLOAD_FAILING,
    writes=True,
    title="A file the canary uploads downloads back byte for byte",
    needs=("origin", "database"),
    reads=(Reading.EDGE_ANSWER,),
    proven_by=("media-denied",),
)
def test_media_round_trip(canary_media: Journey) -> None:
    must.complete(canary_media)
