"""Server discovery and server keys, per the server-server API (pure rules, no network)."""

import json

import pytest
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

from synthetics.federation import (
    WellKnown,
    parse_server_name,
    read_server_keys,
    read_well_known_server,
    resolve_delegation,
)

NOW_MS = 1_800_000_000_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.org", ("example.org", None)),
        ("example.org:8448", ("example.org", 8448)),
        ("1.2.3.4:443", ("1.2.3.4", 443)),
        ("[::1]:8448", ("::1", 8448)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
    ],
)
def test_server_names_follow_the_grammar(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_server_name(text) == expected


@pytest.mark.parametrize("text", ["exa mple.org", "example.org:0", "example.org:99999", "[::1", "[nope]:1", "a_b.org"])
def test_invalid_server_names_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_server_name(text)


def test_a_well_known_answer_is_read_with_its_warnings() -> None:
    good = read_well_known_server(200, {"content-type": "text/plain"}, b'{"m.server": "chat.example.org:443"}')
    assert good.m_server == "chat.example.org:443"
    assert good.warnings and "application/json" in good.warnings[0]
    assert read_well_known_server(404, {}, b"").problem == "answered HTTP 404, not 200"
    assert "not JSON" in (read_well_known_server(200, {}, b"<html>").problem or "")
    assert "m.server" in (read_well_known_server(200, {}, b"{}").problem or "")
    assert "over the" in (read_well_known_server(200, {}, b" " * 60_000).problem or "")


def no_srv(name: str) -> tuple[str, list[tuple[str, int]], bool]:
    return "nxdomain", [], False


def test_delegation_with_an_explicit_port_goes_there() -> None:
    resolution = resolve_delegation("example.org", WellKnown("chat.example.org:443", None), no_srv)
    assert (resolution.host, resolution.port, resolution.connect_host) == ("chat.example.org", 443, "chat.example.org")


def test_without_well_known_or_srv_discovery_falls_back_to_8448() -> None:
    resolution = resolve_delegation("example.org", WellKnown(None, "answered HTTP 404, not 200"), no_srv)
    assert resolution.authority == "example.org:8448"
    assert any("404" in step for step in resolution.steps)


def test_srv_matrix_fed_comes_before_the_deprecated_matrix_record() -> None:
    asked: list[str] = []

    def srv(name: str) -> tuple[str, list[tuple[str, int]], bool]:
        asked.append(name)
        if name.startswith("_matrix._tcp."):
            return "ok", [("federation.example.net", 8443)], False
        return "nxdomain", [], False

    resolution = resolve_delegation("example.org", None, srv)
    assert asked == ["_matrix-fed._tcp.example.org", "_matrix._tcp.example.org"]
    # Certificates and Host name the server, not the SRV target.
    assert (resolution.host, resolution.port, resolution.connect_host) == (
        "example.org",
        8443,
        "federation.example.net",
    )
    assert "deprecated" in resolution.steps[-1]


def test_an_srv_target_that_is_a_cname_is_a_problem() -> None:
    resolution = resolve_delegation("example.org", None, lambda name: ("ok", [("alias.example.org", 443)], True))
    assert resolution.problem and "CNAME" in resolution.problem


def signed_keys(server_name: str = "example.org", valid_until: int = NOW_MS + 86_400_000) -> dict[str, object]:
    key = generate_signing_key("a_test")
    document = {
        "server_name": server_name,
        "valid_until_ts": valid_until,
        "verify_keys": {f"ed25519:{key.version}": {"key": encode_verify_key_base64(get_verify_key(key))}},
        "old_verify_keys": {},
    }
    return sign_json(document, server_name, key)


def test_a_signed_keys_document_reads_clean() -> None:
    reading = read_server_keys(signed_keys(), "example.org", NOW_MS)
    assert reading.problems == () and reading.key_ids == ("ed25519:a_test",)


def test_a_tampered_signature_does_not_verify() -> None:
    document = signed_keys()
    signatures = document["signatures"]["example.org"]  # type: ignore[index]
    key_id = next(iter(signatures))
    signatures[key_id] = ("A" if signatures[key_id][0] != "A" else "B") + signatures[key_id][1:]
    reading = read_server_keys(json.loads(json.dumps(document)), "example.org", NOW_MS)
    assert any("does not verify" in problem for problem in reading.problems)


def test_expired_foreign_or_keyless_documents_are_problems() -> None:
    assert any(
        "past" in p for p in read_server_keys(signed_keys(valid_until=NOW_MS - 1), "example.org", NOW_MS).problems
    )
    assert any("server_name" in p for p in read_server_keys(signed_keys("other.org"), "example.org", NOW_MS).problems)
    assert any(
        "no ed25519" in p for p in read_server_keys({"server_name": "example.org"}, "example.org", NOW_MS).problems
    )
    soon = read_server_keys(signed_keys(valid_until=NOW_MS + 600_000), "example.org", NOW_MS)
    assert soon.problems == () and soon.warnings
