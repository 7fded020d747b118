"""Whether a report opens on its run's verdict, judged where a person looks: the first screen.

Playwright for Python drives the machine's Chromium (`executable_path`; never `playwright install`,
which downloads a browser build) through the node driver its wheel ships, at a 1280×800 viewport:
the status, and for a run that is not healthy the root cause's failure mode, its evidence and its
remediation, must each lie inside that first screen by their bounding boxes, be visible, and be the
topmost element at their centre (nothing covers them). Any run's report can be judged this way:

    with serve_folder(report_folder) as base:
        assert_verdict_on_first_screen(base + "index.html", verdict)
    assert_verdict_on_first_screen(single_file.as_uri(), verdict)

Every browser action has a deadline, the browser is closed whatever happens, and a request for
anything but loopback, a file or inline data is refused and fails the check (the report is offline).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Page, ViewportSize

__all__ = [
    "VIEWPORT",
    "FirstScreen",
    "assert_verdict_on_first_screen",
    "chromium",
    "opened",
    "serve_folder",
]

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
LAUNCH_TIMEOUT_MS = 60_000
ACTION_TIMEOUT_MS = 30_000  # every other browser action: navigation, waits, queries
# Only what the banner shows of each further diagnosis entry (reports/verdict-banner.mjs).
FURTHER_SHOWN = 8
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def chromium() -> str:
    """The distribution's Chromium; skips (fails in CI as root) when there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is not None:
        return found
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        pytest.fail("no chromium in CI, where scripts/bootstrap installs it (apt-get install chromium)")
    # Not installed from here: `make test` runs the tests without a network, where apt-get cannot.
    pytest.skip("no chromium: run scripts/bootstrap as root (it installs Debian's chromium)")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(directory: Path) -> Iterator[str]:
    """The folder over loopback HTTP (browsers refuse a report's data fetches from file://): its base URL."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class FirstScreen:
    """An opened report page, and the requests it made that were refused (anything not local)."""

    page: Page
    refused: list[str] = field(default_factory=list)


def _local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") in _LOCAL_HOSTS


@contextmanager
def opened(url: str, *, script: bool = True) -> Iterator[FirstScreen]:
    """`url` in headless Chromium at the viewport, once the app rendered (`script`), or as static HTML."""
    from playwright.sync_api import Route, sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=BROWSER_ARGS, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT, java_script_enabled=script, service_workers="block")
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
            refused: list[str] = []

            def guard(route: Route) -> None:
                if _local(route.request.url):
                    route.continue_()
                else:
                    refused.append(route.request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            page = context.new_page()
            page.goto(url, wait_until="load", timeout=ACTION_TIMEOUT_MS)
            if script:
                # The app drops its loading screen once it has rendered; its data fetches then settle.
                page.wait_for_selector("#allure-app-loader", state="detached", timeout=ACTION_TIMEOUT_MS)
                page.wait_for_function(
                    "() => document.querySelector('#app')?.childElementCount > 0", timeout=ACTION_TIMEOUT_MS
                )
                page.wait_for_load_state("networkidle", timeout=ACTION_TIMEOUT_MS)
            yield FirstScreen(page, refused)
        finally:
            browser.close()


_UNCOVERED = """(element) => {
  const box = element.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return hit !== null && (hit === element || element.contains(hit));
}"""


def _on_first_screen(page: Page, selector: str) -> FloatRect:
    """The one element `selector` names: visible, wholly inside the viewport, and not covered."""
    locator = page.locator(selector)
    count = locator.count()
    assert count == 1, f"{selector}: {count} elements, expected one"
    assert locator.is_visible(), f"{selector} is not visible"
    box = locator.bounding_box(timeout=ACTION_TIMEOUT_MS)
    assert box is not None, f"{selector} has no box"
    width, height = VIEWPORT["width"], VIEWPORT["height"]
    inside = (
        box["width"] > 0
        and box["height"] > 0
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )
    assert inside, f"{selector} at {box} is not inside the first screen (0..{width} × 0..{height})"
    assert locator.evaluate(_UNCOVERED), f"{selector} at {box} is covered by another element"
    return box


def _text(page: Page, selector: str) -> str:
    return re.sub(r"\s+", " ", str(page.locator(selector).text_content(timeout=ACTION_TIMEOUT_MS) or "")).strip()


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def assert_verdict_on_first_screen(report_url: str, verdict: Mapping[str, Any], *, script: bool = True) -> None:
    """The report at `report_url` opens on `verdict` (the run's verdict.json, as a dict).

    Its status is on the first screen; when the run is not healthy and names a diagnosis, so are the
    root cause (the first entry) with its failure mode, evidence and remediation, and one line per
    further entry follows. With `script` (the default) the app has rendered too, below the banner.
    `script=False` opens the page with JavaScript off: the banner needs none.
    """
    status = str(verdict["status"])
    diagnosis = list(verdict.get("diagnosis", []))
    with opened(report_url, script=script) as screen:
        page = screen.page
        banner = _on_first_screen(page, "#synthetics-verdict .status")
        assert page.locator("#synthetics-verdict").get_attribute("data-status") == status
        assert _text(page, "#synthetics-verdict .status").lower() == status
        summary = _text(page, "#synthetics-verdict .summary")
        assert str(verdict["target"]) in summary, summary

        root_causes = page.locator("#synthetics-verdict .root-cause")
        if status == "healthy" or not diagnosis:
            assert root_causes.count() == 0, "a root cause shown for a run that names none"
        else:
            first = diagnosis[0]
            mode = str(first["failure_mode"])
            assert root_causes.get_attribute("data-failure-mode") == mode
            _on_first_screen(page, "#synthetics-verdict .root-cause .failure-mode")
            assert f"[{mode}]" in _text(page, "#synthetics-verdict .root-cause .failure-mode")
            _on_first_screen(page, "#synthetics-verdict .root-cause .evidence")
            evidence = _text(page, "#synthetics-verdict .root-cause .evidence")
            for check_id in first["evidence"]:
                assert check_id in evidence, evidence
            if first.get("messages"):
                assert _flat(str(first["messages"][0]))[:80] in evidence, evidence
            _on_first_screen(page, "#synthetics-verdict .root-cause .remediation")
            remediation = _text(page, "#synthetics-verdict .root-cause .remediation")
            for step in first["remediation"]:
                assert _flat(str(step)) in remediation, remediation
            further = page.locator("#synthetics-verdict .further")
            assert further.count() == min(len(diagnosis) - 1, FURTHER_SHOWN)
            for index, entry in enumerate(diagnosis[1 : 1 + FURTHER_SHOWN]):
                assert f"[{entry['failure_mode']}]" in _flat(str(further.nth(index).text_content() or ""))

        if script:
            # The app renders below the banner, not over it nor hidden by it.
            whole = page.locator("#synthetics-verdict").bounding_box(timeout=ACTION_TIMEOUT_MS)
            app = page.locator("#app").bounding_box(timeout=ACTION_TIMEOUT_MS)
            assert whole is not None and app is not None
            assert app["y"] >= whole["y"] + whole["height"] - 1, f"the app at {app} overlaps the banner at {whole}"
            assert app["height"] > 0 and banner["y"] < app["y"]
        assert screen.refused == [], f"the report asked for something not local: {screen.refused[:5]}"
