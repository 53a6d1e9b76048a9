"""Linters the project promises to be clean under: pylint (with pylint_django), hadolint, shellcheck."""

import json

from tests.docker_stack import REPO
from tests.linters import BIN, pylint, run, shellcheck

SHELL_SCRIPTS = [*sorted(str(path.relative_to(REPO)) for path in (REPO / "dockerable").rglob("*.sh")),
                 "tests/run", ".ci/run"]


def test_pylint_with_pylint_django_passes_on_project():
    result = pylint("project", "manage.py")
    assert result.returncode == 0, result.stdout


def test_pylint_passes_on_the_tests():
    result = pylint("tests", tests=True)
    assert result.returncode == 0, result.stdout


def test_dockerfile_is_clean_under_hadolint():
    result = run(str(BIN / "hadolint"), "dockerable/Dockerfile", cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_are_clean_under_shellcheck():
    assert "dockerable/compose/postgres-entrypoint.sh" in SHELL_SCRIPTS
    result = shellcheck(*SHELL_SCRIPTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vscode_settings_use_current_keys():
    settings = json.loads((REPO / ".vscode" / "settings.json").read_text())
    assert settings["python.defaultInterpreterPath"].endswith("python")
    assert "--load-plugins=pylint_django" in settings["pylint.args"]
    # The seed's keys were removed from the Python extension in 2023.
    assert "python.pythonPath" not in settings and "python.linting.pylintArgs" not in settings
