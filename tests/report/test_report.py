"""`make report`: a failing run's HTML report opens on its verdict and names its failure modes and
checks, offline, in a browser.

The run is the suite against a target whose every host is a loopback port nothing listens on (and
whose DNS server is another), so it fails in seconds without the reference deployment.
`assert_report_leads_with_verdict(workdir, scratch)` judges the reports of any run `run_suite` left in
a folder (the reference deployment's, say); tests/report/first_screen.py has the browser side.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from fixtures import allure_meta
from fixtures.allure_meta import (
    BROKEN_CATEGORY,
    REPORT_VERDICT_NAME,
    SKIPPED_CATEGORY,
    category_name,
    executor,
    failure_mode_regex,
    properties_text,
)
from synthetics.catalogue import CATALOGUE
from tests.report.first_screen import BROWSER_ARGS, assert_verdict_on_first_screen, chromium, serve_folder
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
    *BROWSER_ARGS,
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


def make_report(
    results: Path, *, history: Path, output: Path, single_file: bool = False
) -> subprocess.CompletedProcess[str]:
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
    return completed


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


def assert_report_leads_with_verdict(workdir: Path, scratch: Path) -> dict[str, Any]:
    """The run `run_suite` left in `workdir` (allure-results/, verdict.json): the plugin copied its
    verdict beside the results, and both reports built from them (the folder, served over loopback,
    and the single file, from disk) open on that verdict; the folder's also with JavaScript off.
    The reports are built under `scratch`. Returns the verdict."""
    verdict_text = (workdir / "verdict.json").read_text()
    results = workdir / "allure-results"
    assert (results / REPORT_VERDICT_NAME).read_text() == verdict_text
    verdict: dict[str, Any] = json.loads(verdict_text)
    history = scratch / "history.jsonl"
    folder = scratch / "allure-report"
    make_report(results, history=history, output=folder)
    with serve_folder(folder) as base:
        assert_verdict_on_first_screen(base + "index.html", verdict)
        assert_verdict_on_first_screen(base + "index.html", verdict, script=False)
    single = scratch / "ticket" / "report.html"
    make_report(results, history=history, output=single, single_file=True)
    assert_verdict_on_first_screen(single.as_uri(), verdict)
    return verdict


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
    with serve_folder(report_dir) as base:
        yield base + "index.html"


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


def test_the_runs_verdict_is_copied_beside_the_results(failing_run: FailingRun) -> None:
    copied = (failing_run.results / REPORT_VERDICT_NAME).read_text()
    assert copied == failing_run.run.verdict_path.read_text()
    assert json.loads(copied)["status"] == "unhealthy"
    assert [secret[:8] for secret in SECRETS if secret in copied] == []


def _fake_config(alluredir: str | None, invocation_dir: Path) -> pytest.Config:
    return cast(
        pytest.Config,
        SimpleNamespace(
            option=SimpleNamespace(allure_report_dir=alluredir, collectonly=False),
            invocation_params=SimpleNamespace(dir=invocation_dir),
            pluginmanager=SimpleNamespace(get_plugin=lambda name: None),
        ),
    )


def test_report_verdict_only_with_an_alluredir_and_never_an_earlier_runs(tmp_path: Path) -> None:
    stale = tmp_path / "results" / REPORT_VERDICT_NAME
    stale.parent.mkdir()
    stale.write_text('{"status": "healthy"}\n')
    # allure-pytest's relative --alluredir is the invocation directory's; so is this one.
    config = _fake_config("results", tmp_path)
    allure_meta.pytest_sessionstart(cast(pytest.Session, SimpleNamespace(config=config)))
    assert not stale.exists()
    assert allure_meta.write_report_verdict(config, '{"status": "unhealthy"}\n') == stale
    assert stale.read_text() == '{"status": "unhealthy"}\n'
    assert [p.name for p in stale.parent.iterdir()] == [REPORT_VERDICT_NAME]
    assert allure_meta.write_report_verdict(_fake_config(None, tmp_path), "{}") is None
    assert allure_meta.write_report_verdict(_fake_config("", tmp_path), "{}") is None


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


def test_report_opens_on_the_verdict_and_its_root_cause(failing_run: FailingRun, tmp_path: Path) -> None:
    verdict = assert_report_leads_with_verdict(failing_run.workdir, tmp_path)
    assert verdict["status"] == "unhealthy" and verdict["diagnosis"], failing_run.run.output
    assert verdict["diagnosis"][0]["failure_mode"] in failing_run.failed_modes()
    assert verdict["diagnosis"][0]["remediation"]


def test_report_without_a_verdict_is_built_as_before_and_says_so(failing_run: FailingRun, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(failing_run.results, results)
    (results / REPORT_VERDICT_NAME).unlink()
    completed = make_report(results, history=tmp_path / "history.jsonl", output=tmp_path / "report")
    assert "no synthetics-verdict.json" in completed.stderr and "no verdict banner" in completed.stderr
    assert "synthetics-verdict" not in (tmp_path / "report" / "index.html").read_text()


BANNER = REPO / "reports" / "verdict-banner.mjs"
PAGE = '<!DOCTYPE html>\n<html><head><title>r</title></head>\n<body class="x">\n<div id="app"></div>\n</body></html>\n'


def run_banner(page: Path, verdict: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        pytest.skip("no node: make report needs Node.js 20 or newer")
    return subprocess.run(
        ["node", str(BANNER), str(page), str(verdict)],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def banner_of(page: Path) -> str:
    blocks = re.findall(r"<!-- synthetics-verdict -->[\s\S]*?<!-- /synthetics-verdict -->", page.read_text())
    assert len(blocks) == 1, page.read_text()[:3000]
    return str(blocks[0])


@pytest.mark.parametrize("status", ["healthy", "degraded", "unhealthy", "inconclusive", "incomplete"])
def test_banner_shows_every_status_and_escapes_the_verdict(status: str, tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    entry = {
        "failure_mode": "origin-down",
        "symptom": f"symptom {hostile}",
        "likely_cause": f"cause {hostile}",
        "evidence": [f"client_api.versions{hostile}"],
        "messages": [f"message {hostile}"],
        "remediation": [f"step {hostile}"],
    }
    verdict = {
        "status": status,
        "target": f"prod {hostile}",
        "duration_s": 2.5,
        "checks": [{"id": "a", "outcome": "failed"}, {"id": "b", "outcome": "skipped", "blocked_by": "a"}],
        "diagnosis": [entry, {**entry, "failure_mode": "database-errors"}] if status != "healthy" else [],
        "note": f"note {hostile}",
    }
    page, verdict_path = tmp_path / "index.html", tmp_path / "verdict.json"
    page.write_text(PAGE)
    verdict_path.write_text(json.dumps(verdict))
    for _ in range(2):  # built again from the same page: still one banner
        completed = run_banner(page, verdict_path)
        assert completed.returncode == 0, completed.stderr
    block = banner_of(page)
    assert f'data-status="{status}"' in block and f"status-{status}" in block
    assert page.read_text().startswith(PAGE.split("<body", 1)[0] + '<body class="x">\n<!-- synthetics-verdict -->')
    assert "<script" not in block and "<img" not in block and "onerror=alert(1)>" not in block
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in block
    assert ('class="root-cause"' in block) == (status != "healthy")
    assert block.count('class="further"') == (0 if status == "healthy" else 1)
    assert "1 failed, 1 skipped (1 blocked" in block and "2.5 s" in block


def test_banner_leaves_the_page_without_a_verdict_it_can_read(tmp_path: Path) -> None:
    page, verdict_path = tmp_path / "index.html", tmp_path / "verdict.json"
    page.write_text(PAGE)
    for text in ("{not json", "[1, 2]"):
        verdict_path.write_text(text)
        completed = run_banner(page, verdict_path)
        assert completed.returncode == 0 and "no verdict banner" in completed.stderr, completed.stderr
        assert page.read_text() == PAGE
    # A status that is no status name reaches neither a class nor the CSS.
    verdict_path.write_text(json.dumps({"status": 'x" onload="alert(1)', "target": "t", "checks": []}))
    assert run_banner(page, verdict_path).returncode == 0
    assert 'data-status="unknown"' in banner_of(page) and "onload" not in banner_of(page)
    # A page from an Allure that has no <body> tag fails the build rather than lose the banner.
    page.write_text("<html><div id=app></div></html>")
    completed = run_banner(page, verdict_path)
    assert completed.returncode == 1 and "no <body> tag" in completed.stderr


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
