"""Make a deployable bundle: the image (docker save) and an environment folder in one tar."""

import datetime
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from dockerable.envtools.layout import existing_env

DEFAULT_IMAGE = "dockerable-django:latest"
BUILD_FILE = Path("dockerable") / "docker-compose-build-only.yml"
DEPLOY_SCRIPT = Path("dockerable") / "deploy.sh"
RESTORE_SCRIPT = Path("dockerable") / "restore.sh"
UPGRADE_SCRIPT = Path("dockerable") / "pg-upgrade.sh"
# What the environment's thin compose files extend, and what those services mount.
SHARED_DIRS = (Path("dockerable") / "compose", Path("dockerable") / "proxy", Path("dockerable") / "swarm")
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


def release_tag(name: str) -> str:
    """A tag unique to this bundle, so a host can tell (and roll back between) releases."""
    repository = os.environ.get("DOCKERABLE_IMAGE", DEFAULT_IMAGE).rsplit(":", 1)[0]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return f"{repository}:{name}-{stamp}"


def build_image(tag: str) -> None:
    """Build the image from this checkout (cached layers make it quick) and give it the release tag."""
    base = Path(settings.BASE_DIR)
    docker("compose", "-f", str(base / BUILD_FILE), "build")
    docker("tag", os.environ.get("DOCKERABLE_IMAGE", DEFAULT_IMAGE), tag)


def backup_image(folder: Path) -> list[str]:
    """The backup service's image for the environment's PostgreSQL major, built here ([] if it has none)."""
    compose_file = str(folder / "docker-compose.yml")
    services = json.loads(docker("compose", "-f", compose_file, "config", "--format", "json"))["services"]
    if "backup" not in services:
        return []
    docker("compose", "-f", compose_file, "build", "backup")
    return [services["backup"]["image"]]


def env_file_lines(folder: Path, tag: str) -> str:
    """The environment's .env (ports and the like), with DOCKERABLE_IMAGE set to this release."""
    existing = folder / ".env"
    lines = existing.read_text().splitlines() if existing.is_file() else []
    kept = [line for line in lines if not line.startswith("DOCKERABLE_IMAGE=")]
    return "\n".join([*kept, f"DOCKERABLE_IMAGE={tag}"]) + "\n"


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


def make_bundle(name: str, output_dir: Path) -> Bundle:
    """Build, tag and save the image, and pack it with the environment folder."""
    folder = existing_env(name)
    base = Path(settings.BASE_DIR)
    tag = release_tag(name)
    root = f"dockerable-{name}"
    build_image(tag)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{tag.rsplit(':', 1)[1]}.bundle.tar"
    with tempfile.TemporaryDirectory(prefix="shipenv-") as work:
        image_tar = Path(work) / "image.tar"
        docker("save", "--output", str(image_tar), tag, *backup_image(folder))
        partial = target.with_suffix(".partial")
        # The bundle holds secrets: owner-only from its first byte, removed if
        # packing fails, and only a complete bundle gets the final name.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as archive:
                archive.add(image_tar, f"{root}/image.tar")
                archive.add(base / DEPLOY_SCRIPT, f"{root}/deploy.sh")
                archive.add(base / RESTORE_SCRIPT, f"{root}/restore.sh")
                archive.add(base / UPGRADE_SCRIPT, f"{root}/pg-upgrade.sh")
                archive.add(base / BUILD_FILE, f"{root}/{BUILD_FILE}")
                for shared in SHARED_DIRS:
                    archive.add(base / shared, f"{root}/{shared}", filter=without_skipped)
                archive.add(folder, f"{root}/project/settings/{name}", filter=without_skipped)
                add_text(archive, f"{root}/project/settings/{name}/.env", env_file_lines(folder, tag), 0o600)
                add_text(archive, f"{root}/bundle.env", f"ENV_NAME={name}\nDOCKERABLE_IMAGE={tag}\n")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        shutil.move(partial, target)
    return Bundle(path=target, image=tag, root=root)
