"""A throwaway CA and the edge certificate it issues, like Cloudflare's edge certificate."""

from __future__ import annotations

import datetime

import trustme

from stack._layout import Layout
from stack._secrets import write_private

# Edge certificates are short-lived in real life; 90 days keeps a "days remaining" check
# meaningful and leaves room for a later cert-expiring fault to issue a shorter one.
LEAF_LIFETIME = datetime.timedelta(days=90)


def make_ca(layout: Layout) -> None:
    ca = trustme.CA(organization_name="Synthetics throwaway CA")
    layout.ca_pem.write_bytes(ca.cert_pem.bytes())
    # Kept (privately) so a certificate can be reissued later without changing the trust anchor.
    write_private(layout.ca_key, ca.private_key_pem.bytes())


def issue_edge_cert(layout: Layout, hosts: list[str], *, lifetime: datetime.timedelta = LEAF_LIFETIME) -> None:
    ca = trustme.CA.from_pem(layout.ca_pem.read_bytes(), layout.ca_key.read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(*hosts, not_before=now - datetime.timedelta(hours=1), not_after=now + lifetime)
    layout.edge_cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    write_private(layout.edge_key, leaf.private_key_pem.bytes())
