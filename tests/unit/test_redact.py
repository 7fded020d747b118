from synthetics.redact import REDACTED, Redactor


def test_known_secret_values_and_secret_shapes_are_redacted() -> None:
    redact = Redactor(["s3cr3t-token-value"])
    text = redact(
        "token s3cr3t-token-value; Authorization: Bearer abc.def; GET /sync?access_token=xyz&since=1; "
        '{"password": "hunter22"} syt_dGVzdA_abcdefghijklmno_123'
    )
    for secret in ("s3cr3t-token-value", "abc.def", "xyz", "hunter22", "syt_dGVzdA"):
        assert secret not in text
    assert "since=1" in text and text.count(REDACTED) >= 5


def test_short_values_are_not_replaced_literally() -> None:
    assert Redactor(["ab"])("a cab") == "a cab"


def test_variable_references_and_placeholders_are_kept() -> None:
    redact = Redactor()
    kept = 'curl -H "Authorization: Bearer $SYNAPSE_ADMIN_TOKEN" and Authorization: Bearer <ADMIN_TOKEN>'
    assert redact(kept) == kept


def test_json_values_are_redacted_without_breaking_the_structure() -> None:
    document = {"remediation": ['curl -H "Authorization: Bearer abc123secret"'], "n": 1}
    assert Redactor().json(document) == {"remediation": [f'curl -H "Authorization: Bearer {REDACTED}"'], "n": 1}


def test_passwords_in_dsns_and_urls_are_redacted() -> None:
    redact = Redactor()
    assert (
        redact("postgresql://synapse:hunter2pass@db:5432/synapse") == f"postgresql://synapse:{REDACTED}@db:5432/synapse"
    )
    assert "hunter2pass" not in redact("host=db user=synapse password=hunter2pass dbname=synapse")
