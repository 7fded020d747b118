"""A failed check reads in a few lines; `--tb=long` still gives the suite's developers the traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.suite.conftest import REPO, Reference, SuiteRun, run_suite

# Wide enough that the `-ra` summary lines are not trimmed to the terminal's width.
WIDE = {"COLUMNS": "240"}
# What a traceback prints and a check's report must not: source lines (pytest indents them), the
# failing line (`>`), the exception lines (`E `), and object reprs.
TRACEBACK_LINE = re.compile(r"^(>|E |\s+\S)|object at 0x|Exchange\(|Target\(")


@dataclass(frozen=True)
class Failure:
    rule: str  # pytest's `____ test_name ____` line
    lines: list[str]  # what follows it

    @property
    def printed(self) -> int:
        return 1 + len(self.lines)


def failures(output: str, section: str = "FAILURES") -> list[Failure]:
    """The reports in the FAILURES (or ERRORS) section of pytest's terminal output, in order."""
    after = re.split(rf"^=+ {section} =+$", output, maxsplit=1, flags=re.M)
    assert len(after) == 2, output
    body = re.split(r"^=+ .* =+$", after[1], maxsplit=1, flags=re.M)[0]
    parts = re.split(r"^(_{3,} .+ _{3,})$", body, flags=re.M)
    return [
        Failure(rule, [line for line in text.splitlines() if line.strip()])
        for rule, text in zip(parts[1::2], parts[2::2], strict=True)
    ]


@pytest.fixture(scope="module")
def database_down(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SuiteRun]]:
    """One injection of db-down, seen by a default run and by a run with `--tb=long`."""
    workdir = tmp_path_factory.mktemp("db-down")
    with reference.deployment.injected("db-down"):
        yield {
            style: run_suite(workdir / style, f"--target={reference.target}", *args, env=WIDE)
            for style, args in (("default", ()), ("long", ("--tb=long",)))
        }


@pytest.mark.stack
def test_each_failed_check_reads_in_at_most_four_lines(database_down: dict[str, SuiteRun]) -> None:
    run = database_down["default"]
    assert run.returncode == 1, run.output
    failed = sorted(c["id"] for c in run.verdict["checks"] if c["outcome"] == "failed")
    assert "client_api.database_answers" in failed, failed
    reports = failures(run.output)
    assert sorted(report.lines[0].split(": ", 1)[0] for report in reports) == failed, run.output
    for report in reports:
        assert report.printed <= 4, f"{report.rule}\n" + "\n".join(report.lines)
        assert re.match(r"\[[a-z-]+\] \S", report.lines[1]), report.lines
        offending = [line for line in report.lines if TRACEBACK_LINE.search(line)]
        assert offending == [], f"{report.rule}\n" + "\n".join(report.lines)
    database = next(r for r in reports if r.lines[0].startswith("client_api.database_answers: "))
    assert database.lines[1].startswith("[database-errors] expected HTTP 404, saw 500"), database.lines
    assert database.lines[2].startswith("GET https://chat.phenom.test/_matrix/client/v3/directory/room/")
    # The one-line summary names the failure mode, not the exception's class.
    assert re.search(r"^FAILED checks/test_client_api.py::test_database_answers - \[database-errors\] expected",
                     run.output, re.M), run.output  # fmt: skip
    assert "synthetics.must._core.CheckFailed" not in run.output


@pytest.mark.stack
def test_tb_long_prints_the_whole_traceback(database_down: dict[str, SuiteRun]) -> None:
    run = database_down["long"]
    assert run.returncode == 1, run.output
    reports = failures(run.output)
    database = next(r for r in reports if r.rule.strip("_ ") == "test_database_answers")
    text = "\n".join(database.lines)
    assert "def test_database_answers(alias_lookup: Exchange) -> None:" in text, text
    assert re.search(r"^>\s+must\.match_response\(alias_lookup", text, re.M), text
    assert re.search(r"^E\s+synthetics\.must\._core\.CheckFailed: \[database-errors\]", text, re.M), text
    assert "checks/test_client_api.py:" in text


CRASHING_CHECKS = """
import pytest

from synthetics.check import check


def parse(document):
    return document["server"]


@check(layer="client-api", severity="critical", detects="origin-down", title="Reads the server block")
def test_reads_the_server_block():
    parse({})


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke\\nand said more")


@check(layer="client-api", severity="critical", detects="origin-down", title="Needs a broken fixture")
def test_needs_a_broken_fixture(broken):
    pass


def test_not_a_check():
    assert parse({"server": 1}) == 2
"""


def crashing(tmp_path: Path, *args: str) -> SuiteRun:
    module = tmp_path / "crashing" / "test_crashing.py"
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(CRASHING_CHECKS)
    return run_suite(tmp_path, str(module), f"--target={REPO / 'targets' / 'prod.yaml'}", "-p", "no:warnings",
                     "-ra", *args, env=WIDE)  # fmt: skip


def at_the_file(lines: list[str]) -> list[str]:
    """The lines, with the directories before the crashing module's name left out of its "at" line."""
    return [re.sub(r"^at (?:\S*/)?(test_crashing\.py:)", r"at \1", line) for line in lines]


def test_a_crashing_check_says_what_crashed_and_where(tmp_path: Path) -> None:
    run = crashing(tmp_path)
    assert run.returncode == 1, run.output
    crashed, plain = failures(run.output)
    # The file is shown relative to pytest's rootdir, which depends on what lies above the test's
    # temporary directory (a stray setup.py in /tmp makes it /tmp): only the path's tail is fixed.
    assert at_the_file(crashed.lines) == [
        "crashing.reads_the_server_block: Reads the server block",
        "suite error in call, not a finding: KeyError: 'server'",
        "at test_crashing.py:8 in parse (--tb=long shows the whole traceback)",
    ], run.output
    (broken,) = failures(run.output, "ERRORS")
    assert at_the_file(broken.lines) == [
        "crashing.needs_a_broken_fixture: Needs a broken fixture",
        "suite error in setup, not a finding: RuntimeError: the fixture broke",
        "at test_crashing.py:18 in broken (--tb=long shows the whole traceback)",
    ], run.output
    summary = r"^FAILED \S*test_crashing.py::test_reads_the_server_block - KeyError: 'server'$"
    assert re.search(summary, run.output, re.M), run.output
    # A test that is not a check keeps pytest's own report.
    assert plain.rule.strip("_ ") == "test_not_a_check"
    assert any(line.startswith(">") for line in plain.lines) and any(line.startswith("E ") for line in plain.lines)


def test_a_crashing_check_with_tb_long_shows_the_traceback(tmp_path: Path) -> None:
    run = crashing(tmp_path, "--tb=long")
    crashed = failures(run.output)[0]
    text = "\n".join(crashed.lines)
    assert "def test_reads_the_server_block():" in text and re.search(r"^E\s+KeyError: 'server'", text, re.M), text


def test_a_crashing_check_with_tb_line_reads_in_one_line(tmp_path: Path) -> None:
    run = crashing(tmp_path, "--tb=line")
    assert re.search(r"^\S*test_crashing.py:8: KeyError: 'server'$", run.output, re.M), run.output
    assert "suite error in call" not in run.output
