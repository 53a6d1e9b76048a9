"""The boundary between a project and its template: a project's ordinary work touches nothing
under dockerable/, a later template commit there merges into it without a conflict, and a project
with an app from PyPI, without the sample app and the benchmark, passes every lint hook and both
suites."""

import contextlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dockerable.tests.docker_stack import TEMPLATE_SUITE, copy_checkout, git_copy, remove_sample_app, run
from dockerable.tests.manage_cli import clean_env

GIT = [
    "git",
    "-c",
    "user.name=test",
    "-c",
    "user.email=test@example.invalid",
    "-c",
    "init.defaultBranch=main",
]


def git(*args, cwd):
    return run(*GIT, *args, cwd=cwd)


def make_it_yours(project):
    """What a team does first, as the README's "Stay current" section expects: an app, a
    dependency, an environment, its own README."""
    # A name no project has already: this test runs in projects too.
    name = f"notes_{uuid.uuid4().hex[:8]}"
    app = project / "project" / name
    app.mkdir()
    (app / "__init__.py").write_text('"""Notes: the project\'s own app."""\n')
    (app / "models.py").write_text(
        '"""The notes."""\n\nfrom django.db import models\n\n\n'
        "class Note(models.Model):\n    text = models.TextField()\n"
    )
    base = project / "project" / "settings" / "base.py"
    base.write_text(base.read_text() + f'INSTALLED_APPS = [*INSTALLED_APPS, "project.{name}"]\n')
    with (project / "project" / "requirements.in").open("a") as requirements:
        requirements.write("requests>=2.32\n")
    run(sys.executable, "-m", "dockerable.envtools", "newenv", "staging", cwd=project, env=clean_env())
    readme = project / "README.md"
    readme.write_text("# Notes, our team's app\n\n" + readme.read_text())
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "our app", cwd=project)


def test_a_projects_work_stays_outside_dockerable_and_a_template_update_merges_cleanly(tmp_path):
    with git_copy("dockerable-template-") as template:
        git("commit", "-q", "-m", "the template", cwd=template)
        project = tmp_path / "project"
        git("clone", "-q", str(template), str(project), cwd=tmp_path)
        make_it_yours(project)
        changed = git("diff", "--name-only", "origin/HEAD", "HEAD", cwd=project).stdout.split()
        assert "project/requirements.in" in changed and "project/settings/staging/settings.py" in changed
        assert not [name for name in changed if name.startswith("dockerable/")], changed

        # A later template release: its scripts, topology and own dependencies change.
        for name in ("dockerable/cmd.sh", "dockerable/compose/services.yml", "dockerable/requirements.in"):
            with (template / name).open("a") as file:
                file.write("# a later template release\n")
        git("commit", "-q", "-am", "a later template release", cwd=template)

        merged = run(
            *GIT, "pull", "-q", "--no-rebase", "--no-edit", "origin", "HEAD", cwd=project, check=False
        )
        assert merged.returncode == 0, merged.stdout + merged.stderr
        assert (project / "dockerable" / "cmd.sh").read_text().endswith("# a later template release\n")
        assert (project / "README.md").read_text().startswith("# Notes, our team's app")
        assert not git("status", "--porcelain", cwd=project).stdout


# A project's own app on a third-party app from PyPI that has migrations and checks of its own.
TAGGED_NOTES = {
    "__init__.py": '"""Notes with tags."""\n',
    "models.py": '''"""A note, tagged through django-taggit."""

from django.db import models
from taggit.managers import TaggableManager


class Note(models.Model):
    """One note."""

    text = models.TextField()
    tags = TaggableManager()
''',
    "tests.py": '''"""The notes' tests."""

import pytest

from project.notes.models import Note


@pytest.mark.django_db
def test_a_note_keeps_its_tags():
    note = Note.objects.create(text="tagged")
    note.tags.add("docker", "django")
    assert sorted(note.tags.names()) == ["django", "docker"]
''',
}


# This module's commands run beside the Swarm module (conftest.py), whose load tests must not starve:
# at the lowest priority they get the CPU the stacks leave (docs/ci.md).
NICE = ["nice", "-n", "19"]


def in_copy(root: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """A command in the copy `root` with `env`, at the lowest priority; its output in the failure
    message, never raised."""
    return subprocess.run(
        [*NICE, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def add_tagged_notes(root: Path, env: dict) -> None:
    """The user's app on django-taggit (a unique name: this test runs in projects too), both in
    INSTALLED_APPS (the user's edit), its migration made."""
    name = f"notes_{uuid.uuid4().hex[:8]}"
    app = root / "project" / name
    app.mkdir()
    for module, text in TAGGED_NOTES.items():
        (app / module).write_text(text.replace("project.notes", f"project.{name}"))
    base = root / "project" / "settings" / "base.py"
    listed = '    "django.contrib.staticfiles",\n'
    assert base.read_text().count(listed) == 1
    base.write_text(base.read_text().replace(listed, listed + f'    "taggit",\n    "project.{name}",\n'))
    made = in_copy(root, env, sys.executable, "manage.py", "makemigrations", name)
    assert made.returncode == 0 and (app / "migrations" / "0001_initial.py").is_file(), made.stderr


def install_taggit(site: Path) -> str:
    """django-taggit alone, from PyPI, into `site` (as .venv would hold it); its version."""
    run(*NICE, sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
        "django-taggit>=6", timeout=600)  # fmt: skip
    (dist,) = site.glob("django_taggit-*.dist-info")
    return dist.name.removeprefix("django_taggit-").removesuffix(".dist-info")


@contextlib.contextmanager
def locking_taggit(root: Path, scratch: Path):
    """update-requirements.sh after the user adds django-taggit, run in the background in a copy of
    `root` (it waits on the package index; the linters meanwhile on the CPU, and they would take a
    lock written under them for a file they changed); the changed locks are copied into `root`."""
    copy = copy_checkout(scratch)
    (copy / ".venv").symlink_to(Path(sys.prefix))  # the script's uv
    files = [path for path in copy.rglob("*") if path.is_file() and ".venv" not in path.parts]
    before = {path: path.read_bytes() for path in files}
    with (copy / "project" / "requirements.in").open("a") as requirements:
        requirements.write("django-taggit>=6\n")
    script = [*NICE, str(copy / "dockerable" / "update-requirements.sh")]
    with subprocess.Popen(script, cwd=copy, stderr=subprocess.PIPE, text=True) as locking:
        yield
        assert locking.wait(timeout=600) == 0, locking.stderr.read()
    for path, content in before.items():
        if path.read_bytes() != content:
            shutil.copy2(path, root / path.relative_to(copy))


@pytest.mark.docker
@pytest.mark.tree
def test_a_project_with_an_app_from_pypi_lints_and_keeps_both_suites_green_without_the_sample_app(tmp_path):
    with git_copy("dockerable-pypi-app-") as root:
        site = tmp_path / "site"
        version = install_taggit(site)
        env = clean_env(PYTHONPATH=str(site), VIRTUAL_ENV=sys.prefix, PRE_COMMIT_COLOR="never")
        add_tagged_notes(root, env)
        with locking_taggit(root, tmp_path / "locks"):
            run("git", "add", "-A", cwd=root)
            # Every hook on the whole tree (the sample app and the benchmark still in it): the hooks
            # that fix things find nothing to fix, and pylint-django imports the user's dependency.
            pre_commit = str(Path(sys.executable).parent / "pre-commit")
            linted = in_copy(root, env, pre_commit, "run", "--all-files")
            assert linted.returncode == 0, linted.stdout[-6000:] + linted.stderr[-2000:]
            for hook in ("ruff (lint)", "ruff (format)", "pylint", "hadolint", "shellcheck"):
                assert hook in linted.stdout, hook
            shell = run("git", "ls-files", "*.sh", cwd=root).stdout
            assert "dockerable/compose/postgres-entrypoint.sh" in shell
        assert "django-taggit>=6" in (root / "project" / "requirements.in").read_text()
        for lock in ("requirements.txt", "tests/requirements.txt"):
            assert f"\ndjango-taggit=={version} " in (root / lock).read_text(), lock

        # Then no benchmark and no sample app: the user's suite and the template's fast tier.
        run("git", "rm", "-r", "-q", "--force", "dockerable/bench", cwd=root)
        remove_sample_app(root)
        pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        yours = in_copy(root, env, *pytest_command, "-m", "not docker")
        assert yours.returncode == 0 and "1 passed" in yours.stdout, yours.stdout[-3000:]
        # Every module still imports (collection comes before -m); this test and the linters aside.
        template = in_copy(root, env, *pytest_command, *TEMPLATE_SUITE, "-m", "not docker and not tree")
        assert template.returncode == 0 and " passed" in template.stdout, template.stdout[-3000:]
