"""Drive real `docker compose` stacks for the tests: unique project names, free ports, cleanup."""

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

# Written once for both suites; the template's tests import them from here.
from dockerable.testing import REPO, free_port, run, wait_for  # noqa: F401  pylint: disable=unused-import

# pytest's options for the template's suite, as dockerable/tests/run gives them.
TEMPLATE_SUITE = ["-c", "dockerable/tests/pytest.ini", "--rootdir", "."]
# `compose logs` writes terminal escapes (erase-line) even with --no-color.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The tests build and run their own tag, never the user's `dockerable-django:latest`.
TEST_IMAGE = "dockerable-django:test"
# The tag dockerable/run gives its tools image in the tests (through DOCKERABLE_TOOLS_IMAGE).
TOOLS_IMAGE = "dockerable-django:test-tools"
# The repository of the database and backup images the tests build once and every stack of theirs
# runs (through DOCKERABLE_BACKUP_IMAGE), tagged as compose/services.yml tags them: by Dockerfile
# stage, the tag before its -<major>.
BACKUP_REPOSITORY = "dockerable-backup"
IMAGE_TAGS = {"database": "database", "backup": "postgres"}
DOCKERFILE = REPO / "dockerable" / "Dockerfile"
# This machine's engine, whatever DOCKER_HOST says later: the Swarm module points it at its
# docker:dind manager while the checkers' images build in the background of the same process.
HOST_DOCKER = ("docker", "--host", os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
# A compose override: the app with one worker and room for 4 in its queue, which a few requests fill.
SMALL_QUEUE = """services:
  app:
    environment: {UWSGI_PROCESSES: '1'}
    command: [/dockerable/cmd.sh, --listen, '4']
"""


def base_image() -> str:
    """The public image the app's stages start from (e.g. python:3.14-slim); `backup` is not one."""
    stages = [line.split() for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM ")]
    return [stage[1] for stage in stages if ":" in stage[1] and stage[-1] != "backup"][-1]


def build_backup_images(context: Path = REPO) -> list[str]:
    """Build the database and backup images of every major compose/services.yml defines, as
    BACKUP_REPOSITORY's database-<major> and postgres-<major>, the tags the stacks run with
    DOCKERABLE_BACKUP_IMAGE set to it.

    Always rebuilt: `compose up` reuses any image it finds under a service's tag, even one
    built before the Dockerfile's stage changed.
    """
    services = yaml.safe_load((context / "dockerable" / "compose" / "services.yml").read_text())["services"]
    tags = []
    for service in services.values():
        build = service.get("build") or {}
        target = build.get("target") if isinstance(build, dict) else None
        if target in IMAGE_TAGS:
            major = build["args"]["PG_MAJOR"]
            tag = f"{IMAGE_TAGS[target]}-{major}"
            assert service["image"].endswith(f"}}:{tag}"), service["image"]
            dockerfile = context / "dockerable" / "Dockerfile"
            run(
                "docker", "build", "-q", f"--target={target}", f"--build-arg=PG_MAJOR={major}",
                f"--build-context=backup-scripts={context / 'dockerable' / 'compose'}",
                f"--file={dockerfile}", f"--tag={BACKUP_REPOSITORY}:{tag}", str(context), timeout=1200,
            )  # fmt: skip
            tags.append(f"{BACKUP_REPOSITORY}:{tag}")
    assert {tag.split(":")[1].split("-")[0] for tag in tags} == set(IMAGE_TAGS.values()), tags
    return tags


def copy_checkout(target: Path) -> Path:
    """Copy the files git knows about (tracked or not ignored) into `target`."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO)
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


# The suite's own app (dockerable/tests/fixture/), never the sample app a project deletes: its
# stacks serve it at /, from copies of the checkout it is installed in as a user installs an app.
FIXTURE_APP = REPO / "dockerable" / "tests" / "fixture" / "fixturebook"
FIXTURE_SETTINGS = """
# The template suite's fixture app (dockerable/tests/docker_stack.py: install_fixture_app).
INSTALLED_APPS = [*INSTALLED_APPS, "project.fixturebook"]
# Its admin pages run an inline script: allowed there, as a user would for a third-party admin.
SITE_CSP_BY_PATH = {**SITE_CSP_BY_PATH, "/admin/": SITE_CSP + "; script-src 'self' 'unsafe-inline'"}
"""
FIXTURE_URLS = """
# The template suite's fixture app, at / ahead of the project's own pages (install_fixture_app).
from django.urls import include as _include, path as _path  # noqa: E402

urlpatterns = [_path("", _include("project.fixturebook.urls")), *urlpatterns]
"""


def install_fixture_app(root: Path) -> Path:
    """Install the fixture app into the copy `root`: project/fixturebook, its settings and URL lines."""
    caches = shutil.ignore_patterns("__pycache__")
    shutil.copytree(FIXTURE_APP, root / "project" / "fixturebook", ignore=caches)
    for name, lines in (("settings/base.py", FIXTURE_SETTINGS), ("urls.py", FIXTURE_URLS)):
        with (root / "project" / name).open("a", encoding="utf-8") as file:
            file.write(lines)
    return root


# The sample app's lines as the template ships them, and what each becomes without it.
SAMPLE_APP_LINES = {
    "settings/base.py": [('    "project.guestbook",\n', "")],
    "urls.py": [('    path("", include("project.guestbook.urls")),\n', "")],
}


def remove_sample_app(root: Path) -> None:
    """Delete the sample app from the copy `root` as docs/your-project.md says: its folder and its
    two lines. Nothing to do in a project that has deleted it already."""
    if not (root / "project" / "guestbook").is_dir():
        return
    shutil.rmtree(root / "project" / "guestbook")
    for name, edits in SAMPLE_APP_LINES.items():
        path = root / "project" / name
        text = path.read_text(encoding="utf-8")
        for line, replacement in edits:
            assert text.count(line) == 1, f"{path}: the sample app's line {line!r} is not there once"
            text = text.replace(line, replacement)
        path.write_text(text, encoding="utf-8")


# The scheme each published-port variable of the compose files serves.
PORT_SCHEMES = {"HTTPS_PORT": "https", "HTTP_PORT": "http", "DEV_PORT": "http"}


@contextlib.contextmanager
def git_copy(prefix: str, fixture: bool = False):
    """A copy of the checkout that is a git repository of its own, every file added; removed afterwards.
    With `fixture`, the fixture app is installed in it first.

    Not under pytest's tmp_path: its 0700 folders would hide a bind-mounted copy from the
    container's app user, which an ordinary checkout does not.
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        root.chmod(0o755)
        copy_checkout(root)
        if fixture:
            install_fixture_app(root)
        run("git", "init", "-q", cwd=root)
        run("git", "add", "-A", cwd=root)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Stack:
    """One compose project: a compose file, a unique project name, its ports and variables."""

    def __init__(self, compose_file: Path, project: str, **variables: str):
        self.compose_file = Path(compose_file)
        self.project = project
        self.env = {**os.environ, "DOCKERABLE_IMAGE": TEST_IMAGE, "PUBLISH_ADDRESS": "127.0.0.1",
                    "DOCKERABLE_BACKUP_IMAGE": BACKUP_REPOSITORY}  # fmt: skip
        self.env.update({key: str(value) for key, value in variables.items()})
        self.extra_files: list[Path] = []

    @property
    def folder(self) -> Path:
        """The environment folder the compose file is in."""
        return self.compose_file.parent

    def url(self, path: str = "", port: str = "HTTPS_PORT") -> str:
        """A URL on 127.0.0.1 at the host port that variable `port` publishes."""
        return f"{PORT_SCHEMES[port]}://127.0.0.1:{self.env[port]}{path}"

    def compose_command(self, *args) -> list[str]:
        """The `docker compose` command line for this stack's files and project name."""
        files = [arg for path in [self.compose_file, *self.extra_files] for arg in ("-f", str(path))]
        return ["docker", "compose", "-p", self.project, *files, *args]

    def compose(self, *args, check=True, timeout=600):
        """Run `docker compose` on this stack's files and project name."""
        return run(*self.compose_command(*args), check=check, env=self.env, timeout=timeout)

    def up(self, *args):
        """`up -d --wait`: returns once every service is healthy or has completed. When it fails,
        the services' last log lines go with the error: compose's own says only which one failed."""
        try:
            return self.compose("up", "-d", "--wait", "--wait-timeout", "180", *args)
        except AssertionError as error:
            logs = ANSI_ESCAPE.sub("", self.compose("logs", "--no-color", "--tail", "40", check=False).stdout)
            raise AssertionError(f"{error}\n--- the services' last lines\n{logs}") from None

    @contextlib.contextmanager
    def running(self, *up_args):
        """Up for the length of a `with` block; down, volumes and all, however it ends."""
        try:
            self.up(*up_args)
            yield self
        finally:
            self.down(volumes=True)

    @contextlib.contextmanager
    def overridden(self, override: str, *up_args):
        """Up with one more compose file (YAML text) for a `with` block, then up as before."""
        shipped = self.extra_files
        with tempfile.TemporaryDirectory(prefix="dockerable-override-") as folder:
            path = Path(folder) / "override.yml"
            path.write_text(override)
            self.extra_files = [*shipped, path]
            try:
                self.up(*up_args)
                yield self
            finally:
                self.extra_files = shipped
                self.up()

    def down(self, volumes=False):
        """Stop and remove the containers (and the named volumes with volumes=True)."""
        return self.compose("down", "--remove-orphans", *(["-v"] if volumes else []), check=False)

    def logs(self, service: str, since: str = "") -> str:
        """Everything a service printed so far (since a time Docker understands, if given)."""
        window = ["--since", since] if since else []
        said = self.compose("logs", "--no-color", "--no-log-prefix", *window, service)
        return ANSI_ESCAPE.sub("", said.stdout)

    def exec(self, service: str, *args, check=True, user=None):
        """Run a command in a running service container (as `user`, if given)."""
        return self.compose("exec", "-T", *(["--user", user] if user else []), service, *args, check=check)

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL through psql in the postgres service as the environment's user; rows as text."""
        values = json.loads((self.folder / "secrets.json").read_text())
        return self.exec(
            "postgres", "psql", "-U", values["DB_USER"], "-d", database or values["DB_NAME"], "-Atc", sql
        ).stdout

    def containers(self, service: str = "", all_states=True) -> list[str]:
        """IDs of this service's containers (of every service's, with none named)."""
        args = ["ps", "-q", *(["-a"] if all_states else []), *([service] if service else [])]
        return self.compose(*args).stdout.split()

    def services(self) -> list[str]:
        """The names of the services that have a container."""
        return sorted(set(self.compose("ps", "-a", "--format", "{{.Service}}").stdout.split()))


# The docker0 bridge's address: what the bench's one-node swarm advertises, and where the Swarm
# module's docker:dind nodes reach the registry it publishes there.
DOCKER0 = "172.17.0.1"
# The node labels the stack places its services by (docs/swarm.md).
SWARM_LABELS = ("dockerable.proxy=true", "dockerable.db=true")


def remove_stack(stack: str) -> None:
    """docker stack rm, and wait until its containers are gone (volumes stay)."""
    label = f"label=com.docker.stack.namespace={stack}"
    run("docker", "stack", "rm", stack, check=False)
    wait_for(
        lambda: not run("docker", "ps", "-aq", "--filter", label).stdout.strip(),
        timeout=90,
        what="the stack's containers to go",
    )
