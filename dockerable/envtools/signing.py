"""Sign a bundle: a SHA256SUMS of every file in it, signed with the team's SSH key (ssh-keygen -Y sign)."""

import hashlib
import os
import pwd
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

KEY_VARIABLE = "DOCKERABLE_SIGNING_KEY"
MANIFEST = "SHA256SUMS"
SIGNATURE = f"{MANIFEST}.sig"
# What the signature is for: a key's signature for another purpose (a git commit) is not a bundle's.
NAMESPACE = "dockerable-bundle"


def signing_key() -> Path:
    """The private key DOCKERABLE_SIGNING_KEY names; one line when it is unset or missing."""
    value = os.environ.get(KEY_VARIABLE, "")
    if not value:
        raise CommandError(
            f"{KEY_VARIABLE} is not set: shipenv signs every bundle with the team's SSH key, and "
            "deploy.sh refuses unsigned ones (docs/environments.md, Signed bundles)"
        )
    key = Path(value)
    if not key.is_file():
        raise CommandError(f"{KEY_VARIABLE}={value}: no such file")
    return key


def manifest(archive: Path, root: str) -> str:
    """sha256sum's lines for each file under `root` in the tar, sorted by path; anything but files
    and folders (a link) is refused, as deploy.sh would refuse it unlisted."""
    lines = {}
    with tarfile.open(archive) as bundle:
        for member in bundle:
            if member.isdir():
                continue
            if not member.isfile():
                raise CommandError(
                    f"{member.name}: not a regular file, and a bundle carries files and folders only"
                )
            name = member.name.removeprefix(f"{root}/")
            if not name.isprintable() or "\\" in name:
                raise CommandError(
                    f"{member.name!r}: a bundle's file names must be printable, without backslashes"
                )
            lines[name] = hashlib.file_digest(bundle.extractfile(member), "sha256").hexdigest()
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(lines.items()))


def known_user(work: Path) -> dict[str, str]:
    """What ssh-keygen needs to run as a user the passwd database lacks (dockerable/run's `--user`
    in the tools image): nss_wrapper with a passwd of that one user. Empty when the user is known."""
    try:
        pwd.getpwuid(os.getuid())
        return {}
    except KeyError:
        passwd = work / "passwd"
        home = os.environ.get("HOME", "/")
        passwd.write_text(f"dockerable:x:{os.getuid()}:{os.getgid()}::{home}:/bin/false\n")
        return {
            "LD_PRELOAD": "libnss_wrapper.so",
            "NSS_WRAPPER_PASSWD": str(passwd),
            "NSS_WRAPPER_GROUP": "/etc/group",
        }


def signature(text: str, key: Path) -> str:
    """ssh-keygen's signature of `text` with `key` in NAMESPACE (a key's passphrase is asked on the
    terminal)."""
    with tempfile.TemporaryDirectory(prefix="shipenv-sign-") as work:
        signed = Path(work) / MANIFEST
        signed.write_text(text)
        try:
            result = subprocess.run(
                ["ssh-keygen", "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE, str(signed)],
                env={**os.environ, **known_user(Path(work))},
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            missing = "ssh-keygen (OpenSSH) is not installed: shipenv signs bundles with it"
            raise CommandError(missing) from None
        made = signed.with_name(SIGNATURE)
        if result.returncode != 0 or not made.is_file():
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise CommandError(f"ssh-keygen could not sign with {key}: {last}")
        return made.read_text()


def seal(archive: Path, root: str, key: Path, add) -> None:
    """Append `root`/SHA256SUMS of the tar's files and its signature to the tar; `add(tar, name,
    text)` writes a member."""
    listed = manifest(archive, root)
    signed = signature(listed, key)
    with tarfile.open(archive, "a") as bundle:
        add(bundle, f"{root}/{MANIFEST}", listed)
        add(bundle, f"{root}/{SIGNATURE}", signed)
