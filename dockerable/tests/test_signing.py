"""A bundle's deploy.sh before it changes anything: its signature and files checked before any of
them is read or run, the release history writable, each refusal one line; shipenv's signing. No
engine: the bundles here stop at `docker`."""

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from dockerable.envtools.bundle import add_text
from dockerable.envtools.signing import manifest, seal
from dockerable.tests.docker_stack import REPO
from dockerable.tests.manage_cli import envtool
from dockerable.tests.signing_keys import allowed_signers, flip_byte, make_key

ROOT = "dockerable-staging-20261204000000"
SCRIPTS = ("deploy.sh", "release-history.sh")
# What deploy.sh needs before it reaches Docker; `docker` itself left out, so that a bundle that
# passes the checks stops at "docker is not installed" with nothing loaded.
HOST_PROGRAMS = ("bash", "dirname", "find", "sha256sum", "ssh-keygen", "flock", "mkdir", "touch")


def pack(target: Path, key: Path, files: dict[str, bytes]) -> Path:
    """A bundle tar of `files` (paths under ROOT) with the template's deploy.sh (and what it
    sources), sealed with `key`."""
    with tarfile.open(target, "w") as archive:
        for script in SCRIPTS:
            archive.add(REPO / "dockerable" / script, f"{ROOT}/{script}")
        for name, data in files.items():
            info = tarfile.TarInfo(f"{ROOT}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    seal(target, ROOT, key, add_text)
    return target


BUNDLE_FILES = {
    "bundle.env": b"ENV_NAME=staging\nDOCKERABLE_IMAGE=dockerable-staging-app:staging-20261204000000\n",
    "image.tar": bytes(range(256)) * 64,
    "project/settings/staging/docker-compose.yml": b"name: dockerable-staging\n",
    "project/settings/staging/.env": b"DOCKERABLE_IMAGE=dockerable-staging-app:staging-20261204000000\n",
}


@pytest.fixture(name="host")
def fixture_host(tmp_path, bundle_signing):
    """A host's PATH with HOST_PROGRAMS only, its allowed signers (the session's key, any
    environment), lock and release history folders: (environment, unpack(bundle) -> folder)."""
    _, signers = bundle_signing
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in HOST_PROGRAMS:
        (bin_dir / name).symlink_to(shutil.which(name))
    env = {
        "PATH": str(bin_dir),
        "TMPDIR": str(tmp_path),
        "DOCKERABLE_ALLOWED_SIGNERS": str(signers),
        "DOCKERABLE_STATE_DIR": str(tmp_path / "state"),
    }

    def unpack(bundle: Path) -> Path:
        place = tmp_path / f"host-{bundle.stem}"
        with tarfile.open(bundle) as archive:
            archive.extractall(place, filter="tar")
        return place / ROOT

    return env, unpack


@pytest.fixture(name="bundle")
def fixture_bundle(tmp_path, bundle_signing):
    """A bundle signed with the session's key."""
    key, _ = bundle_signing
    return pack(tmp_path / "staging.bundle.tar", key, BUNDLE_FILES)


def deploy(folder: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(folder / "deploy.sh")], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def refused(folder: Path, env: dict) -> str:
    """deploy.sh's one line, which must be a refusal with exit 1 and nothing on stdout."""
    result = deploy(folder, env)
    assert result.returncode == 1 and result.stdout == "", result
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.rstrip("\n")


def bad_signature(signers) -> str:
    """How deploy.sh's refusal of a staging bundle's signature begins (ssh-keygen's reason follows)."""
    return f"deploy.sh: the bundle's signature is not one {signers} allows for staging: refused ("


def test_a_signed_bundle_passes_the_checks(bundle, host):
    env, unpack = host
    folder = unpack(bundle)
    # Past the signature, the files and bundle.env, it stops where it would load the image.
    assert refused(folder, env) == "deploy.sh: docker is not installed on this host"


def test_an_unsigned_bundle_is_refused(bundle, host):
    env, unpack = host
    folder = unpack(bundle)
    (folder / "SHA256SUMS.sig").unlink()
    assert refused(folder, env) == (
        f"deploy.sh: {folder} is not signed (no SHA256SUMS.sig): refused; "
        "shipenv signs with DOCKERABLE_SIGNING_KEY"
    )


def test_a_bundle_with_one_byte_changed_is_refused(bundle, host):
    env, unpack = host
    # In the tar itself, as a copy damaged or altered on its way would be: a byte of the image.
    with tarfile.open(bundle) as archive:
        member = archive.getmember(f"{ROOT}/image.tar")
    flip_byte(bundle, member.offset_data + member.size // 2)
    folder = unpack(bundle)
    assert refused(folder, env) == (
        f"deploy.sh: {folder}/image.tar differs from what was signed: refused "
        "(the bundle was altered or damaged)"
    )


def test_a_missing_or_an_added_file_is_refused(bundle, host):
    env, unpack = host
    folder = unpack(bundle)
    compose = folder / "project/settings/staging/docker-compose.yml"
    kept = compose.read_bytes()
    compose.unlink()
    assert refused(folder, env) == (
        f"deploy.sh: {compose} differs from what was signed: refused (the bundle was altered or damaged)"
    )
    compose.write_bytes(kept)
    added = folder / "project/settings/staging/docker-compose.override.yml"
    added.write_text("services: {}\n")
    assert refused(folder, env) == (
        f"deploy.sh: {added} is not in the signed bundle: refused "
        "(unpack each bundle into a folder of its own)"
    )


def test_a_list_changed_after_signing_is_refused(bundle, host):
    env, unpack = host
    folder = unpack(bundle)
    # The image replaced and the list made to match it: the signature no longer does.
    (folder / "image.tar").write_bytes(b"another image")
    listed = (folder / "SHA256SUMS").read_text().splitlines()
    digest = subprocess.run(
        ["sha256sum", "image.tar"], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    (folder / "SHA256SUMS").write_text(
        "".join(f"{digest}  image.tar\n" if line.endswith("  image.tar") else f"{line}\n" for line in listed)
    )
    signers = env["DOCKERABLE_ALLOWED_SIGNERS"]
    line = refused(folder, env)
    assert line.startswith(bad_signature(signers)), line


def test_a_key_the_host_does_not_allow_for_the_environment_is_refused(bundle, host, tmp_path, bundle_signing):
    env, unpack = host
    signers = env["DOCKERABLE_ALLOWED_SIGNERS"]
    stranger = make_key(tmp_path, "stranger")
    other = unpack(pack(tmp_path / "stranger.bundle.tar", stranger, BUNDLE_FILES))
    assert refused(other, env).startswith(bad_signature(signers))
    # The team's key, allowed for production only.
    key, _ = bundle_signing
    production_only = allowed_signers(tmp_path / "production_signers", key, "production")
    folder = unpack(bundle)
    line = refused(folder, {**env, "DOCKERABLE_ALLOWED_SIGNERS": str(production_only)})
    assert line.startswith(bad_signature(production_only)), line
    # ...and for staging too: it deploys.
    both = allowed_signers(tmp_path / "both_signers", key, "production,staging")
    line = refused(folder, {**env, "DOCKERABLE_ALLOWED_SIGNERS": str(both)})
    assert line == "deploy.sh: docker is not installed on this host"


def test_no_allowed_signers_file_is_refused(bundle, host, tmp_path):
    env, unpack = host
    folder = unpack(bundle)
    missing = tmp_path / "none"
    assert refused(folder, {**env, "DOCKERABLE_ALLOWED_SIGNERS": str(missing)}) == (
        f"deploy.sh: {missing}: no allowed signers file to check the bundle against "
        "(docs/environments.md, Signed bundles; DOCKERABLE_ALLOWED_SIGNERS names another)"
    )


def test_bundle_env_must_name_the_signed_environment(host, tmp_path, bundle_signing):
    env, unpack = host
    key, _ = bundle_signing
    # Signed, but for another environment than its folder: a key allowed for staging only must not
    # deploy production through it.
    bundle_env = BUNDLE_FILES["bundle.env"].replace(b"staging\n", b"production\n", 1)
    folder = unpack(pack(tmp_path / "mixed.bundle.tar", key, {**BUNDLE_FILES, "bundle.env": bundle_env}))
    line = refused(folder, env)
    assert line == f"deploy.sh: {folder}/bundle.env names production, its folder staging: refused"


def test_the_manifest_lists_every_file_and_refuses_links(tmp_path, bundle_signing):
    key, _ = bundle_signing
    bundle = pack(tmp_path / "listed.bundle.tar", key, BUNDLE_FILES)
    names = [line.split("  ", 1)[1] for line in manifest(bundle, ROOT).splitlines()]
    assert names == sorted([*SCRIPTS, "SHA256SUMS", "SHA256SUMS.sig", *BUNDLE_FILES])
    linked = tmp_path / "linked.tar"
    with tarfile.open(linked, "w") as archive:
        info = tarfile.TarInfo(f"{ROOT}/secrets.json")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        archive.addfile(info)
    with pytest.raises(CommandError, match="secrets.json: not a regular file"):
        manifest(linked, ROOT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "CommandError: DOCKERABLE_SIGNING_KEY is not set: shipenv signs every bundle with"),
        ("/nonexistent/key", "CommandError: DOCKERABLE_SIGNING_KEY=/nonexistent/key: no such file"),
    ],
)
def test_shipenv_refuses_without_a_signing_key_before_anything_else(tmp_path, value, expected):
    # The sample environment fails checkenv: the key is checked first, before any build.
    result = envtool("shipenv", "example", "--output", str(tmp_path / "dist"), DOCKERABLE_SIGNING_KEY=value)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(expected), line
    assert not (tmp_path / "dist").exists()


def test_a_history_it_cannot_write_or_a_bad_count_to_keep_is_refused_before_anything(bundle, host, tmp_path):
    env, unpack = host
    folder = unpack(bundle)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the history's folder would be\n")
    assert refused(folder, {**env, "DOCKERABLE_STATE_DIR": str(blocked)}) == (
        f"deploy.sh: {blocked}/dockerable-staging/releases.tsv: cannot write the release history; make "
        f"{blocked} writable by whoever deploys (docs/operations.md, Releases and rollback), or name "
        "another folder with DOCKERABLE_STATE_DIR"
    )
    assert refused(folder, {**env, "DOCKERABLE_KEEP_RELEASES": "0"}) == (
        "deploy.sh: DOCKERABLE_KEEP_RELEASES=0: must be a whole number, 1 or more"
    )
