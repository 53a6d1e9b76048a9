"""dockerable/run: the host-side commands, and a user's day one, from a clone with Docker and nothing else."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from dockerable.tests.conftest import unique_project
from dockerable.tests.docker_stack import (
    BACKUP_REPOSITORY,
    Stack,
    free_port,
    git_copy,
    remove_sample_app,
    run,
)
from dockerable.tests.http_client import request
from dockerable.tests.manage_cli import clean_env
from dockerable.tests.signing_keys import allowed_signers, make_key

pytestmark = pytest.mark.docker

# What dockerable/run itself calls on the host: no Python, no Django, no git.
HOST_PROGRAMS = ("bash", "dirname", "id", "stat", "docker")
# An unprivileged user, as a developer is on their machine (this suite may run as root).
HOST_USER = 12345
SOCKET = "/var/run/docker.sock"
# The bundle's signed list of files and its signature.
SIGNED = ("SHA256SUMS", "SHA256SUMS.sig")


@contextlib.contextmanager
def bare_host():
    """A PATH with HOST_PROGRAMS only, and a HOME of the user's own: `(environment, uid)`."""
    folder = Path(tempfile.mkdtemp(prefix="dockerable-bare-"))
    try:
        folder.chmod(0o755)
        bin_dir, home = folder / "bin", folder / "home"
        bin_dir.mkdir()
        home.mkdir()
        for name in HOST_PROGRAMS:
            (bin_dir / name).symlink_to(shutil.which(name))
        uid = HOST_USER if os.geteuid() == 0 else os.geteuid()
        os.chown(home, uid, uid)
        yield {"PATH": str(bin_dir), "HOME": str(home)}, uid
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def as_user(uid: int, root: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    """`dockerable/run ARGS` in `root` as `uid`, with only `env`; never raises on failure."""
    prefix = []
    if os.geteuid() == 0:
        groups = f"--groups={os.stat(SOCKET).st_gid}"
        prefix = [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", groups]
    return subprocess.run(
        [*prefix, str(root / "dockerable" / "run"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def give(root: Path, uid: int) -> None:
    """Make `root` and everything in it `uid`'s, as a user's own clone is."""
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def owners(folder: Path) -> set[int]:
    """The owners of `folder` and of everything in it."""
    return {path.stat().st_uid for path in [folder, *folder.rglob("*")]}


def signed_by(bundle: Path, key: Path, work: Path) -> bool:
    """Whether the bundle's list of files names its image and deploy.sh, and is signed by `key`
    for staging, as OpenSSH's own ssh-keygen finds."""
    work.mkdir()
    with tarfile.open(bundle) as archive:
        (folder,) = {name.split("/", 1)[0] for name in archive.getnames()}
        listed, signature = (archive.extractfile(f"{folder}/{name}").read() for name in SIGNED)
    (work / "SHA256SUMS.sig").write_bytes(signature)
    verified = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(allowed_signers(work / "signers", key, "staging")),
         "-I", "staging", "-n", "dockerable-bundle", "-s", str(work / "SHA256SUMS.sig")],
        input=listed, capture_output=True, check=False,
    )  # fmt: skip
    return verified.returncode == 0 and b"  image.tar\n" in listed and b"  deploy.sh\n" in listed


def test_a_clone_with_only_docker_makes_checks_and_ships_an_environment_as_its_user(tools_image):
    image = f"dockerable-django:run-{uuid.uuid4().hex[:8]}"
    made_images = [image]
    with bare_host() as (host, uid), git_copy("dockerable-run-") as root:
        give(root, uid)
        # The user's signing key, in their home (outside the clone), which the tools image has no
        # passwd entry for its user to use with.
        key = make_key(Path(host["HOME"]))
        give(key.parent, uid)
        # The suite's own backup image: shipenv builds (and bundles) it again, from the cache.
        env = {
            **host, **tools_image, "DOCKERABLE_IMAGE": image, "DOCKERABLE_BACKUP_IMAGE": BACKUP_REPOSITORY,
            "DOCKERABLE_SIGNING_KEY": str(key),
        }  # fmt: skip
        try:
            made = as_user(uid, root, "newenv", "staging", "--domain", "staging.example.test", env=env)
            assert made.returncode == 0, made.stdout + made.stderr
            assert "dockerable/run checkenv staging" in made.stdout
            folder = root / "project" / "settings" / "staging"
            assert owners(folder) == {uid}
            assert (folder / "secrets.json").stat().st_mode & 0o777 == 0o600

            checked = as_user(uid, root, "checkenv", "staging", env=env)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert "ok        git" in checked.stdout  # git ran, in the tools image
            assert "checkenv: environment 'staging' passes" in checked.stdout

            shipped = as_user(uid, root, "shipenv", "staging", "--output", "dist", env=env)
            assert shipped.returncode == 0, shipped.stdout + shipped.stderr
            made_images.append(re.search(r"\(image ([^)]+)\)", shipped.stdout).group(1))
            (bundle,) = (root / "dist").glob("*.bundle.tar")
            assert owners(root / "dist") == {uid}
            assert bundle.stat().st_mode & 0o777 == 0o600
            # Signed with the user's key: what deploy.sh checks, checked here with OpenSSH's own tool.
            assert signed_by(bundle, key, root / "check")
        finally:
            run("docker", "image", "rm", "-f", *made_images, check=False)


def test_an_unknown_command_or_no_engine_is_one_line_and_exit_64(tools_image):
    with bare_host() as (host, uid), git_copy("dockerable-run-") as root:
        unknown = as_user(uid, root, "migrate", env={**host, **tools_image})
        assert unknown.returncode == 64, unknown.stdout + unknown.stderr
        (line,) = unknown.stderr.strip().splitlines()
        assert "unknown command 'migrate'" in line and "newenv" in line

        no_engine = as_user(
            uid, root, "checkenv", "example", env={**host, "DOCKER_HOST": "unix:///nowhere.sock"}
        )
        assert no_engine.returncode == 64
        assert no_engine.stderr.strip() == (
            "dockerable/run: no Docker engine socket at /nowhere.sock (is Docker running? DOCKER_HOST?)"
        )


# A user's first app, as docs/your-project.md's "Make it yours" writes it.
NOTES = {
    "models.py": """from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
""",
    "views.py": """from django.http import HttpResponse

from project.notes.models import Note


def index(request):
    return HttpResponse(f"<p>notes: {Note.objects.count()}</p>")
""",
    "urls.py": """from django.urls import path

from project.notes import views

urlpatterns = [path("", views.index)]
""",
    "tests.py": """import pytest

from project.notes.models import Note


@pytest.mark.django_db
def test_the_page_counts_the_notes(client):
    Note.objects.create(text="one")
    assert "notes: 1" in client.get("/").content.decode()
""",
}


def append(path: Path, line: str) -> None:
    """The user's line at the end of a file they own."""
    path.write_text(path.read_text() + line)


def replace_once(path: Path, old: str, new: str) -> None:
    """The user's edit of one line they own."""
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


def start_the_notes_app(root: Path, uid: int, env: dict) -> str:
    """`startapp` through dockerable/run, then the user's own edits: the app written, the sample app
    gone. Its name, unique: this test runs in projects that may have a `notes` of their own."""
    name = f"notes_{uuid.uuid4().hex[:8]}"
    project = root / "project"
    (project / name).mkdir()
    give(root, uid)
    started = as_user(uid, root, "manage", "startapp", name, f"project/{name}", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    replace_once(project / name / "apps.py", f"name = '{name}'", f"name = 'project.{name}'")
    for module, text in NOTES.items():
        (project / name / module).write_text(text.replace("project.notes", f"project.{name}"))
    remove_sample_app(root)
    append(project / "settings" / "base.py", f'INSTALLED_APPS = [*INSTALLED_APPS, "project.{name}"]\n')
    append(project / "urls.py", f'urlpatterns += [path("", include("project.{name}.urls"))]\n')
    give(root, uid)
    return name


def assert_built_once(stack: Stack, up: subprocess.CompletedProcess) -> None:
    """`up` (with plain progress) built the image for one service of `stack` only, pulled nothing,
    and left no untagged image of the stack's compose project. (PostgreSQL's and the backups'
    images are others, each built for its own service.)"""
    output, project = up.stdout + up.stderr, stack.project
    built_for = set(re.findall(r"^#\d+ \[([^\s\]]+)[\s\]]", output, re.MULTILINE))
    assert built_for - {"postgres", "backup"} == {"app"}, output[-3000:]
    assert "Pulling" not in output and "registry-1.docker.io" not in output, output[-3000:]
    dangling = run("docker", "images", "-q", "--filter", "dangling=true",
                   "--filter", f"label=com.docker.compose.project={project}").stdout  # fmt: skip
    assert not dangling.split(), dangling


def test_day_one_a_new_app_replaces_the_sample_app_and_is_served_in_dev_and_production_mode(tools_image):
    image = f"dockerable-django:day-one-{uuid.uuid4().hex[:8]}"
    with bare_host() as (host, uid), git_copy("dockerable-day-one-") as root:
        project = root / "project"
        env = {**host, **tools_image}
        name = start_the_notes_app(root, uid, env)

        made = as_user(uid, root, "manage", "makemigrations", name, env=env)
        assert made.returncode == 0, made.stdout + made.stderr
        migration = project / name / "migrations" / "0001_initial.py"
        assert "Create model Note" in made.stdout and migration.is_file()
        assert owners(project / name) == {uid}

        # The user's suite, without the smoke test (the stacks below serve the app instead).
        suite = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "not docker", "-p", "no:cacheprovider", "-q"],
            cwd=root, env=clean_env(PYTHONDONTWRITEBYTECODE="1"),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert suite.returncode == 0 and "1 passed" in suite.stdout, suite.stdout + suite.stderr

        folder = project / "settings" / "example"
        dev = Stack(folder / "docker-compose-dev.yml", unique_project("dd-day-one-dev"),
                    DOCKERABLE_IMAGE=image, DEV_PORT=free_port(), DB_PORT=free_port())  # fmt: skip
        prod = Stack(folder / "docker-compose.yml", unique_project("dd-day-one"),
                     DOCKERABLE_IMAGE=image, HTTPS_PORT=free_port(), HTTP_PORT=free_port())  # fmt: skip
        try:
            # The image is new: `up --build` builds it once, for the one service that builds it,
            # asks no registry for it, and leaves no untagged copy behind.
            assert_built_once(dev, dev.compose("--progress=plain", "up", "-d", "--wait", "--build"))
            page = request("GET", dev.url("/", "DEV_PORT"))
            assert page.status == 200 and page.text == "<p>notes: 0</p>", page.text
            dev.down(volumes=True)
            with prod.running():
                page = request("GET", prod.url("/"), ca_file=folder / "ssl" / "server.crt")
                assert page.status == 200 and page.text == "<p>notes: 0</p>", page.text
        finally:
            dev.down(volumes=True)
            run("docker", "image", "rm", "-f", image, check=False)
