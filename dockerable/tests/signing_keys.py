"""SSH keys for signing bundles in tests, made with ssh-keygen, allowed signers files naming them, and
a byte changed in a signed file."""

import subprocess
from pathlib import Path


def make_key(folder: Path, name: str = "signer") -> Path:
    """A new ed25519 key without passphrase at folder/name (folder/name.pub beside it)."""
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@tests", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


def allowed_signers(path: Path, key: Path, principals: str = "*") -> Path:
    """Write an allowed signers file at `path` letting `key` sign bundles for `principals`
    (environment names, comma-separated; * for any), in the namespace bundles are signed in."""
    algorithm, public = key.with_name(f"{key.name}.pub").read_text().split()[:2]
    path.write_text(f'{principals} namespaces="dockerable-bundle" {algorithm} {public}\n')
    return path


def flip_byte(path: Path, offset: int) -> None:
    """Change the byte at `offset` of `path` in place (one bit), as a damaged or altered copy would."""
    with path.open("r+b") as raw:
        raw.seek(offset)
        byte = raw.read(1)
        raw.seek(offset)
        raw.write(bytes([byte[0] ^ 1]))
