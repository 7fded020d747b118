"""deploy/Dockerfile, read by a Dockerfile parser (no image can be built here; .github/workflows/image.yml
builds it): what can be checked without a build (issue 17)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DIGEST = re.compile(r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}")


def parsed() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def instructions(name: str) -> list[dict[str, Any]]:
    return [i for i in parsed().structure if i["instruction"] == name]


def pip_installs() -> list[list[str]]:
    """Each `pip install` of a RUN, as its words."""
    found = []
    for run in instructions("RUN"):
        for command in re.split(r"&&|;", run["value"]):
            words = shlex.split(command)
            if len(words) > 2 and words[0].endswith("pip") and words[1] == "install":
                found.append(words[2:])
            elif len(words) > 4 and words[1:4] == ["-m", "pip", "install"]:
                found.append(words[4:])
    return found


def test_every_base_image_is_pinned_by_a_digest() -> None:
    images = parsed().parent_images
    assert images, "no FROM"
    for image in images:
        assert DIGEST.fullmatch(image), f"{image} is not pinned by a sha256 digest"
    assert {image.split("@")[0] for image in images} == {"python:3.11-slim"}


def test_the_suite_runs_as_a_user_that_is_not_root() -> None:
    final_stage = max(i["startline"] for i in instructions("FROM"))
    users = [i["value"] for i in instructions("USER") if i["startline"] > final_stage]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]


def test_it_installs_the_suite_with_make_checks_pins_and_no_extra() -> None:
    installs = pip_installs()
    assert installs, "no pip install"
    pinned = {
        line.split("==")[0].lower(): line
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for words in installs:
        assert "-c" in words and words[words.index("-c") + 1] == "constraints.txt", words
        requirements = [w for i, w in enumerate(words) if not w.startswith("-") and words[i - 1] != "-c"]
        assert "." in requirements, words
        for requirement in requirements:
            # The project without an extra: no stack (the reference deployment), no dev.
            assert "[" not in requirement, f"{requirement}: an extra"
            assert requirement == "." or requirement.lower() in pinned, f"{requirement} is not in constraints.txt"
    # constraints.txt comes from the repository, the file scripts/bootstrap (make check) installs with.
    copies = [shlex.split(i["value"]) for i in instructions("COPY")]
    assert any("constraints.txt" in words[:-1] for words in copies), copies
    assert "-c constraints.txt" in (REPO / "scripts" / "bootstrap").read_text()


def test_it_copies_nothing_of_the_reference_deployment_or_the_tests() -> None:
    sources = [w for i in instructions("COPY") for w in shlex.split(i["value"])[:-1] if not w.startswith("--")]
    assert sources
    assert not [s for s in sources if s.rstrip("/").split("/")[0] in ("stack", "tests", ".venv")], sources


def test_the_entrypoint_runs_the_checks_from_inside_the_vpc() -> None:
    [entrypoint] = instructions("ENTRYPOINT")
    command = json.loads(entrypoint["value"])
    copied = {shlex.split(i["value"])[-1]: shlex.split(i["value"])[0] for i in instructions("COPY")}
    assert copied[command[0] if command[0].startswith("/") else f"/usr/local/bin/{command[0]}"] == (
        "deploy/entrypoint.sh"
    )
    script = (REPO / "deploy" / "entrypoint.sh").read_text()
    assert "python -m pytest" in script and "SYNTHETICS_TARGET" in script
    assert parsed().envs["SYNTHETICS_VANTAGE"] == "vpc"


def test_the_entrypoint_hands_pytest_the_target_text_as_a_private_file(tmp_path: Path) -> None:
    # A stand-in for the image's python: what pytest would be given, and what its environment holds.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n" "$@" > "$OUT/args"\n'
        'stat -c %a "$SYNTHETICS_TARGET" > "$OUT/mode"\n'
        'cat "$SYNTHETICS_TARGET" > "$OUT/target"\n'
        'echo "${SYNTHETICS_TARGET_YAML:-unset}" > "$OUT/yaml"\n'
    )
    fake.chmod(0o755)
    text = "name: prod\nhomeserver: {base_url: https://synapse.internal:8008}\n"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "OUT": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "SYNTHETICS_TARGET_YAML": text,
    }
    run = subprocess.run(
        ["sh", str(REPO / "deploy" / "entrypoint.sh"), "-m", "triage"],
        env=env, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "args").read_text().split() == [
        "-m", "pytest", "-p", "no:cacheprovider", "--junitxml=reports/junit.xml", "-m", "triage",
    ]  # fmt: skip
    assert (tmp_path / "mode").read_text().strip() == "600"
    # The text as given (YAML does not mind the newline the script ends it with).
    assert (tmp_path / "target").read_text().rstrip("\n") == text.rstrip("\n")
    assert (tmp_path / "yaml").read_text().strip() == "unset"
    # Neither a path nor the text: it says what to set, and runs nothing.
    bare = subprocess.run(
        ["sh", str(REPO / "deploy" / "entrypoint.sh")],
        env={"PATH": env["PATH"], "OUT": str(tmp_path)}, capture_output=True, text=True, timeout=10,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert bare.returncode != 0 and "SYNTHETICS_TARGET_YAML" in bare.stderr
