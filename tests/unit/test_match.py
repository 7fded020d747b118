"""Matchers and the reading of HTTP failures, on hand-made exchanges (pure code, no network)."""

import pytest

from synthetics import match
from synthetics.catalogue import Mode
from synthetics.exchange import Exchange, ProbeError
from synthetics.http_failure import read_failure
from synthetics.must import CheckFailed, match_response


def exchange(
    status: int = 200, body: bytes = b'{"versions": ["v1.11"]}', version: str = "HTTP/2", **headers: str
) -> Exchange:
    return Exchange(
        method="GET",
        url="https://chat.example.org/_matrix/client/versions",
        status=status,
        http_version=version,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        body=body,
    )


def test_versions_matchers_accept_a_healthy_answer() -> None:
    healthy = exchange()
    for matcher in (
        match.status(200),
        match.json_body(),
        match.json_key_nonempty_strings("versions"),
        match.http_version("HTTP/2"),
    ):
        assert matcher(healthy) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>", "not JSON"),
        (b'{"unstable_features": {}}', "expected the key 'versions'"),
        (b'{"versions": []}', "non-empty list"),
        (b'{"versions": [1]}', "non-empty list"),
    ],
)
def test_versions_matcher_says_what_is_wrong(body: bytes, problem: str) -> None:
    assert problem in (match.json_key_nonempty_strings("versions")(exchange(body=body)) or "")


def test_http1_is_reported_as_seen() -> None:
    assert match.http_version("HTTP/2")(exchange(version="HTTP/1.1")) == "expected HTTP/2, saw HTTP/1.1"


@pytest.mark.parametrize(
    ("status", "headers", "mode"),
    [
        (502, {}, "origin-down"),
        (521, {}, "origin-down"),
        (522, {}, "slow-performance"),
        (524, {}, "slow-performance"),
        (525, {}, "tls-certificate"),
        (403, {"cf_mitigated": "challenge"}, "edge-blocking"),
    ],
)
def test_edge_codes_are_read_as_their_failure_mode(status: int, headers: dict[str, str], mode: str) -> None:
    reading = read_failure(exchange(status=status, body=b"", **headers))
    assert reading is not None and reading.failure_mode == mode


def test_a_plain_origin_500_is_left_to_the_check() -> None:
    assert read_failure(exchange(status=500)) is None


def test_match_response_names_the_cause_before_the_symptom() -> None:
    with pytest.raises(CheckFailed) as raised:
        match_response(
            exchange(status=502, body=b"bad gateway", server="cloudflare"),
            match.status(200),
            failure_mode=Mode.EDGE_MISCONFIGURED,
        )
    assert raised.value.failure_mode == "origin-down"
    assert str(raised.value).startswith(
        "[origin-down] GET https://chat.example.org/_matrix/client/versions: expected HTTP 200, saw 502"
    )


def test_no_response_is_reported_with_its_transport_reason() -> None:
    dead = Exchange(method="GET", url="https://x/", error=ProbeError("dns", "name resolution failed"))
    with pytest.raises(CheckFailed) as raised:
        match_response(dead, match.status(200))
    assert raised.value.failure_mode == "dns-misconfigured"
