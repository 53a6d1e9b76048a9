"""Make a deployable bundle: the image (docker save) and an environment folder in one tar."""

import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from dockerable.envtools.layout import existing_env, image_locks
from dockerable.envtools.signing import seal

BUILD_FILE = Path("dockerable") / "docker-compose-build-only.yml"
# The file the app's services extend, and the loader of secrets.json, which the postgres and backup
# services mount.
SHARED_FILES = (BUILD_FILE, Path("dockerable") / "runtime" / "environment.py")
# What a host runs, at the bundle's top: the deploy, restores, PostgreSQL upgrades, releases and
# rollback (and the history they share), maintenance mode.
HOST_SCRIPTS = tuple(
    Path("dockerable") / name
    for name in (
        "deploy.sh",
        "restore.sh",
        "pg-upgrade.sh",
        "releases.sh",
        "rollback.sh",
        "release-history.sh",
        "maintenance.sh",
    )
)
SBOM = "sbom.cdx.json"
# What the environment's thin compose files extend, and what those services mount.
SHARED_DIRS = (
    Path("dockerable") / "compose",
    Path("dockerable") / "metrics",
    Path("dockerable") / "proxy",
    Path("dockerable") / "swarm",
)
# Never carried to a host: caches, and the env file whose image line we rewrite.
SKIPPED = {"__pycache__", ".env"}


@dataclass
class Bundle:
    """What shipenv made."""

    path: Path
    image: str
    root: str


def docker(*args: str) -> str:
    """Run a docker command; a failure becomes one CommandError line."""
    try:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise CommandError("docker is not installed (shipenv builds and saves the image with it)") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CommandError(f"docker {args[0]} failed: {last}")
    return result.stdout


def repository(image: str) -> str:
    """`image` without its tag (a registry's port is not one)."""
    name, _, tag = image.rpartition(":")
    return name if name and "/" not in tag else image


def release_tag(name: str, image: str) -> str:
    """A tag of `image`'s repository unique to this bundle, so a host can tell (and roll back
    between) releases."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"{repository(image)}:{name}-{stamp}"


def build_images(folder: Path, *services: str) -> dict[str, str]:
    """Build `services` of the environment's production stack from this checkout (cached layers
    make it quick), as `up --build` would, named as its compose file names them (after its compose
    project, or DOCKERABLE_IMAGE and DOCKERABLE_BACKUP_IMAGE); {service: image} of those it has."""
    compose_file = str(folder / "docker-compose.yml")
    config = json.loads(docker("compose", "-f", compose_file, "config", "--format", "json"))["services"]
    present = [service for service in services if service in config]
    docker("compose", "-f", compose_file, "build", *present)
    return {service: config[service]["image"] for service in present}


def release_variables(tag: str, images: dict[str, str]) -> dict[str, str]:
    """What names this release's images on a host: the app's tag and the database's images' repository,
    as they were built here (a host's compose project resolves them the same way, or not); and the
    release's name, the tag alone, which error reports carry."""
    named = {"DOCKERABLE_IMAGE": tag, "DOCKERABLE_RELEASE": tag.rsplit(":", 1)[1]}
    if "backup" in images:
        named["DOCKERABLE_BACKUP_IMAGE"] = repository(images["backup"])
    return named


def env_file_lines(folder: Path, variables: dict[str, str]) -> str:
    """The environment's .env (ports and the like), with `variables` (release_variables) set."""
    existing = folder / ".env"
    lines = existing.read_text().splitlines() if existing.is_file() else []
    kept = [line for line in lines if line.partition("=")[0] not in variables]
    return "\n".join([*kept, *(f"{name}={value}" for name, value in variables.items())]) + "\n"


def without_skipped(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """tarfile filter: leave out caches and the .env that the bundle writes anew."""
    return None if Path(info.name).name in SKIPPED else info


def add_text(archive: tarfile.TarFile, name: str, text: str, mode: int = 0o644) -> None:
    """Add a generated file to the archive."""
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    info.mtime = int(datetime.datetime.now().timestamp())
    archive.addfile(info, fileobj=io.BytesIO(data))


# {path in the archive: (text, mode)}: the files a bundle gets written for it.
Texts = dict[str, tuple[str, int]]


def write_bundle(partial: Path, root: str, folder: Path, image_tar: Path, texts: Texts) -> None:
    """Pack the saved images, the scripts, the shared topology, the environment's `folder` and
    `texts` under `root` into `partial`, owner-only from its first byte (it holds secrets)."""
    base = Path(settings.BASE_DIR)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as archive:
        archive.add(image_tar, f"{root}/image.tar")
        for script in HOST_SCRIPTS:
            archive.add(base / script, f"{root}/{script.name}")
        for shared in SHARED_FILES:
            archive.add(base / shared, f"{root}/{shared}")
        for shared in SHARED_DIRS:
            archive.add(base / shared, f"{root}/{shared}", filter=without_skipped)
        archive.add(folder, f"{root}/project/settings/{folder.name}", filter=without_skipped)
        for arcname, (text, mode) in texts.items():
            add_text(archive, arcname, text, mode)


def software_bill(work: Path) -> str:
    """The CycloneDX JSON SBOM of the Python packages the image installs, from its locks (cyclonedx-py)."""
    locks = work / "locks.txt"
    locks.write_text("".join(lock.read_text() for lock in image_locks()))
    target = work / SBOM
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cyclonedx_py",
            "requirements",
            str(locks),
            "--output-format",
            "JSON",
            "--output-file",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not target.is_file():
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise CommandError(f"cyclonedx-py could not make the SBOM: {last}")
    return target.read_text()


def make_bundle(name: str, output_dir: Path, key: Path) -> Bundle:
    """Build, tag and save the images, and pack them with the environment folder, signed with `key`."""
    folder = existing_env(name)
    images = build_images(folder, "app", "backup", "postgres")
    tag = release_tag(name, images["app"])
    docker("tag", images["app"], tag)
    release = release_variables(tag, images)
    # A folder of its own for each release: a newer bundle never unpacks over an older one's files.
    root = f"dockerable-{release['DOCKERABLE_RELEASE']}"
    bundle_env = "".join(f"{variable}={value}\n" for variable, value in {"ENV_NAME": name, **release}.items())
    texts = {
        f"{root}/project/settings/{name}/.env": (env_file_lines(folder, release), 0o600),
        f"{root}/bundle.env": (bundle_env, 0o644),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{release['DOCKERABLE_RELEASE']}.bundle.tar"
    with tempfile.TemporaryDirectory(prefix="shipenv-") as work:
        texts[f"{root}/{SBOM}"] = (software_bill(Path(work)), 0o644)
        image_tar = Path(work) / "image.tar"
        # The database's images: the backup's, and the server's Compose runs (Swarm's is stock).
        database = [images[service] for service in ("backup", "postgres") if service in images]
        docker("save", "--output", str(image_tar), tag, *database)
        # Only a complete, signed bundle gets the final name; a failure leaves none.
        partial = target.with_suffix(".partial")
        try:
            write_bundle(partial, root, folder, image_tar, texts)
            seal(partial, root, key, add_text)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        shutil.move(partial, target)
    return Bundle(path=target, image=tag, root=root)
