"""CI for the people who use the template: the GitHub workflow and its environment check."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dockerable.tests.docker_stack import REPO, git_copy, run
from dockerable.tests.manage_cli import clean_env, envtool

WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def test_the_workflow_is_valid_against_the_github_workflow_schema():
    result = run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(WORKFLOW),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_what_ci_runs_minus_the_local_engine_setup():
    # Its lines, each without a continuation's backslash.
    ci = [line.strip().removesuffix(" \\") for line in (REPO / ".ci" / "run").read_text().splitlines()]
    commands = [
        "tests/run",
        "dockerable/tests/run",
        'dockerable/tests/run --django6 -m "not docker and not tree"',
    ]
    # Each command as a whole on a line (the Django 6 tier's runs beside the template's suite).
    called = {command: [line for line in ci if f" {command} " in f" {line} "] for command in commands}
    assert all(called.values()), called
    assert ci.index("../shared/containers/setup") < ci.index("tests/run")
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    steps = [step.get("run", "") for job in jobs.values() for step in job["steps"]]
    for command in commands:
        assert command in steps, command
    assert any("docker build --pull" in step for step in steps)
    # The vulnerability gate shipenv runs, on every push and each week.
    assert "dockerable/run audit" in steps
    assert "schedule" in yaml.safe_load(WORKFLOW.read_text())[True]  # `on:` is YAML 1.1's true


# Stand-ins for what .ci/run calls, so that its own logic runs in a second: each notes its call.
STAND_IN = """#!/usr/bin/env bash
echo "$0 $* TMPDIR=${TMPDIR:-}" >> "$CALLS"
if [[ "$*" == *--django6* ]]; then echo "the Django 6 tier ran"; exit "${TIER_EXIT:-0}"; fi
[[ "$0" != *dockerable/tests/run ]] || exit "${SUITE_EXIT:-0}"
"""


@pytest.mark.parametrize(
    ("suite", "tier", "exit_code", "said"),
    [
        ("0", "0", 0, ""),
        ("3", "0", 1, "the template's suite exited 3, its Django 6 tier 0"),
        ("0", "2", 1, "the template's suite exited 0, its Django 6 tier 2"),
    ],
)
def test_ci_runs_the_readmes_commands_and_exits_as_they_did_leaving_nothing(
    tmp_path, suite, tier, exit_code, said
):
    # A copy of .ci/run beside stand-ins for the engine setup and the three commands.
    root = tmp_path / "main"
    for stand_in in ("../shared/containers/setup", "tests/run", "dockerable/tests/run"):
        path = root / stand_in
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STAND_IN)
        path.chmod(0o755)
    (root / ".ci").mkdir()
    (root / ".ci" / "run").write_text((REPO / ".ci" / "run").read_text())
    calls = tmp_path / "calls.txt"
    result = subprocess.run(
        ["bash", str(root / ".ci" / "run")],
        env={**clean_env(), "CALLS": str(calls), "SUITE_EXIT": suite, "TIER_EXIT": tier},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert said in result.stderr and "unbound" not in result.stderr, result.stderr
    assert "the Django 6 tier ran" in result.stdout, result.stdout
    lines = calls.read_text().splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["../shared/containers/setup", "tests/run"]
    # The tier's own temporary folder, gone once CI is done.
    (tier_line,) = [line for line in lines if "--django6" in line]
    scratch = Path(tier_line.rsplit("TMPDIR=", 1)[1])
    assert scratch.is_absolute() and not scratch.exists(), tier_line


def checkenv_all(root: Path, tools: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(root / ".github" / "checkenv-all.sh")],
        cwd=root,
        env=clean_env(**tools),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.docker
def test_the_environment_check_passes_the_sample_and_lists_what_it_cannot_check(tools_image):
    with git_copy("dockerable-ci-") as root:
        made = envtool("newenv", "staging", cwd=root)
        assert made.returncode == 0, made.stderr
        secrets = root / "project" / "settings" / "staging" / "secrets.json"
        kept = secrets.read_bytes()
        secrets.unlink()  # as in a clone: the environment's secrets are not in git
        result = checkenv_all(root, tools_image)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "checkenv: environment 'example' passes" in result.stdout
        assert "::notice::staging: not checked" in result.stdout
        # With its secrets written (as a workflow step would from repository secrets), but broken:
        secrets.write_bytes(kept.replace(b'"SECRET_KEY"', b'"NOT_THE_KEY"'))
        secrets.chmod(0o600)
        result = checkenv_all(root, tools_image)
        assert result.returncode != 0
        assert "missing key 'SECRET_KEY'" in result.stdout
