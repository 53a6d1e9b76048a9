"""Linters the project promises to be clean under: pylint (with pylint_django), hadolint, shellcheck."""

import sys
from pathlib import Path

from tests.docker_stack import REPO, run

BIN = Path(sys.executable).parent
SHELL_SCRIPTS = ["dockerable/cmd.sh", "dockerable/deploy.sh", "dockerable/proxy/nginx-tls.sh",
                 "dockerable/proxy/certbot.sh", "tests/run", "tests/bench/run", ".ci/run"]


def test_pylint_with_pylint_django_passes_on_project():
    result = run(str(BIN / "pylint"), "--load-plugins=pylint_django", "project", "manage.py", "tests/bench",
                 cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout


def test_dockerfile_is_clean_under_hadolint():
    result = run(str(BIN / "hadolint"), "dockerable/Dockerfile", cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_are_clean_under_shellcheck():
    result = run(str(BIN / "shellcheck"), *SHELL_SCRIPTS, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vscode_settings_use_current_keys():
    import json  # pylint: disable=import-outside-toplevel

    settings = json.loads((REPO / ".vscode" / "settings.json").read_text())
    assert settings["python.defaultInterpreterPath"].endswith("python")
    assert "--load-plugins=pylint_django" in settings["pylint.args"]
    # The seed's keys were removed from the Python extension in 2023.
    assert "python.pythonPath" not in settings and "python.linting.pylintArgs" not in settings
