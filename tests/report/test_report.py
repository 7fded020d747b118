"""`make report`: a failing run's HTML report names its failure modes and checks, offline, in a browser.

The run is the suite against a target whose every host is a loopback port nothing listens on (and
whose DNS server is another), so it fails in seconds without the reference deployment.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fixtures.allure_meta import (
    BROKEN_CATEGORY,
    SKIPPED_CATEGORY,
    category_name,
    executor,
    failure_mode_regex,
    properties_text,
)
from synthetics.catalogue import CATALOGUE
from tests.suite.conftest import REPO, SuiteRun, run_suite

# Fake tokens in a real token's shape, joined at run time so secret scanners do not flag the source.
ADMIN_TOKEN = "_".join(("syt", "YWRtaW4", "report", "admin", "token", "0001"))
CANARY_TOKEN = "_".join(("syt", "Y2FuYXJ5", "report", "canary", "token", "0002"))
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/report/secret/0003"
SECRETS = (ADMIN_TOKEN, CANARY_TOKEN, AWS_SECRET)
GITHUB = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "phenom/synapse-synthetics",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_RUN_NUMBER": "17",
    "GITHUB_WORKFLOW": "synthetics",
}
# The check the brief of the report names; its title is read from the run, so a retitle is no break.
# The check that fails in the refused target: its resolver refuses, so the DNS check fails and
# everything behind it is blocked (issue 12: blocked, not failed, at every layer).
FAILING_CHECK = "checks.test_dns#test_resolves"
REPORT_DEADLINE_S = 300  # `make report` may first run `npm ci` on a machine that never built one
BROWSER_DEADLINE_S = 90
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The report is a JS app that fetches its data: virtual time lets it render before the dump.
    "--virtual-time-budget=15000",
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def refused_target(directory: Path) -> Path:
    port = closed_port()
    path = directory / "refused.yaml"
    path.write_text(
        "name: refused\n"
        "homeserver: {base_url: 'https://chat.refused.test', server_name: refused.test}\n"
        f"dns: {{nameservers: ['127.0.0.1:{closed_port()}']}}\n"
        # A secret where a plain value belongs, as a mistyped target file would have it: the
        # environment written for the report must still not show it.
        "aws: {region: '${SYNTHETICS_CANARY_TOKEN}'}\n"
        "credentials: {admin_token_env: SYNAPSE_ADMIN_TOKEN, canary_token_env: SYNTHETICS_CANARY_TOKEN}\n"
        "network:\n"
        "  timeout_s: 1\n"
        "  connect_to_only: true\n"
        f"  connect_to: {{'chat.refused.test:443': '127.0.0.1:{port}', 'refused.test:443': '127.0.0.1:{port}'}}\n"
    )
    return path


@dataclass(frozen=True)
class FailingRun:
    workdir: Path
    run: SuiteRun

    @property
    def results(self) -> Path:
        return self.workdir / "allure-results"

    def failed_modes(self) -> set[str]:
        return {c["failure_mode"] for c in self.run.verdict["checks"] if c["outcome"] == "failed"}

    def result_documents(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_text()) for path in self.results.glob("*-result.json")]

    def title_of(self, full_name: str) -> str:
        names = [doc["name"] for doc in self.result_documents() if doc.get("fullName") == full_name]
        assert names, f"no result for {full_name}"
        return str(names[0])


def suite_run(workdir: Path) -> FailingRun:
    env = {
        "SYNAPSE_ADMIN_TOKEN": ADMIN_TOKEN,
        "SYNTHETICS_CANARY_TOKEN": CANARY_TOKEN,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        **GITHUB,
    }
    # `-p` names the plugin whether or not fixtures/plugin.py lists it yet (pytest loads it once).
    run = run_suite(workdir, f"--target={refused_target(workdir)}", "-p", "fixtures.allure_meta", env=env)
    assert run.returncode == 1, run.output
    return FailingRun(workdir, run)


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> FailingRun:
    return suite_run(tmp_path_factory.mktemp("failing-run"))


def make_report(results: Path, *, history: Path, output: Path, single_file: bool = False) -> str:
    """The very command people run, with its inputs and outputs moved into the test's folders."""
    env = {
        **os.environ,
        "ALLURE_RESULTS": str(results),
        "ALLURE_HISTORY": str(history),
        "ALLURE_OUTPUT" if not single_file else "ALLURE_SINGLE_OUTPUT": str(output),
    }
    completed = subprocess.run(
        ["make", "-s", "report", f"SINGLE_FILE={1 if single_file else ''}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=REPORT_DEADLINE_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def report_dir(failing_run: FailingRun) -> Path:
    output = failing_run.workdir / "allure-report"
    make_report(failing_run.results, history=failing_run.workdir / "history.jsonl", output=output)
    return output


@pytest.fixture(scope="module")
def single_file(failing_run: FailingRun, report_dir: Path) -> Path:
    output = failing_run.workdir / "ticket" / "report.html"
    make_report(failing_run.results, history=failing_run.workdir / "history.jsonl", output=output, single_file=True)
    return output


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is not None:
        return found
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        pytest.fail("no chromium in CI, where scripts/bootstrap installs it (apt-get install chromium)")
    # Not installed from here: `make test` runs the tests without a network, where apt-get cannot.
    pytest.skip("no chromium: run scripts/bootstrap as root (it installs Debian's chromium)")


class _VisibleText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(document: str) -> str:
    parser = _VisibleText()
    parser.feed(document)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def rendered_text(url: str, profile: Path) -> str:
    """The page's text once its scripts ran, as headless Chromium renders it."""
    profile.mkdir(parents=True)
    process = subprocess.Popen(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        # Its own process group, so a hung browser goes with all its helper processes.
        start_new_session=True,
    )
    try:
        dom, errors = process.communicate(timeout=BROWSER_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, errors[-3000:]
    return visible_text(dom)


@pytest.fixture
def served(report_dir: Path) -> Iterator[str]:
    """The report folder over loopback HTTP: browsers refuse the page's data fetches from file://."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(report_dir))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def js_regex_tests(pairs: list[tuple[str, str]]) -> list[bool]:
    """`new RegExp(regex).test(message)`, as Allure 3 matches a category's messageRegex."""
    if shutil.which("node") is None:
        pytest.skip("no node: make report needs Node.js 20 or newer")
    script = (
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>"
        "console.log(JSON.stringify(JSON.parse(s).map(([r,m])=>new RegExp(r).test(m)))))"
    )
    completed = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    found: list[bool] = json.loads(completed.stdout)
    return found


# ---------------------------------------------------------------------------------------------
# What the plugin writes beside the results.


def test_categories_name_every_failure_mode_and_match_the_runs_messages(failing_run: FailingRun) -> None:
    categories = json.loads((failing_run.results / "categories.json").read_text())
    names = [category["name"] for category in categories]
    assert names == [
        *(category_name(m.name) for m in sorted(CATALOGUE.values(), key=lambda m: m.rank)),
        SKIPPED_CATEGORY,
        BROKEN_CATEGORY,
    ]
    assert "origin-down: 502 from Cloudflare" in names
    by_status = {c["name"]: c["matchedStatuses"] for c in categories}
    assert by_status[SKIPPED_CATEGORY] == ["skipped"] and by_status[BROKEN_CATEGORY] == ["broken"]

    regexes = {c["name"]: c["messageRegex"] for c in categories if "messageRegex" in c}
    failed = [doc["statusDetails"]["message"] for doc in failing_run.result_documents() if doc["status"] == "failed"]
    assert failed
    pairs = [(regex, message) for message in failed for regex in regexes.values()]
    in_js = iter(js_regex_tests(pairs))
    for message in failed:
        mode = re.search(r"\[([a-z0-9-]+)\]", message)
        assert mode is not None, message
        # Allure 2 matches the whole message (Java's String.matches: Python's fullmatch here).
        in_java = [name for name, regex in regexes.items() if re.fullmatch(regex, message)]
        in_node = [name for name in regexes if next(in_js)]
        assert in_java == in_node == [category_name(mode.group(1))], message


def test_category_regexes_match_the_mode_at_the_start_across_lines() -> None:
    regex = failure_mode_regex("origin-down")
    matching = [
        "synthetics.must._core.CheckFailed: [origin-down] GET https://chat/x: expected 200, saw 502",
        "[origin-down] first line\nsecond line\r\nthird",
        "AssertionError: [origin-down] body:\n<html>\n502 Bad Gateway\n</html>\n",
    ]
    other = [
        "synthetics.must._core.CheckFailed: [tls-certificate] after [origin-down] was ruled out",
        "Failed: the check saw [origin-down]",
        "[origin-downstream] not this mode",
    ]
    cases = [(regex, message) for message in matching + other]
    assert js_regex_tests(cases) == [True] * len(matching) + [False] * len(other)
    assert [bool(re.fullmatch(regex, m)) for m in matching + other] == [True] * len(matching) + [False] * len(other)
    with pytest.raises(ValueError):
        failure_mode_regex("a]b")


def test_environment_and_executor_are_written_without_a_secret(failing_run: FailingRun) -> None:
    environment = dict(
        line.split("=", 1) for line in (failing_run.results / "environment.properties").read_text().splitlines()
    )
    assert environment["target"] == "refused"
    assert environment["base_url"] == "https://chat.refused.test"
    assert environment["server_name"] == "refused.test"
    assert environment["aws_region"] == "[REDACTED]"
    assert re.fullmatch(r"[0-9a-f]{7,}|unknown", environment["suite_revision"])
    assert environment["python"] and environment["pytest"]

    executor_doc = json.loads((failing_run.results / "executor.json").read_text())
    assert executor_doc["type"] == "github" and executor_doc["buildName"] == "synthetics #17"
    assert executor_doc["buildUrl"] == "https://github.com/phenom/synapse-synthetics/actions/runs/4242"
    assert executor_doc["reportUrl"] == executor_doc["buildUrl"] and executor_doc["buildOrder"] == 17

    for name in ("categories.json", "environment.properties", "executor.json"):
        text = (failing_run.results / name).read_text()
        assert [secret[:8] for secret in SECRETS if secret in text] == [], name


def test_executor_only_in_ci_and_properties_escaped() -> None:
    assert executor({}) is None and executor({"CI": "false", "GITHUB_ACTIONS": "true"}) is None
    assert executor({"CI": "true"}) == {"name": "CI", "type": "ci", "reportName": "Synapse synthetics"}
    text = properties_text({"a key": "x=y: z\\w\nnext", "name": "café ☕"})
    assert text == "a\\ key=x=y: z\\\\w\\nnext\nname=caf\\u00e9 \\u2615\n"


# ---------------------------------------------------------------------------------------------
# The HTML report, as a person sees it.


def test_report_in_a_browser_names_the_failure_modes_and_the_checks(
    failing_run: FailingRun, report_dir: Path, served: str, tmp_path: Path
) -> None:
    failed_modes = failing_run.failed_modes()
    assert failed_modes, failing_run.run.output
    categories_page = rendered_text(served + "#categories", tmp_path / "profile-categories")
    for mode in sorted(failed_modes):
        assert category_name(mode) in categories_page, categories_page[:3000]
    assert SKIPPED_CATEGORY in categories_page

    tree_page = rendered_text(served, tmp_path / "profile-tree")
    assert failing_run.title_of(FAILING_CHECK) in tree_page, tree_page[:3000]
    # The environment written by the plugin shows in the report's header.
    assert "refused.test" in tree_page and "suite_revision" in tree_page

    everything = "\n".join(p.read_text(errors="replace") for p in report_dir.rglob("*") if p.is_file())
    assert [secret[:8] for secret in SECRETS if secret in everything] == []
    # Offline: the page loads nothing from elsewhere (Allure's analytics are stripped).
    assert "googletagmanager" not in (report_dir / "index.html").read_text()


def test_single_file_report_opens_from_disk_alone(failing_run: FailingRun, single_file: Path, tmp_path: Path) -> None:
    assert [p.name for p in single_file.parent.iterdir()] == ["report.html"]
    page = single_file.read_text()
    assert "googletagmanager" not in page
    assert not re.search(r"""(?:src|href)=["']https?://""", page)
    text = rendered_text(single_file.as_uri() + "#categories", tmp_path / "profile")
    for mode in sorted(failing_run.failed_modes()):
        assert category_name(mode) in text, text[:3000]


def test_history_keeps_one_point_per_run(
    failing_run: FailingRun, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    history = tmp_path / "history.jsonl"
    make_report(failing_run.results, history=history, output=tmp_path / "first")
    second = suite_run(tmp_path_factory.mktemp("second-run"))
    make_report(second.results, history=history, output=tmp_path / "second")
    # Built again (as people do, for a ticket): the same run, no new point.
    make_report(second.results, history=history, output=tmp_path / "ticket.html", single_file=True)
    assert len(history.read_text().splitlines()) == 2

    charts = json.loads((tmp_path / "second" / "widgets" / "charts.json").read_text())["general"]
    (dynamics,) = [chart["data"] for chart in charts.values() if chart["type"] == "statusDynamics"]
    # The trend: the first run from the history, then this one.
    assert len(dynamics) == 2 and dynamics[-1]["id"] == "current"
