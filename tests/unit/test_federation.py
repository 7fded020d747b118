"""Server discovery and server keys, per the server-server API (pure rules, no network)."""

import json

import pytest
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

from synthetics import must
from synthetics.catalogue import Mode
from synthetics.check import CheckInfo, Severity, current_check
from synthetics.exchange import Exchange
from synthetics.federation import (
    MAX_SRV_CANDIDATES,
    AddressKeys,
    Resolution,
    SrvLookup,
    SrvRecord,
    WellKnown,
    order_srv,
    parse_server_name,
    read_server_keys,
    read_well_known_server,
    resolve_delegation,
)
from synthetics.layers import Layer

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


# -- "Resolving server names", step by step (server-server API). Each test names its step. -----

Srv = dict[str, tuple[str, tuple[SrvRecord, ...]]]


def fake_srv(answers: Srv | None = None, asked: list[str] | None = None) -> SrvLookup:
    """An SRV lookup answering from `answers` (NXDOMAIN for any other name), noting what was asked."""

    def srv(name: str) -> tuple[str, tuple[SrvRecord, ...]]:
        if asked is not None:
            asked.append(name)
        return (answers or {}).get(name, ("nxdomain", ()))

    return srv


def no_srv(name: str) -> tuple[str, tuple[SrvRecord, ...]]:
    raise AssertionError(f"no SRV lookup expected, asked {name}")


def where(resolution: Resolution) -> tuple[str, str, list[tuple[str, int]], str]:
    """(TLS name, Host header, connection candidates, step): what the spec decides at each step."""
    return resolution.host, resolution.host_header, [(c.host, c.port) for c in resolution.candidates], resolution.step


def wk(m_server: str) -> WellKnown:
    return WellKnown(m_server, None)


NO_WELL_KNOWN = WellKnown(None, "answered HTTP 404, not 200")


@pytest.mark.parametrize(
    ("server_name", "expected"),
    [
        ("1.2.3.4", ("1.2.3.4", "1.2.3.4", [("1.2.3.4", 8448)], "1")),
        ("1.2.3.4:1234", ("1.2.3.4", "1.2.3.4:1234", [("1.2.3.4", 1234)], "1")),
        ("[::1]", ("::1", "[::1]", [("::1", 8448)], "1")),
        ("[2001:db8::1]:8448", ("2001:db8::1", "[2001:db8::1]:8448", [("2001:db8::1", 8448)], "1")),
    ],
)
def test_step_1_an_ip_literal_is_used_with_its_port_or_8448(
    server_name: str, expected: tuple[str, str, list[tuple[str, int]], str]
) -> None:
    # Certificate for the IP address; Host is the server name, with the port only if it had one.
    # No well-known and no SRV are consulted (a well-known passed in is ignored).
    assert where(resolve_delegation(server_name, wk("elsewhere.example:443"), no_srv)) == expected


def test_step_2_an_explicit_port_goes_to_the_hostname_with_host_name_and_port() -> None:
    resolution = resolve_delegation("example.org:8888", wk("elsewhere.example:443"), no_srv)
    assert where(resolution) == ("example.org", "example.org:8888", [("example.org", 8888)], "2")


def test_step_2_keeps_an_explicit_443_in_the_host_header() -> None:
    # "with a Host header of the original server name (with port)", even the https default.
    assert resolve_delegation("example.org:443", None, no_srv).host_header == "example.org:443"


@pytest.mark.parametrize(
    ("m_server", "expected"),
    [
        ("192.0.2.7", ("192.0.2.7", "192.0.2.7", [("192.0.2.7", 8448)], "3.1")),
        ("192.0.2.7:8443", ("192.0.2.7", "192.0.2.7:8443", [("192.0.2.7", 8443)], "3.1")),
        ("[2001:db8::7]", ("2001:db8::7", "[2001:db8::7]", [("2001:db8::7", 8448)], "3.1")),
        ("[2001:db8::7]:443", ("2001:db8::7", "[2001:db8::7]:443", [("2001:db8::7", 443)], "3.1")),
    ],
)
def test_step_3_1_a_delegated_ip_literal_is_used_with_its_port_or_8448(
    m_server: str, expected: tuple[str, str, list[tuple[str, int]], str]
) -> None:
    assert where(resolve_delegation("example.org", wk(m_server), no_srv)) == expected


def test_step_3_2_a_delegated_port_goes_to_the_delegated_host_with_host_and_port() -> None:
    resolution = resolve_delegation("example.org", wk("chat.example.org:443"), no_srv)
    assert where(resolution) == ("chat.example.org", "chat.example.org:443", [("chat.example.org", 443)], "3.2")
    assert resolution.url("/_matrix/key/v2/server") == "https://chat.example.org:443/_matrix/key/v2/server"


def test_step_3_3_the_delegated_hosts_matrix_fed_srv_with_the_delegated_name_for_tls_and_host() -> None:
    asked: list[str] = []
    srv = fake_srv({"_matrix-fed._tcp.chat.example.org": ("ok", (SrvRecord(10, 5, 8443, "fed.example.net"),))}, asked)
    resolution = resolve_delegation("example.org", wk("chat.example.org"), srv)
    # TCP to the SRV target and port; certificate and Host name the delegated host, without a port.
    assert where(resolution) == ("chat.example.org", "chat.example.org", [("fed.example.net", 8443)], "3.3")
    assert resolution.url("/x") == "https://chat.example.org/x"
    assert asked == ["_matrix-fed._tcp.chat.example.org"]


def test_step_3_4_the_deprecated_matrix_srv_of_the_delegated_host_only_after_matrix_fed() -> None:
    asked: list[str] = []
    srv = fake_srv({"_matrix._tcp.chat.example.org": ("ok", (SrvRecord(0, 0, 8449, "old.example.net"),))}, asked)
    resolution = resolve_delegation("example.org", wk("chat.example.org"), srv)
    assert asked == ["_matrix-fed._tcp.chat.example.org", "_matrix._tcp.chat.example.org"]
    assert where(resolution) == ("chat.example.org", "chat.example.org", [("old.example.net", 8449)], "3.4")
    assert "deprecated" in resolution.steps[-1]


def test_step_3_5_no_srv_for_the_delegated_host_means_it_on_8448() -> None:
    resolution = resolve_delegation("example.org", wk("chat.example.org"), fake_srv())
    assert where(resolution) == ("chat.example.org", "chat.example.org", [("chat.example.org", 8448)], "3.5")


def test_step_3_an_unusable_well_known_skips_to_step_4() -> None:
    asked: list[str] = []
    resolution = resolve_delegation("example.org", NO_WELL_KNOWN, fake_srv(asked=asked))
    assert asked[0] == "_matrix-fed._tcp.example.org"
    assert any("404" in step for step in resolution.steps)


def test_step_4_the_server_names_matrix_fed_srv_with_the_server_name_for_tls_and_host() -> None:
    srv = fake_srv({"_matrix-fed._tcp.example.org": ("ok", (SrvRecord(10, 0, 443, "chat.example.net"),))})
    resolution = resolve_delegation("example.org", NO_WELL_KNOWN, srv)
    assert where(resolution) == ("example.org", "example.org", [("chat.example.net", 443)], "4")
    assert resolution.authority == "chat.example.net:443"


def test_step_5_the_deprecated_matrix_srv_of_the_server_name_after_matrix_fed() -> None:
    asked: list[str] = []
    srv = fake_srv({"_matrix._tcp.example.org": ("ok", (SrvRecord(0, 0, 8443, "federation.example.net"),))}, asked)
    resolution = resolve_delegation("example.org", None, srv)
    assert asked == ["_matrix-fed._tcp.example.org", "_matrix._tcp.example.org"]
    assert where(resolution) == ("example.org", "example.org", [("federation.example.net", 8443)], "5")
    assert "deprecated" in resolution.steps[-1]


def test_step_5_is_not_asked_when_matrix_fed_answers() -> None:
    asked: list[str] = []
    srv = fake_srv(
        {
            "_matrix-fed._tcp.example.org": ("ok", (SrvRecord(0, 0, 8443, "new.example.net"),)),
            "_matrix._tcp.example.org": ("ok", (SrvRecord(0, 0, 8448, "old.example.net"),)),
        },
        asked,
    )
    assert resolve_delegation("example.org", None, srv).connect_host == "new.example.net"
    assert asked == ["_matrix-fed._tcp.example.org"]


def test_step_6_without_well_known_or_srv_the_server_name_on_8448_with_a_bare_host_header() -> None:
    resolution = resolve_delegation("example.org", NO_WELL_KNOWN, fake_srv())
    # Host is the bare name: no ":8448" (the server name had no port).
    assert where(resolution) == ("example.org", "example.org", [("example.org", 8448)], "6")
    assert resolution.url("/_matrix/federation/v1/version") == "https://example.org/_matrix/federation/v1/version"


@pytest.mark.parametrize("prefix", ["_matrix-fed._tcp", "_matrix._tcp"])
def test_steps_4_5_a_failed_srv_lookup_is_a_problem_and_leaves_nowhere_to_connect(prefix: str) -> None:
    answers: Srv = {f"{prefix}.example.org": ("servfail", ())}
    resolution = resolve_delegation("example.org", None, fake_srv(answers))
    assert resolution.problem and "failed (servfail)" in resolution.problem
    assert resolution.candidates == ()


# RFC 2782 (the spec's SRV steps): lowest priority first, weights among equals, "." for none.


def test_srv_records_are_taken_by_priority_then_weight_not_by_their_text() -> None:
    records = (
        SrvRecord(20, 100, 443, "a-backup.example.net"),  # sorts first as text ("20 100 ...")
        SrvRecord(10, 10, 8443, "b.example.net"),
        SrvRecord(10, 60, 8443, "c.example.net"),
    )
    resolution = resolve_delegation("example.org", None, fake_srv({"_matrix-fed._tcp.example.org": ("ok", records)}))
    # Both of the lowest priority are probed, the heavier first; the backup (priority 20) is not.
    assert [(c.host, c.port) for c in resolution.candidates] == [("c.example.net", 8443), ("b.example.net", 8443)]
    assert any("not probed" in step for step in resolution.steps)


def test_srv_candidates_of_one_priority_are_capped_in_a_fixed_order() -> None:
    records = tuple(SrvRecord(0, 10, 443, f"h{n}.example.net") for n in (6, 2, 5, 1, 3, 4))
    assert [r.target for r in order_srv(records)] == [f"h{n}.example.net" for n in (1, 2, 3, 4)]
    assert len(order_srv(records)) == MAX_SRV_CANDIDATES


@pytest.mark.parametrize("prefix", ["_matrix-fed._tcp", "_matrix._tcp"])
def test_an_srv_target_of_dot_means_decidedly_not_available_not_a_host(prefix: str) -> None:
    answers: Srv = {f"{prefix}.example.org": ("ok", (SrvRecord(0, 0, 0, "."),))}
    resolution = resolve_delegation("example.org", None, fake_srv(answers))
    assert resolution.candidates == ()
    assert resolution.problem and "decidedly not available" in resolution.problem


def test_a_dot_among_real_srv_records_is_ignored() -> None:
    records = (SrvRecord(0, 0, 0, "."), SrvRecord(5, 0, 8443, "fed.example.net"))
    resolution = resolve_delegation("example.org", None, fake_srv({"_matrix-fed._tcp.example.org": ("ok", records)}))
    assert [(c.host, c.port) for c in resolution.candidates] == [("fed.example.net", 8443)]


def test_an_srv_target_that_is_a_cname_is_a_problem_for_every_record_used() -> None:
    records = (SrvRecord(0, 50, 443, "direct.example.net"), SrvRecord(0, 10, 443, "alias.example.net"))
    srv = fake_srv({"_matrix-fed._tcp.example.org": ("ok", records)})
    resolution = resolve_delegation("example.org", None, srv, is_alias=lambda name: name == "alias.example.net")
    # Not only the first record: the second, an alias, is named.
    assert resolution.problem and "alias.example.net" in resolution.problem and "CNAME" in resolution.problem
    clean = resolve_delegation("example.org", None, srv, is_alias=lambda name: False)
    assert clean.problem is None


def test_an_ipv6_srv_target_is_written_in_brackets() -> None:
    srv = fake_srv({"_matrix-fed._tcp.example.org": ("ok", (SrvRecord(0, 0, 8443, "fed.example.net"),))})
    assert resolve_delegation("example.org", None, srv).authority == "fed.example.net:8443"
    assert resolve_delegation("[2001:db8::1]", None, no_srv).authority == "[2001:db8::1]:8448"


def test_a_well_known_m_server_with_a_trailing_newline_is_invalid() -> None:
    reading = read_well_known_server(
        200, {"content-type": "application/json"}, b'{"m.server": "chat.example.org:443\\n"}'
    )
    assert reading.m_server is None and reading.problem and "m.server is invalid" in reading.problem


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
    document = signed_keys()
    reading = read_server_keys(document, "example.org", NOW_MS)
    assert reading.problems == () and reading.key_ids == ("ed25519:a_test",)
    assert reading.verify_keys == (("ed25519:a_test", document["verify_keys"]["ed25519:a_test"]["key"]),)  # type: ignore[index]


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


KEYS_CHECK = CheckInfo(
    "federation.keys_same_on_every_address", "t", Layer.FEDERATION, Severity.NORMAL, Mode.FEDERATION_BROKEN
)


def _per_address(*documents: dict[str, object]) -> AddressKeys:
    exchanges = tuple(
        (f"104.16.0.{n}", Exchange("GET", "https://example.org/_matrix/key/v2/server", status=200,
                                    headers={"content-type": "application/json"}, body=json.dumps(d).encode()))
        for n, d in enumerate(documents, start=1)
    )  # fmt: skip
    return AddressKeys("", exchanges)


def test_every_address_serving_the_same_keys_agrees() -> None:
    document = signed_keys()
    must.agree_on_keys(_per_address(document, document), "example.org")


def test_addresses_serving_other_keys_under_the_same_key_id_disagree() -> None:
    # Two origins whose keys share an id (each made its own a_test key): the ids alone would agree.
    first, second = signed_keys(), signed_keys()
    check = current_check.set(KEYS_CHECK)
    try:
        with pytest.raises(must.CheckFailed, match=r"serve different keys: 104\.16\.0\.1: ed25519:a_test \("):
            must.agree_on_keys(_per_address(first, second), "example.org")
    finally:
        current_check.reset(check)
