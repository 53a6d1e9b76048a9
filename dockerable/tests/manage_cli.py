"""Run manage.py as a user would: a fresh process with no Django or database variables inherited."""

import os
import subprocess
import sys

from dockerable.tests.docker_stack import REPO


def clean_env(**extra: str) -> dict:
    """This process's environment without DJANGO_*, DB_* and ENV, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DB_")) and key != "ENV"
    }
    env.update(extra)
    return env


def manage(*args: str, cwd=REPO, timeout=900, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in `cwd`, capturing text output; never raises on failure."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
