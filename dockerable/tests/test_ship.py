"""shipenv and deploy.sh: a bundle deploys on a host with no checkout, and upgrades keep the data."""

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from dockerable.tests.docker_stack import REPO, copy_checkout, free_port, install_fixture_app, run
from dockerable.tests.http_client import request, sign_fixturebook
from dockerable.tests.manage_cli import envtool
from dockerable.tests.signing_keys import flip_byte

pytestmark = pytest.mark.docker

DOMAIN = "staging.example.test"
# The environment's compose file in a host's folder with an unpacked bundle.
COMPOSE_FILES = "*/project/settings/*/docker-compose.yml"


class Host:
    """A deployment target: folders outside the checkout, its ports and compose project."""

    def __init__(self):
        self.project = f"dd-ship-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "PUBLISH_ADDRESS": "127.0.0.1",
            "HTTPS_PORT": str(free_port()),
            "HTTP_PORT": str(free_port()),
        }
        # The host's release history, where /var/lib/dockerable would be.
        self.state = Path(tempfile.mkdtemp(prefix="dockerable-state-"))
        self.env["DOCKERABLE_STATE_DIR"] = str(self.state)
        self.folders: list[Path] = []
        self.images: set[str] = set()

    def unpack(self, bundle: Path) -> Path:
        """Unpack the bundle in a new folder, as an operator would: the bundle's own folder in it."""
        folder = Path(tempfile.mkdtemp(prefix="dockerable-host-"))
        self.folders.append(folder)
        with tarfile.open(bundle) as archive:
            archive.extractall(folder, filter="tar")
        (root,) = folder.iterdir()
        return root

    def deploy(self, bundle: Path) -> Path:
        """Unpack the bundle in a new folder and run its deploy.sh, as an operator would."""
        with tarfile.open(bundle) as archive:
            names = archive.getnames()
        root = self.unpack(bundle)
        # Everything any of the environment's modes mounts travels with it.
        assert any(name.endswith("dockerable/proxy/nginx.conf.template") for name in names)
        # ...and the shared topology that the environment's thin compose files extend.
        assert any(name.endswith("dockerable/compose/services.yml") for name in names)
        assert any(name.endswith("dockerable/compose/postgres-entrypoint.sh") for name in names)
        # ...and the loader of secrets.json those services run.
        assert any(name.endswith("dockerable/runtime/environment.py") for name in names)
        assert any(name.endswith("dockerable/compose/backup.sh") for name in names)
        assert any(name.endswith("/restore.sh") for name in names)
        assert any(name.endswith("/pg-upgrade.sh") for name in names)
        assert any(name.endswith("docker-compose-proxy.yml") for name in names)
        # The SBOM of the image's Python packages: each locked one by its version, uWSGI's too.
        sbom = json.loads((root / "sbom.cdx.json").read_text())
        assert sbom["bomFormat"] == "CycloneDX", sbom.get("bomFormat")
        listed = {component["purl"] for component in sbom["components"]}
        for lock in (REPO / "requirements.txt", REPO / "dockerable" / "requirements-uwsgi.txt"):
            pins = re.findall(r"^([a-z0-9._-]+)==(\S+)", lock.read_text(), re.M)
            assert pins and {f"pkg:pypi/{name}@{version}" for name, version in pins} <= listed, lock
        # The backup and database services' images travel too: a host has no Dockerfile to build them.
        with tarfile.open(root / "image.tar") as images:
            tags = [
                tag for entry in json.load(images.extractfile("manifest.json")) for tag in entry["RepoTags"]
            ]
        # Under the name it was built with, which bundle.env gives the host's compose files.
        release = dict(line.split("=", 1) for line in (root / "bundle.env").read_text().splitlines())
        database = [f"{release['DOCKERABLE_BACKUP_IMAGE']}:{tag}" for tag in ("postgres-18", "database-18")]
        assert {*database, release["DOCKERABLE_IMAGE"]} <= set(tags), (release, tags)
        self.images.update(database)
        run(str(root / "deploy.sh"), env=self.env, timeout=600)
        # The release's tag reaches the app, whose error reports name it.
        assert release["DOCKERABLE_RELEASE"] == release["DOCKERABLE_IMAGE"].rsplit(":", 1)[1]
        environment = run(
            "docker", "inspect", "--format", "{{json .Config.Env}}", f"{self.project}-app-1"
        ).stdout
        assert f"DOCKERABLE_RELEASE={release['DOCKERABLE_RELEASE']}" in json.loads(environment)
        return root

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.env['HTTPS_PORT']}{path}"

    def cleanup(self):
        # The environment's stack, down from any bundle's folder (one compose project).
        composes = [path for folder in self.folders for path in folder.glob(COMPOSE_FILES)]
        if composes:
            run("docker", "compose", "-f", str(composes[-1]), "down", "-v", env=self.env, check=False)
        for image in self.images:
            run("docker", "image", "rm", "-f", image, check=False)
        for folder in [*self.folders, self.state]:
            shutil.rmtree(folder, ignore_errors=True)
        # deploy.sh's lock file.
        (Path(os.environ.get("TMPDIR", "/tmp")) / f"dockerable-deploy-{self.project}.lock").unlink(
            missing_ok=True
        )


@pytest.fixture
def workspace(test_image):  # pylint: disable=unused-argument
    """A checkout with a `staging` environment, and a host to deploy it to."""
    root = Path(tempfile.mkdtemp(prefix="dockerable-ship-"))
    root.chmod(0o755)
    install_fixture_app(copy_checkout(root))
    host = Host()
    try:
        yield root, host
    finally:
        host.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def ship(root: Path, host: Host, marker: str) -> Path:
    """Change the page (so each release is its own image), ship, and remove the image from the engine."""
    template = root / "project" / "fixturebook" / "templates" / "fixturebook" / "index.html"
    template.write_text(re.sub(r"<h1>.*</h1>", f"<h1>Dockerable Django {marker}</h1>", template.read_text()))
    build_tag = f"dockerable-django:ship-{uuid.uuid4().hex[:8]}"
    result = envtool(
        "shipenv", "staging", "--output", str(root / "dist"), cwd=root, DOCKERABLE_IMAGE=build_tag
    )
    assert result.returncode == 0, result.stderr
    release = re.search(r"\(image ([^)]+)\)", result.stdout).group(1)
    bundle = Path(re.search(r"Made (\S+)", result.stdout).group(1))
    assert bundle.stat().st_mode & 0o777 == 0o600  # it holds secrets
    host.images |= {build_tag, release}
    run("docker", "image", "rm", build_tag, release)
    assert run("docker", "image", "inspect", release, check=False).returncode != 0
    return bundle


def get(host: Host, root: Path, path: str):
    return request(
        "GET", host.url(path), ca_file=root / "project/settings/staging/ssl/server.crt", server_name=DOMAIN
    )


def app_container(host: Host) -> str:
    """The ID of the app container the host runs."""
    return run("docker", "inspect", "--format", "{{.Id}}", f"{host.project}-app-1").stdout.strip()


def refusal(host: Host, script: Path, *args: str) -> str:
    """The one line a bundle's `script` refuses with (exit 1)."""
    result = run(str(script), *args, env=host.env, check=False)
    assert result.returncode == 1 and result.stdout == "", result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.rstrip("\n")


def refuse_unsigned_and_altered(host: Host, bundle: Path) -> None:
    """deploy.sh refuses the bundle without its signature, then with a byte of its image changed,
    each in one line, and its image is not loaded."""
    unsigned = host.unpack(bundle)
    (unsigned / "SHA256SUMS.sig").unlink()
    assert refusal(host, unsigned / "deploy.sh") == (
        f"deploy.sh: {unsigned} is not signed (no SHA256SUMS.sig): refused; "
        "shipenv signs with DOCKERABLE_SIGNING_KEY"
    )
    altered = host.unpack(bundle)
    flip_byte(altered / "image.tar", (altered / "image.tar").stat().st_size // 2)
    assert refusal(host, altered / "deploy.sh") == (
        f"deploy.sh: {altered}/image.tar differs from what was signed: refused "
        "(the bundle was altered or damaged)"
    )
    image = bundle_release(altered)["DOCKERABLE_IMAGE"]
    assert run("docker", "image", "inspect", image, check=False).returncode != 0


def bundle_release(folder: Path) -> dict[str, str]:
    """The unpacked bundle's bundle.env: ENV_NAME, DOCKERABLE_IMAGE, DOCKERABLE_RELEASE..."""
    return dict(line.split("=", 1) for line in (folder / "bundle.env").read_text().splitlines())


def releases(host: Host, folder: Path) -> list[tuple[str, bool]]:
    """releases.sh's list: (release, whether it runs), oldest deploy first."""
    lines = run(str(folder / "releases.sh"), env=host.env).stdout.splitlines()
    return [(line[1:].split()[1], line.startswith("*")) for line in lines[1:]]


def roll_back_and_forth(host: Host, first: Path, second: Path) -> None:
    """From release two (running, in folder `second`) back to release one (`first`) and forth by
    name, each serving the data; one image kept prunes the other's, which its folder brings back."""
    one, two = bundle_release(first), bundle_release(second)
    assert releases(host, second) == [(one["DOCKERABLE_RELEASE"], False), (two["DOCKERABLE_RELEASE"], True)]
    back = run(str(second / "rollback.sh"), env=host.env, timeout=600)
    assert f"rollback.sh: back to {first.name}" in back.stdout
    page = get(host, first, "/")
    assert "release-one" in page.text and "kept-across-upgrades" in page.text
    assert releases(host, second) == [(two["DOCKERABLE_RELEASE"], False), (one["DOCKERABLE_RELEASE"], True)]
    assert refusal(host, second / "rollback.sh", one["DOCKERABLE_RELEASE"]) == (
        f"rollback.sh: {one['DOCKERABLE_RELEASE']} is the release running already"
    )
    assert refusal(host, second / "rollback.sh", "staging-1") == (
        f"rollback.sh: no release staging-1 of {host.project} is recorded: releases.sh lists those there are"
    )
    # One release kept: going forward prunes release one's image, which its folder still brings back.
    keep_one = {**host.env, "DOCKERABLE_KEEP_RELEASES": "1"}
    run(str(first / "rollback.sh"), two["DOCKERABLE_RELEASE"], env=keep_one, timeout=600)
    assert "release-two" in get(host, second, "/").text
    assert run("docker", "image", "inspect", one["DOCKERABLE_IMAGE"], check=False).returncode != 0
    run(str(second / "rollback.sh"), env=host.env, timeout=600)
    assert "release-one" in get(host, first, "/").text


def test_bundle_deploys_without_a_checkout_and_upgrades_keep_the_data(workspace):
    root, host = workspace
    made = envtool("newenv", "staging", "--domain", DOMAIN, cwd=root, DOCKERABLE_IMAGE="unused")
    assert made.returncode == 0, made.stderr

    first = host.deploy(ship(root, host, "release-one"))
    assert not (first / "manage.py").exists() and not (first / "project" / "fixturebook").exists()
    health = get(host, first, "/healthz")
    assert health.status == 200 and b'"ok"' in health.body
    assert "release-one" in get(host, first, "/").text
    sign_fixturebook(
        host.url(""), first / "project/settings/staging/ssl/server.crt", DOMAIN, "kept-across-upgrades"
    )

    # The same bundle deployed twice at once on the host: the second is refused while the first runs.
    command = [str(first / "deploy.sh")]
    with subprocess.Popen(
        command, env=host.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as one:
        # deploy.sh loads the image once it holds the lock.
        for line in one.stdout:
            if line.startswith("Loaded image"):
                break
        other = run(*command, env=host.env, check=False)
        rest = one.stdout.read()
    assert one.returncode == 0, rest
    assert other.returncode == 1
    assert other.stderr == (
        f"deploy.sh: another deploy of staging ({host.project}) runs on this host: wait for it to end\n"
    )

    # Release two, unsigned or with one byte of its image changed: refused before anything changes
    # on the host (its image not loaded, release one's containers serving on).
    bundle = ship(root, host, "release-two")
    serving = app_container(host)
    refuse_unsigned_and_altered(host, bundle)
    assert app_container(host) == serving and "release-one" in get(host, first, "/").text

    second = host.deploy(bundle)
    page = get(host, second, "/")
    assert "release-two" in page.text  # the new image serves...
    assert "kept-across-upgrades" in page.text  # ...the old data

    roll_back_and_forth(host, first, second)


def test_shipenv_refuses_an_environment_with_errors(workspace):
    root, _ = workspace
    result = envtool("shipenv", "example", cwd=root, DOCKERABLE_IMAGE="unused")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "checkenv example reports" in lines[0], result.stderr
    assert not (root / "dist").exists()
