"""Server names and host:port text, per the Matrix spec's grammar (appendix "Server Name").

    server_name = hostname [ ":" port ]
    port        = 1*5DIGIT                        ; and 1-65535
    hostname    = IPv4address / "[" IPv6address "]" / dns-name
    IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
    IPv6address = 2*45IPv6char                    ; 0-9, A-F, a-f, ":" and "."
    dns-name    = 1*255dns-char                   ; A-Z, a-z, 0-9, "-" and "."

One parser for the whole suite: the target file's host:port values and the federation rules read
names the same way, so a name the target accepts is one discovery can resolve. Pure: no DNS, no I/O.

Internationalised names: the grammar is ASCII, so a name is written in its IDNA A-label form
(`xn--exmple-cua.org`), which is accepted as any dns-name. A U-label (`exämple.org`) is refused,
naming the A-label to write instead, never converted: Matrix compares server names as written
(`@user:exämple.org` and `@user:xn--exmple-cua.org` would be different users), so the suite must
not quietly judge another name than the one the homeserver signs with.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

__all__ = ["authority", "canonical_host", "is_ip_literal", "parse_server_name", "url_host"]

# fullmatch everywhere: `$` would let a trailing newline through ("example.org\n").
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_DNS_NAME = re.compile(r"[A-Za-z0-9.-]+")
_DNS_NAME_MAX = 255
_PORT = re.compile(r"[0-9]{1,5}")


def parse_server_name(text: str) -> tuple[str, int | None]:
    """(host, port or None) for `text`; an IPv6 host comes back without its brackets.

    Raises ValueError whose message says what is wrong, meant to follow a key path or a field name.
    """
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if not _IPV6.fullmatch(host) or not _is_address(host, ipaddress.IPv6Address):
            raise ValueError(f"{host!r} in brackets is not an IPv6 address")
        if rest and not rest.startswith(":"):
            raise ValueError(f"expected ':port' after ']' in {text!r}")
        port_text = rest[1:] if rest else None
    else:
        if text.count(":") > 1:
            # Without brackets the port of "2001:db8::1:8448" cannot be told from the address.
            raise ValueError(f"an IPv6 address must be in brackets ('[v6]' or '[v6]:port'), got {text!r}")
        host, colon, after = text.partition(":")
        port_text = after if colon else None
        _check_host(host)
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port must be 1-65535, got {port_text!r}")
    return host, int(port_text)


def is_ip_literal(host: str) -> bool:
    """Whether `host` (as parse_server_name returns it) is an IP address rather than a DNS name."""
    return _is_address(host, ipaddress.ip_address)


def _check_host(host: str) -> None:
    if not host:
        raise ValueError("the host name is empty")
    if _IPV4.fullmatch(host):
        # The grammar's IPv4address takes any 1-3 digits; "300.1.1.1" would also pass as a dns-name,
        # but it is a mistyped address, not a name anyone can resolve, so it is refused here.
        if not _is_address(host, ipaddress.IPv4Address):
            raise ValueError(f"{host!r} is not a valid IPv4 address")
        return
    if len(host) > _DNS_NAME_MAX:
        raise ValueError(f"host name is {len(host)} characters long, over the {_DNS_NAME_MAX} allowed")
    if not host.isascii():
        raise ValueError(_not_ascii(host))
    if not _DNS_NAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a valid host name or IP address")


def _not_ascii(host: str) -> str:
    try:
        a_label = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f"{host!r} is not a valid host name: a server name is ASCII (IDNA names in their xn-- form)"
    return f"{host!r} is not ASCII: write the name in its IDNA A-label form, {a_label!r}"


def canonical_host(host: str) -> str:
    """`host` (as parse_server_name returns it) as maps of hosts key it: a DNS name in lower case, an
    IP address in its compressed form (`2606:4700::1`, as DNS answers write it)."""
    if is_ip_literal(host):
        return ipaddress.ip_address(host).compressed
    return host.lower()


def url_host(host: str) -> str:
    """`host` as a URL or a Host header writes it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def authority(host: str, port: int | None) -> str:
    """host[:port] as a URL or a Host header writes it (`[2001:db8::1]:8448`)."""
    return url_host(host) if port is None else f"{url_host(host)}:{port}"


def _is_address(text: str, kind: Callable[[str], object]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True
