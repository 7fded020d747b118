"""What Cloudflare's own answers look like: ray ids and its branded error pages."""

from __future__ import annotations

import html
import secrets

# Cloudflare's wording for the errors this edge can produce.
_TITLES = {
    403: "Direct IP access not allowed",
    404: "Not found",
    409: "DNS resolution error",
    502: "Bad gateway",
    521: "Web server is down",
    522: "Connection timed out",
    524: "A timeout occurred",
}
_EXPLANATIONS = {
    403: "You've requested an IP address that is part of the Cloudflare network.",
    409: "The requested hostname is not routed to an origin by this edge.",
    502: "The web server reported a bad gateway error.",
    521: "The web server is not returning a connection.",
    522: "The initial connection between Cloudflare's network and the origin web server timed out.",
    524: "The origin web server timed out responding to this request.",
}
# Cloudflare's 1xxx error codes that go with some of these answers.
_CLOUDFLARE_CODES = {403: "1003", 409: "1001"}


def new_ray_id(colo: str) -> str:
    return f"{secrets.token_hex(8)}-{colo}"


def error_page(status: int, *, host: str, ray_id: str, client_ip: str) -> bytes:
    title = _TITLES.get(status, "Error")
    code = _CLOUDFLARE_CODES.get(status, str(status))
    what = _EXPLANATIONS.get(status, "")
    host_html = html.escape(host or "unknown host")
    ray = html.escape(ray_id.split("-")[0])
    page = f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<title>{host_html} | {code}: {html.escape(title)}</title>
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details">
    <h1><span class="cf-error-type">{html.escape(title)}</span>
      <span class="cf-error-code">Error code {code}</span></h1>
    <p>{html.escape(what)}</p>
    <p>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{code}">cloudflare.com</a>
      for more information.</p>
  </div>
  <div class="cf-error-footer">
    <p>Cloudflare Ray ID: <strong>{ray}</strong> &bull; Your IP: {html.escape(client_ip)}
      &bull; Performance &amp; security by Cloudflare</p>
  </div>
</div>
</body>
</html>
"""
    return page.encode()


def challenge_page(*, host: str, ray_id: str) -> bytes:
    """Cloudflare's managed challenge ("Just a moment..."): only a browser running its script passes."""
    host_html = html.escape(host or "unknown host")
    ray = html.escape(ray_id.split("-")[0])
    page = f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex,nofollow" />
</head>
<body>
<div class="main-wrapper" role="main">
  <div class="main-content">
    <h1 class="zone-name-title h1">{host_html}</h1>
    <h2 class="h2" id="challenge-running">Verifying you are human. This may take a few seconds.</h2>
    <noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
  </div>
</div>
<div class="footer" role="contentinfo">
  <div class="footer-inner">
    <div class="text-center" id="footer-text">Ray ID: <code>{ray}</code></div>
    <div class="text-center">Performance &amp; security by Cloudflare</div>
  </div>
</div>
</body>
</html>
"""
    return page.encode()
