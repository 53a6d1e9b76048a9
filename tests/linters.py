"""The linters the template is held to, as functions the lint tests (and the bench's) call."""

import sys
from pathlib import Path

from tests.docker_stack import REPO, run

BIN = Path(sys.executable).parent
# In tests, a test's name says what it checks and fixtures arrive as same-named parameters.
TEST_IDIOMS = "--disable=missing-function-docstring,redefined-outer-name"


def pylint(*paths: str, tests: bool = False):
    """pylint with pylint_django over `paths` (test code: with TEST_IDIOMS allowed)."""
    return run(str(BIN / "pylint"), "--load-plugins=pylint_django", *([TEST_IDIOMS] if tests else []), *paths,
               cwd=REPO, check=False)


def shellcheck(*paths: str):
    """shellcheck over `paths`."""
    return run(str(BIN / "shellcheck"), *paths, cwd=REPO, check=False)
