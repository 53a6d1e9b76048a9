"""The hashed locks: made all together or not at all, installable on every Python a host runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from dockerable.tests.docker_stack import REPO, copy_checkout

pytestmark = pytest.mark.tree

# Every lock dockerable/update-requirements.sh writes (its LOCKS).
LOCKS = ("requirements.txt", "dockerable/requirements-uwsgi.txt", "tests/requirements.txt",
         "tests/requirements-django6.txt", "dockerable/requirements-devtools.txt",
         "dockerable/requirements-tools.txt")  # fmt: skip


def test_the_lock_script_writes_every_lock_the_repository_holds():
    script = (REPO / "dockerable" / "update-requirements.sh").read_text()
    for lock in LOCKS:
        assert lock in script and (REPO / lock).is_file(), lock
    assert sorted(path.relative_to(REPO).as_posix() for path in REPO.glob("**/requirements*.txt")
                  if ".venv" not in path.parts[len(REPO.parts):]) == sorted(LOCKS)  # fmt: skip


def test_a_lock_update_that_cannot_resolve_changes_no_lock(tmp_path):
    root = copy_checkout(tmp_path / "checkout")
    (root / ".venv").symlink_to(Path(sys.prefix))  # the script's uv
    before = {lock: (root / lock).read_bytes() for lock in LOCKS}
    # The image's lock resolves (and would gain `six`); the test suite's cannot.
    with (root / "project" / "requirements.in").open("a") as requirements:
        requirements.write("six>=1.16\n")
    with (root / "tests" / "requirements.in").open("a") as requirements:
        requirements.write("six<1.0\n")
    result = subprocess.run([str(root / "dockerable" / "update-requirements.sh")], cwd=root,
                            capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "update-requirements.sh: a lock could not be made (above): every lock is as it was"
    )
    assert {lock: (root / lock).read_bytes() for lock in LOCKS} == before


@pytest.mark.parametrize(("lock", "python"), [
    *(("requirements.txt", version) for version in ("3.11", "3.12", "3.13", "3.14")),
    ("tests/requirements.txt", "3.11"),
    ("tests/requirements.txt", "3.14"),
    ("tests/requirements-django6.txt", "3.12"),
])  # fmt: skip
def test_a_lock_installs_from_wheels_with_its_hashes_on_each_python_a_host_runs(lock, python, tmp_path):
    # Resolved for that Python and a Linux host without installing (uv reads the markers for that
    # version, which pip would read for its own): a package the lock lacks there, a hash that does
    # not match, or a package that would need a compiler (uWSGI, the image's alone) fails.
    uv = Path(sys.executable).parent / "uv"
    result = subprocess.run(
        [str(uv), "pip", "install", "--dry-run", f"--python-version={python}",
         "--python-platform=x86_64-manylinux_2_28", "--only-binary=:all:", "--require-hashes",
         f"--target={tmp_path / 'site'}", "-r", str(REPO / lock)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
