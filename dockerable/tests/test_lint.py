"""The tree is clean under its pre-commit hooks (ruff, pylint with pylint-django, hadolint, shellcheck)."""

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from dockerable.tests.docker_stack import REPO, git_copy, run

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


@pytest.mark.tree
def test_pre_commit_passes_on_a_fresh_copy_of_the_tree():
    # A copy, as a fresh clone would be: the hooks that fix things must find nothing to fix.
    with git_copy("dockerable-pre-commit-") as root:
        # pylint runs in this virtualenv (dockerable/pylint.sh), as it runs in .venv in a checkout.
        env = {**os.environ, "PRE_COMMIT_COLOR": "never", "VIRTUAL_ENV": sys.prefix}
        result = run(
            str(PRE_COMMIT),
            "run",
            "--all-files",
            "--show-diff-on-failure",
            cwd=root,
            env=env,
            check=False,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        for hook in ("ruff (lint)", "ruff (format)", "pylint", "hadolint", "shellcheck"):
            assert hook in result.stdout, hook
        assert "dockerable/compose/postgres-entrypoint.sh" in run("git", "ls-files", "*.sh", cwd=root).stdout


def test_vscode_settings_use_current_keys():
    settings = json.loads((REPO / ".vscode" / "settings.json").read_text())
    assert settings["python.defaultInterpreterPath"].endswith("python")
    assert "--load-plugins=pylint_django" in settings["pylint.args"]
    # The seed's keys were removed from the Python extension in 2023.
    assert "python.pythonPath" not in settings and "python.linting.pylintArgs" not in settings


def test_the_hooks_pin_the_versions_the_test_lock_pins():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    pins = {
        dependency
        for repo in config["repos"]
        for hook in repo["hooks"]
        for dependency in hook.get("additional_dependencies", [])
    }
    lock = (REPO / "tests" / "requirements.txt").read_text().lower()
    for pin in pins:
        name, version = pin.lower().replace("_", "-").split("==")
        assert f"\n{name.split('[')[0]}=={version} " in lock, pin


def test_pylint_without_the_virtualenv_says_how_to_make_it_in_one_line(tmp_path):
    result = run(str(REPO / "dockerable" / "pylint.sh"), "manage.py", cwd=tmp_path, check=False,
                 env={"PATH": os.environ["PATH"]})  # fmt: skip
    assert result.returncode == 64
    assert result.stderr.splitlines() == [
        "dockerable/pylint.sh: no virtualenv at .venv: run tests/run once (it makes .venv)"
    ]
