"""Run manage.py and the host-side commands as a user would: fresh processes, no Django or DB variables."""

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
    return python(["manage.py", *args], cwd=cwd, timeout=timeout, **env)


def envtool(*args: str, cwd=REPO, timeout=900, **env: str) -> subprocess.CompletedProcess:
    """`python -m dockerable.envtools ARGS` (what `dockerable/run ARGS` runs in the tools image) in `cwd`."""
    return python(["-m", "dockerable.envtools", *args], cwd=cwd, timeout=timeout, **env)


def python(args: list[str], cwd, timeout, **env: str) -> subprocess.CompletedProcess:
    """This virtualenv's Python with `args`, in a clean environment; never raises on failure."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
