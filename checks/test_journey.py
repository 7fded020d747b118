"""Synthetic user journeys: what people notice first. A message sent arrives; a picture comes back."""

from synthetics import must
from synthetics.check import check
from synthetics.journey import Journey


@check(
    layer="journey",
    severity="critical",
    detects="messaging-broken",
    writes=True,
    title="A message the canary sends arrives through /sync within the budget",
    needs=("origin", "database"),
)
def test_message_delivered(canary_message: Journey) -> None:
    must.complete(canary_message)


@check(
    layer="journey",
    severity="critical",
    detects="media-upload-failing",
    writes=True,
    title="A file the canary uploads downloads back byte for byte",
    needs=("origin", "database"),
)
def test_media_round_trip(canary_media: Journey) -> None:
    must.complete(canary_media, media=True)
