"""The lint tooling: the hooks' pins, pylint's virtualenv, VS Code's settings. The hooks themselves run on
a copy of the tree in test_boundary.py (with a user's app from PyPI in it)."""

import json
import os

import yaml

from dockerable.tests.docker_stack import REPO, run


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
