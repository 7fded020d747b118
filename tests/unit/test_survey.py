"""The evidence plan's parts: typed probes run once, and the hand-over between a run's processes."""

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from synthetics.aws import AwsProblem
from synthetics.credentials import MissingCredential
from synthetics.handover import EvidenceLost, Owner, ProbeCrashed, Reader, claim
from synthetics.probe import Prober
from synthetics.survey import Probe, ProbeInputs, RunSettings, Survey, UnplannedProbe
from synthetics.target import parse_target

TARGET = parse_target(
    {"name": "t", "homeserver": {"base_url": "https://chat.example.org", "server_name": "example.org"}},
    source="t.yaml",
    base_dir=Path("/"),
    environ={},
)
SETTINGS = RunSettings(since=datetime.now(UTC), wait_stable_s=0.0)
# No probe here makes a request: the prober is never touched.
NO_PROBER = cast(Prober, None)


def _survey(*probes: Probe[Any]) -> Survey:
    return Survey(probes, TARGET, NO_PROBER, SETTINGS)


class _Awkward(Exception):
    """Pickles, but does not unpickle: its __init__ wants two arguments, its args hold one."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def _raise(error: BaseException) -> object:
    raise error


RUNS: list[str] = []


def _count(_inputs: ProbeInputs) -> int:
    RUNS.append("counted")
    return len(RUNS)


COUNTED = Probe("counted", int, _count)
READER = Probe("reader", str, lambda i: f"read {i.result(COUNTED)}", reads=(COUNTED,))
SNEAKY = Probe("sneaky", str, lambda i: f"read {i.result(COUNTED)}")  # reads without declaring it
WRONG_TYPE = Probe("wrong", int, lambda _i: cast(int, "not an int"))
AWS_DOWN = Probe("aws", str, lambda _i: cast(str, _raise(AwsProblem("no AWS credentials found: log in"))))
NO_TOKEN = Probe("token", str, lambda _i: cast(str, _raise(MissingCredential("no admin token: set X"))))
AWKWARD = Probe("awkward", str, lambda _i: cast(str, _raise(_Awkward("half", "way"))))


def test_each_probe_runs_once_and_reads_what_it_declares() -> None:
    RUNS.clear()
    survey = _survey(READER)  # the plan takes in what its probes read
    assert survey.plan == {READER, COUNTED}
    assert [survey.result(READER), survey.result(READER), survey.result(COUNTED)] == ["read 1", "read 1", 1]
    assert RUNS == ["counted"]


def test_a_probe_outside_the_plan_is_an_error_not_a_skip() -> None:
    survey = _survey(COUNTED)
    with pytest.raises(UnplannedProbe, match="reader is not in this run's plan"):
        survey.result(READER)
    with pytest.raises(UnplannedProbe, match="does not declare it"):
        _survey(SNEAKY, COUNTED).result(SNEAKY)
    with pytest.raises(TypeError, match="gave a str, not the int it declares"):
        _survey(WRONG_TYPE).result(WRONG_TYPE)


def test_what_a_probe_needs_of_the_target_is_the_skip_reason() -> None:
    def needs(section: str) -> Probe[str]:
        return Probe("p", str, lambda _i: "", section=section)

    assert needs("aws.ecs").unavailable(TARGET) == "aws.ecs is not set in t.yaml"
    assert needs("homeserver.base_url").unavailable(TARGET) is None
    admin = Probe("a", str, lambda _i: "", credential="admin")
    assert admin.unavailable(TARGET) == "no admin token: set credentials.admin_token_env in t.yaml"
    reading = Probe("r", str, lambda _i: "", reads=(needs("canary"),))
    assert reading.unavailable(TARGET) == "canary is not set in t.yaml"


def _hand_over(tmp_path: Path, *probes: Probe[Any], budget_s: float = 30.0) -> tuple[Owner, Reader]:
    owner = claim(tmp_path / "evidence", [p.name for p in probes], budget_s)
    reader = claim(tmp_path / "evidence", ["ignored: the owner's plan counts"], budget_s)
    assert isinstance(owner, Owner) and isinstance(reader, Reader)
    return owner, reader


def test_the_first_claimer_runs_the_plan_and_the_others_read_each_result(tmp_path: Path) -> None:
    RUNS.clear()
    owner, reader = _hand_over(tmp_path, COUNTED, READER)
    survey = Survey([READER], TARGET, NO_PROBER, SETTINGS, finished=owner.publish)
    survey.start()
    assert reader.result(READER) == "read 1" and reader.result(COUNTED) == 1
    assert RUNS == ["counted"]
    assert (tmp_path / "evidence").stat().st_mode & 0o077 == 0
    with pytest.raises(UnplannedProbe):
        reader.result(AWS_DOWN)


def test_a_result_that_is_an_exception_is_raised_again_in_the_reader(tmp_path: Path) -> None:
    owner, reader = _hand_over(tmp_path, AWS_DOWN, NO_TOKEN, AWKWARD)
    Survey([AWS_DOWN, NO_TOKEN, AWKWARD], TARGET, NO_PROBER, SETTINGS, finished=owner.publish).start()
    # The same type and message (a skip reason is made of it); where it was raised only in a note.
    with pytest.raises(AwsProblem) as aws:
        reader.result(AWS_DOWN)
    assert str(aws.value) == "no AWS credentials found: log in"
    assert "raised in the worker that gathered the evidence" in "\n".join(aws.value.__notes__)
    with pytest.raises(MissingCredential) as missing:
        reader.result(NO_TOKEN)
    assert str(missing.value) == "no admin token: set X"
    # An exception that cannot cross is replaced by one that says what it was: an error, never a skip.
    with pytest.raises(ProbeCrashed, match="_Awkward: half way"):
        reader.result(AWKWARD)


def test_a_reader_stops_waiting_at_once_when_the_owner_is_gone(tmp_path: Path) -> None:
    owner, reader = _hand_over(tmp_path, COUNTED)
    owner.close()
    started = time.monotonic()
    with pytest.raises(EvidenceLost, match="ended before probe counted finished"):
        reader.result(COUNTED)
    assert time.monotonic() - started < 1.0
    # A process that claims later reads the same way: the owner's results are all there will be.
    assert isinstance(claim(tmp_path / "evidence", [], 30.0), Reader)


def test_a_reader_of_a_hung_owner_waits_until_the_deadline_only(tmp_path: Path) -> None:
    _owner, reader = _hand_over(tmp_path, COUNTED, budget_s=0.3)
    started = time.monotonic()
    with pytest.raises(EvidenceLost, match="before the deadline"):
        reader.result(COUNTED)
    assert 0.2 < time.monotonic() - started < 2.0


def _claim_and_exit(directory: str) -> None:
    claim(Path(directory), ["counted"], 30.0)  # the process ends without publishing


def test_an_owner_that_dies_frees_its_claim(tmp_path: Path) -> None:
    process = multiprocessing.get_context("fork").Process(target=_claim_and_exit, args=(str(tmp_path / "evidence"),))
    process.start()
    process.join(10)
    reader = claim(tmp_path / "evidence", ["counted"], 30.0)
    assert isinstance(reader, Reader) and reader.claim.owner_pid == process.pid
    with pytest.raises(EvidenceLost, match=f"pid {process.pid}"):
        reader.result(COUNTED)


def test_the_owner_tells_readers_of_probes_that_miss_the_deadline(tmp_path: Path) -> None:
    owner, reader = _hand_over(tmp_path, COUNTED)
    owner.close([COUNTED])
    with pytest.raises(EvidenceLost, match="did not finish before the deadline"):
        reader.result(COUNTED)


def test_a_directory_someone_else_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "evidence"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(EvidenceLost, match="not a private directory"):
        claim(shared, [], 30.0)


def test_probe_inputs_give_the_target_and_settings() -> None:
    probe = Probe("inputs", str, lambda i: f"{i.target.name} since {i.settings.since:%Y}")
    assert _survey(probe).result(probe) == f"t since {SETTINGS.since:%Y}"
