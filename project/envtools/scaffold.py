"""Create a complete environment folder from an existing one, with fresh secrets and key."""

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import CommandError

from project.envtools import certificates
from project.envtools.layout import env_dir, existing_env, settings_dir, validate_new_name
from project.envtools.secret_values import fresh_value, is_secret

TEXT_FILES = ("settings.py", "docker-compose.yml", "docker-compose-dev.yml")
# Copied when the source has it (environments made before proxy mode may not).
OPTIONAL_TEXT_FILES = ("docker-compose-proxy.yml",)
DOMAIN_LINE = re.compile(r'^DOMAIN = "([^"]+)"$', re.MULTILINE)
# The sample labels itself; a copy must not claim to be a public sample.
SAMPLE_NOTE = re.compile(r" ?\(SAMPLE[^)]*\)")
PRIVATE_MODE = 0o600


@dataclass
class NewEnvironment:
    """What newenv made."""

    name: str
    domain: str
    folder: Path
    files: list[Path]


def source_domain(settings_text: str, source: Path) -> str:
    """The DOMAIN the source environment's settings.py declares."""
    match = DOMAIN_LINE.search(settings_text)
    if not match:
        raise CommandError(f"{source / 'settings.py'}: no line DOMAIN = \"...\" to adapt")
    return match.group(1)


def adapt(text: str, old: str, new: str, old_domain: str, new_domain: str) -> str:
    """Rewrite every reference to the source environment for the new one."""
    text = text.replace(old_domain, new_domain)
    for pattern, replacement in (
        (f"project.settings.{old}.", f"project.settings.{new}."),
        (f"/settings/{old}", f"/settings/{new}"),
        (f"dockerable-{old}", f"dockerable-{new}"),
        (f"`{old}`", f"`{new}`"),
        (f'ENVIRONMENT_NAME = "{old}"', f'ENVIRONMENT_NAME = "{new}"'),
    ):
        text = text.replace(pattern, replacement)
    return SAMPLE_NOTE.sub("", text)


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def fresh_secrets(source: Path, name: str) -> bytes:
    """The source's secrets.json with every secret replaced by a new random value."""
    path = source / "secrets.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot read the source secrets: {exc}") from None
    result = {"_comment": f"Secrets of the {name} environment, made by newenv. Keep this file "
                          "mode 0600 and out of git (.gitignore does that)."}
    for key, value in data.items():
        if key.startswith("_"):
            continue
        result[key] = fresh_value(key) if is_secret(key) else value
    return (json.dumps(result, indent=4) + "\n").encode()


def populate(work: Path, source: Path, name: str, domain: str) -> None:
    """Write every file of the new environment into `work`."""
    settings_text = (source / "settings.py").read_text(encoding="utf-8")
    old_domain = source_domain(settings_text, source)
    present = [file_name for file_name in OPTIONAL_TEXT_FILES if (source / file_name).is_file()]
    for file_name in (*TEXT_FILES, *present):
        text = (source / file_name).read_text(encoding="utf-8")
        (work / file_name).write_text(adapt(text, source.name, name, old_domain, domain), encoding="utf-8")
    (work / "__init__.py").write_text(f'"""The `{name}` environment (made by manage.py newenv)."""\n')
    write_private(work / "secrets.json", fresh_secrets(source, name))
    # The folder and certificate are public; only the key inside is private.
    (work / "ssl").mkdir(mode=0o755)
    key_pem, cert_pem = certificates.self_signed(domain)
    write_private(work / "ssl" / "server.key", key_pem)
    (work / "ssl" / "server.crt").write_bytes(cert_pem)


def create_environment(name: str, domain: str | None, source_name: str) -> NewEnvironment:
    """Make project/settings/NAME completely, or not at all."""
    validate_new_name(name)
    target = env_dir(name)
    if target.exists():
        raise CommandError(f"{target} already exists; choose another name (newenv never overwrites)")
    source = existing_env(source_name)
    domain = domain or f"{name}.localhost"
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=settings_dir()))
    except OSError as exc:
        raise CommandError(f"{settings_dir()}: cannot create the environment there: {exc.strerror}") from None
    try:
        work.chmod(0o755)
        populate(work, source, name, domain)
        # The rename is the only step that makes the folder visible: all or nothing.
        work.rename(target)
    except OSError as exc:
        raise CommandError(f"{target}: could not create the environment: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = sorted(path for path in target.rglob("*") if path.is_file())
    return NewEnvironment(name=name, domain=domain, folder=target, files=files)
