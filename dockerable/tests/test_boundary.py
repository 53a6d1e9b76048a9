"""The boundary between a project and its template: a project's ordinary work touches nothing
under dockerable/, and a later template commit there merges into it without a conflict."""

import sys

from dockerable.tests.docker_stack import git_copy, run
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
    app = project / "project" / "notes"
    app.mkdir()
    (app / "__init__.py").write_text('"""Notes: the project\'s own app."""\n')
    (app / "models.py").write_text(
        '"""The notes."""\n\nfrom django.db import models\n\n\n'
        "class Note(models.Model):\n    text = models.TextField()\n"
    )
    base = project / "project" / "settings" / "base.py"
    base.write_text(
        base.read_text().replace(
            '    "project.guestbook",\n', '    "project.guestbook",\n    "project.notes",\n'
        )
    )
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
