"""The target file contract: parsed once, strictly, with the key path in every error."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from synthetics.probe import ConnectionBlocked, Route, connect_address
from synthetics.target import Target, TargetError, describe, load_target, parse_target

REPO = Path(__file__).resolve().parents[2]
MINIMAL = {"name": "t", "homeserver": {"base_url": "https://chat.example.org", "server_name": "example.org"}}


def parse(document: object, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_target(document, source="t.yaml", base_dir=Path("/"), environ=environ or {})


def with_key(path: str, value: object) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(yaml.safe_dump(MINIMAL))
    node = document
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return document


def test_prod_target_carries_the_runbook_values() -> None:
    target = load_target(REPO / "targets" / "prod.yaml", environ={"SYNAPSE_MEDIA_BUCKET": "media-bucket"})
    assert target.homeserver is not None
    assert target.homeserver.base_url == "https://chat.thephenom.app"
    assert target.homeserver.server_name == "thephenom.app"
    assert target.edge.provider == "cloudflare"
    assert target.aws is not None and target.aws.ecs is not None and target.aws.rds is not None
    assert (target.aws.profile, target.aws.region) == ("phenom", "us-east-1")
    assert (target.aws.ecs.cluster, target.aws.ecs.service) == ("phenom-prod-cluster", "synapse")
    assert (target.aws.rds.instance, target.aws.rds.database) == ("phenom-prod-postgres", "synapse")
    assert target.aws.s3 is not None and target.aws.s3.media_bucket == "media-bucket"
    assert target.aws.logs is not None and target.aws.logs.group == "/ecs/synapse"


def test_an_unset_variable_leaves_the_value_absent_and_names_the_variable() -> None:
    target = load_target(REPO / "targets" / "prod.yaml", environ={})
    assert target.aws is not None and target.aws.s3 is not None
    assert target.aws.s3.media_bucket is None
    assert "SYNAPSE_MEDIA_BUCKET" in target.why_absent("aws.s3.media_bucket")


def test_variables_expand_with_defaults() -> None:
    document = with_key("homeserver.base_url", "https://${HOST:-chat.example.org}")
    assert parse(document).homeserver.base_url == "https://chat.example.org"
    assert parse(document, {"HOST": "other.example"}).homeserver.base_url == "https://other.example"


def test_the_local_target_is_embedded() -> None:
    target = load_target(REPO / "targets" / "local.yaml")
    assert target.embedded and target.homeserver is None


def test_aws_names_a_shared_credentials_file_relative_to_the_target(tmp_path: Path) -> None:
    (tmp_path / "aws-credentials").write_text("[default]\n")
    document = with_key("aws", {"region": "us-east-1", "credentials_file": "aws-credentials"})
    target = parse_target(document, source="t.yaml", base_dir=tmp_path, environ={})
    assert target.aws is not None and target.aws.credentials_file == str(tmp_path / "aws-credentials")


def test_connect_to_maps_host_port_pairs() -> None:
    target = parse(with_key("network.connect_to", {"chat.example.org:443": "127.0.0.1:8443"}))
    assert target.network.connect_to == {("chat.example.org", 443): ("127.0.0.1", 8443)}


def test_connect_to_is_keyed_as_connections_look_it_up() -> None:
    # A name in lower case, an address in its compressed form (as DNS answers write it).
    mapping = {"Chat.Example.ORG:443": "127.0.0.1:1", "[2606:4700:0:0::0AC4:1]:443": "127.0.0.1:2"}
    target = parse(with_key("network.connect_to", mapping))
    assert target.network.connect_to == {
        ("chat.example.org", 443): ("127.0.0.1", 1),
        ("2606:4700::ac4:1", 443): ("127.0.0.1", 2),
    }


def test_a_route_pinning_a_mapped_address_goes_where_that_address_is_mapped() -> None:

    mapping = {
        "chat.example.org:443": "127.0.0.1:1",
        "104.16.0.1:443": "127.0.0.1:2",
        "[2606:4700::1]:443": "127.0.0.1:3",
    }
    target = parse(with_key("network", {"connect_to": mapping, "connect_to_only": True}))
    url = ("chat.example.org", 443)
    assert connect_address(target, *url) == ("127.0.0.1", 1)
    # One address of the name, as `curl --resolve` pins it, where connect_to maps that address itself.
    assert connect_address(target, *url, Route("chat.example.org", 443, "104.16.0.1")) == ("127.0.0.1", 2)
    assert connect_address(target, *url, Route("chat.example.org", 443, "2606:4700:0::1")) == ("127.0.0.1", 3)
    # An address the map does not name goes where the name is mapped; no address, where the route's host is.
    assert connect_address(target, *url, Route("chat.example.org", 443, "104.16.0.2")) == ("127.0.0.1", 1)
    with pytest.raises(ConnectionBlocked):
        connect_address(target, *url, Route("fed.example.org", 8443))


@pytest.mark.parametrize(
    ("document", "key_path", "problem"),
    [
        (with_key("homeserver.base_url", "http://chat.example.org"), "homeserver.base_url", "https://"),
        (with_key("homeserver.base_url", "https://u:p@chat.example.org"), "homeserver.base_url", "credentials"),
        (with_key("homeserver.server_name", "bad name!"), "homeserver.server_name", "not a valid host"),
        (with_key("homeserver.delegation", "chat.example.org:99999"), "homeserver.delegation", "port"),
        (with_key("homeserver.colour", "blue"), "homeserver.colour", "unknown key"),
        (with_key("edge.provider", "akamai"), "edge.provider", "'cloudflare' or 'none'"),
        (with_key("tls.min_days_remaining", "14"), "tls.min_days_remaining", "whole number"),
        (with_key("dns.nameservers", ["dns.example"]), "dns.nameservers[0]", "IP address"),
        (with_key("network.timeout_s", 0), "network.timeout_s", "between"),
        (
            with_key("network.connect_to", {"chat.example.org": "127.0.0.1:1"}),
            "network.connect_to.chat.example.org",
            "host:port",
        ),
        (with_key("aws", {"profile": "p"}), "aws.region", "required"),
        (with_key("aws", {"region": "r", "credentials_file": "/nonexistent"}), "aws.credentials_file", "no such file"),
        (with_key("network.connect_to_only", "yes"), "network.connect_to_only", "true or false"),
        (with_key("thresholds.latency_p95_ms", 0), "thresholds.latency_p95_ms", "between"),
        (with_key("aws", {"region": "us-east-1", "ecs": {"cluster": "c"}}), "aws.ecs.service", "required"),
        (
            with_key("credentials.admin_token_env", "syt_abc secret"),
            "credentials.admin_token_env",
            "environment variable",
        ),
        ({"homeserver": MINIMAL["homeserver"]}, "name", "required"),
        ({"name": "t"}, "homeserver", "required"),
        ({"name": "t", "embedded": True, "edge": {"provider": "none"}}, "edge", "generated at boot"),
        (["a list"], "", "mapping"),
        (None, "", "empty"),
    ],
)
def test_a_bad_target_names_the_key_path_and_the_problem(document: object, key_path: str, problem: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse(document)
    assert raised.value.key_path == key_path
    assert problem in raised.value.problem
    assert str(raised.value).startswith("t.yaml: ")


def test_a_yaml_error_gives_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: t\nhomeserver: [\n")
    with pytest.raises(TargetError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_target(broken)


def test_a_missing_ca_bundle_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"tls\.ca_bundle: no such file"):
        parse_target(with_key("tls.ca_bundle", "nope.pem"), source="t.yaml", base_dir=tmp_path, environ={})


def test_absent_keys_take_the_defaults_their_fields_declare() -> None:
    target = parse(with_key("aws", {"region": "r", "s3": {}, "logs": {"group": "g"}}))
    assert (target.edge.provider, target.tls.ca_bundle, target.tls.min_days_remaining) == ("none", None, 14)
    assert (target.dns.nameservers, target.network.timeout_s, target.network.connect_to) == ((), 5.0, {})
    assert target.network.connect_to_only is False
    assert target.homeserver is not None and target.homeserver.open_registration is False
    assert target.aws is not None and target.aws.s3 is not None and target.aws.logs is not None
    assert (target.aws.s3.media_bucket, target.aws.s3.canary_prefix) == (None, "synthetics-canary/")
    assert target.aws.logs.lookback_minutes == 15 and target.aws.ecs is None
    assert (target.reporting.pushgateway_url, target.reporting.job) == (None, "synapse-synthetics")
    assert target.thresholds.latency_p95_ms == 2000.0 and target.thresholds.room_state_events == 100_000.0
    assert target.canary is None and target.credentials.admin_token_env is None


def test_the_known_keys_in_an_error_are_the_declared_fields() -> None:
    with pytest.raises(TargetError) as raised:
        parse(with_key("reporting.colour", "blue"))
    assert raised.value.problem == (
        "unknown key (known keys here: alertmanager_url, job, pushgateway_url, schedule_interval_s, vantage)"
    )
    with pytest.raises(TargetError) as raised:
        parse(with_key("colour", "blue"))
    assert "canary, credentials, dns, edge, embedded, homeserver" in raised.value.problem
    assert "source" not in raised.value.problem and "unset_variables" not in raised.value.problem


def test_null_reads_as_absent_for_sections_but_is_refused_for_a_scalar_with_a_default() -> None:
    target = parse(with_key("tls", None) | {"network": {"connect_to": None}, "aws": None})
    assert target.tls.min_days_remaining == 14 and target.network.connect_to == {} and target.aws is None
    for key_path, problem in [("network.timeout_s", "must be a number"), ("reporting.job", "is required")]:
        with pytest.raises(TargetError) as raised:
            parse(with_key(key_path, None))
        assert (raised.value.key_path, problem in raised.value.problem) == (key_path, True)


@pytest.mark.parametrize(
    ("key_path", "value", "problem"),
    [
        ("homeserver.server_name", "example.org\n", "not a valid host"),
        ("homeserver.delegation", "2001:db8::1", "in brackets"),
        ("homeserver.delegation", "chat.example.org:0", "port must be 1-65535"),
        ("dns.nameservers", ["192.0.2.1:53\n"], "port must be 1-65535"),
        ("network.connect_to", {"chat.example.org:443": "127.0.0.1:8443 "}, "port must be 1-65535"),
    ],
)
def test_host_port_values_follow_the_server_name_grammar(key_path: str, value: object, problem: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse(with_key(key_path, value))
    assert raised.value.key_path.startswith(key_path) and problem in raised.value.problem


def test_ipv6_server_names_and_nameservers_parse() -> None:
    document = with_key("homeserver.delegation", "[2001:db8::1]:443")
    document["dns"] = {"nameservers": ["2001:db8::53", "[2001:db8::54]:5353"]}
    target = parse(document)
    assert target.homeserver is not None and target.homeserver.delegation == "[2001:db8::1]:443"
    assert target.dns.nameservers == (("2001:db8::53", 53), ("2001:db8::54", 5353))


def test_every_declared_key_is_documented_in_the_schema_and_the_runbook_map() -> None:
    guide = (REPO / "docs" / "runbook-map.md").read_text().split("## How to add a target", 1)[1]
    table = guide.split("\n\n")[2]  # after the heading and the paragraph that introduces the keys
    rows = {line.split("`")[1]: line for line in table.splitlines() if line.startswith("| `")}
    declared = list(describe(Target))
    paths = {key_path for key_path, _, _ in declared}
    assert {"name", "homeserver.server_name", "aws.ec2.tag", "thresholds.room_state_events"} <= paths
    for key_path, _, doc in declared:
        assert doc, f"{key_path} has no doc"
        section, _, rest = key_path.partition(".")
        assert section in rows, f"docs/runbook-map.md has no row for {section}"
        assert not rest or f"`{rest.rsplit('.', 1)[-1]}`" in rows[section], f"docs/runbook-map.md omits {key_path}"


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
HOSTILE_FILES = {
    "deep nesting": ("name: x\nhomeserver: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "nests deeper than"),
    "an alias bomb": ("name: x\nextra:\n" + "".join(f"  {line}\n" for line in BOMB.splitlines()), "more than"),
    "a key that is not a string": ("name: x\n1: 2\n", "key that is not a string"),
    "a huge file": ("name: x\n#" + "x" * 400_000 + "\n", "larger than"),
    "a timestamp for a string": ("name: 2024-01-01\n", "is a date"),
}


@pytest.mark.parametrize("case", HOSTILE_FILES)
def test_hostile_yaml_is_rejected_with_one_line(tmp_path: Path, case: str) -> None:
    text, problem = HOSTILE_FILES[case]
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TargetError) as raised:
        load_target(path, environ={})
    message = str(raised.value)
    assert problem in message and "\n" not in message and len(message) < 300, message


def test_warning_lines_default_below_their_critical_ones() -> None:
    target = parse(MINIMAL)
    assert (target.thresholds.latency_warning_ms, target.thresholds.latency_p95_ms) == (1000.0, 2000.0)
    assert (target.tls.critical_days, target.tls.min_days_remaining) == (3, 14)
    # A low min_days_remaining leaves no warning tier rather than refusing an older target.
    assert parse(with_key("tls.min_days_remaining", 2)).tls.critical_days == 2
    assert parse(with_key("thresholds.latency_p95_warning_ms", 250)).thresholds.latency_warning_ms == 250.0


@pytest.mark.parametrize(
    ("key_path", "value", "problem"),
    [
        ("thresholds.latency_p95_warning_ms", 2000, "must be under thresholds.latency_p95_ms (2000)"),
        ("thresholds.latency_p95_warning_ms", "fast", "must be a number"),
        ("tls.critical_days_remaining", 14, "must be under tls.min_days_remaining (14)"),
    ],
)
def test_a_warning_line_given_must_lie_before_its_critical_one(key_path: str, value: object, problem: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse(with_key(key_path, value))
    assert raised.value.key_path == key_path and problem in raised.value.problem
