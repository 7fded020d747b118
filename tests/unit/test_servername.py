"""The server-name grammar (Matrix spec appendix), one rule per test, with no network."""

import pytest

from synthetics.servername import authority, is_ip_literal, parse_server_name, url_host


def refused(text: str) -> str:
    with pytest.raises(ValueError) as raised:
        parse_server_name(text)
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3.4", ("1.2.3.4", None)), ("192.0.2.10:8448", ("192.0.2.10", 8448))],
)
def test_rule_ipv4address_is_a_dotted_quad(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_server_name(text) == expected
    assert is_ip_literal(expected[0])


def test_rule_ipv4address_refuses_an_octet_over_255() -> None:
    assert "not a valid IPv4 address" in refused("300.1.1.1")


def test_rule_ipv6address_in_brackets_without_port() -> None:
    assert parse_server_name("[2001:db8::1]") == ("2001:db8::1", None)
    assert is_ip_literal("2001:db8::1")


def test_rule_ipv6address_in_brackets_with_port() -> None:
    assert parse_server_name("[::1]:8448") == ("::1", 8448)
    assert parse_server_name("[::ffff:192.0.2.1]:443") == ("::ffff:192.0.2.1", 443)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2001:db8::1", "must be in brackets"),
        ("[::1", "unclosed '['"),
        ("[::1]8448", "expected ':port'"),
        ("[nope]:1", "not an IPv6 address"),
        ("[1.2.3.4]", "not an IPv6 address"),
        ("[fe80::1%eth0]", "not an IPv6 address"),  # a zone id is no IPv6char
    ],
)
def test_rule_ipv6address_needs_brackets_and_a_real_address(text: str, problem: str) -> None:
    assert problem in refused(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.org", ("example.org", None)),
        ("chat.example.org:443", ("chat.example.org", 443)),
        ("localhost", ("localhost", None)),
        ("a-b.example-1.org", ("a-b.example-1.org", None)),
        ("a" * 255, ("a" * 255, None)),
    ],
)
def test_rule_dns_name_is_letters_digits_hyphens_and_dots(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_server_name(text) == expected
    assert not is_ip_literal(expected[0])


@pytest.mark.parametrize("text", ["exa mple.org", "a_b.org", "bad name!", "exämple.org", "", ":8448"])
def test_rule_dns_name_refuses_other_characters_and_emptiness(text: str) -> None:
    refused(text)


def test_rule_dns_name_is_at_most_255_characters() -> None:
    assert "over the 255" in refused("a" * 256)


@pytest.mark.parametrize(("text", "port"), [("example.org:1", 1), ("example.org:65535", 65535)])
def test_rule_port_bounds_are_inclusive(text: str, port: int) -> None:
    assert parse_server_name(text) == ("example.org", port)


@pytest.mark.parametrize(
    "text", ["example.org:0", "example.org:65536", "example.org:99999", "example.org:", "example.org:+80", "x:٣"]
)
def test_rule_port_is_1_to_65535_in_ascii_digits(text: str) -> None:
    assert "port must be 1-65535" in refused(text)


@pytest.mark.parametrize(
    "text",
    ["example.org\n", "example.org:8448\n", "[::1]\n", "[::1]:8448\n", "1.2.3.4\n", "example.org ", " example.org"],
)
def test_whole_string_match_refuses_a_trailing_newline_or_space(text: str) -> None:
    refused(text)


def test_idna_names_are_accepted_in_their_a_label_form() -> None:
    assert parse_server_name("xn--exmple-cua.org:8448") == ("xn--exmple-cua.org", 8448)


def test_idna_names_in_their_u_label_form_are_refused_naming_the_a_label() -> None:
    # Not converted: Matrix compares server names as written, so the A-label is what to write.
    assert "'xn--exmple-cua.org'" in refused("exämple.org")
    assert "A-label" in refused("exämple.org:8448")


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [("example.org", None, "example.org"), ("example.org", 8448, "example.org:8448"),
     ("::1", None, "[::1]"), ("2001:db8::1", 8448, "[2001:db8::1]:8448"), ("1.2.3.4", 443, "1.2.3.4:443")],
)  # fmt: skip
def test_an_authority_writes_an_ipv6_host_in_brackets(host: str, port: int | None, expected: str) -> None:
    assert authority(host, port) == expected
    assert url_host(host) == (expected.rsplit(":", 1)[0] if port is not None else expected)
