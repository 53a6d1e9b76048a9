"""Write environment folders: settings from an existing one, thin compose files, fresh secrets and key."""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import CommandError

from dockerable.envtools import certificates, compose
from dockerable.envtools.layout import (
    BACKUP_RECIPIENTS,
    COMPOSE_FILES,
    DATABASE_FILE,
    DOMAIN_NAME,
    STACK_FILE,
    declared_domain,
    domain_literal,
    env_dir,
    existing_env,
    settings_dir,
    validate_new_name,
)
from dockerable.envtools.secret_values import fresh_value, is_secret
from dockerable.runtime import environment

PRIVATE_MODE = 0o600


@dataclass
class NewEnvironment:
    """What newenv made."""

    name: str
    domain: str
    folder: Path
    files: list[Path]
    # Keys of the source's secrets.json not copied (its object storage).
    left_out: list[str]


def source_domain(source: Path) -> str:
    """The public host the environment declares (secrets.json's DOMAIN)."""
    try:
        domain = declared_domain(source)
    except environment.SecretsError as exc:
        raise CommandError(str(exc)) from None
    if domain is None:
        raise CommandError(f'{source / "secrets.json"}: no "{DOMAIN_NAME}" key naming the host it serves')
    return domain


def source_settings(source: Path) -> str:
    """The source's settings.py, copied as it is: the host it serves is in secrets.json, not in it."""
    path = source / "settings.py"
    text = path.read_text(encoding="utf-8")
    try:
        literal = domain_literal(text)
    except SyntaxError as exc:
        raise CommandError(f"{path}: not valid Python (line {exc.lineno}): fix it or copy another") from None
    if literal is not None:
        raise CommandError(
            f"{path}: assigns {DOMAIN_NAME} a string; a copy would serve that host: make it read "
            f'{DOMAIN_NAME} = SECRETS["{DOMAIN_NAME}"] (docs/environments.md), or copy another (--from)'
        )
    return text


def write_compose_files(folder: Path, name: str, domain: str) -> None:
    """The environment's thin compose files, rendered from the templates."""
    for file_name, text in compose.render(name, domain).items():
        (folder / file_name).write_text(text, encoding="utf-8")
    (folder / BACKUP_RECIPIENTS).write_text(compose.recipients_text(), encoding="utf-8")


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def fresh_secrets(source: Path, name: str, domain: str) -> tuple[bytes, list[str]]:
    """The source's secrets.json with every secret replaced by a new random value, and `domain`;
    and the keys left out: the source's object storage, whose keys newenv cannot make and whose
    bucket the new environment must not share (it keeps uploads in its volume until given its own)."""
    try:
        data = environment.read(source / "secrets.json", schema=False).values
    except environment.SecretsError as exc:
        raise CommandError(str(exc)) from None
    result = {
        "_comment": f"Secrets and host name of the {name} environment, made by newenv. Keep this file "
        "mode 0600 and out of git (.gitignore does that)."
    }
    left_out = [key for key in data if key in environment.S3_KEYS]
    for key, value in data.items():
        # A new environment has no earlier SECRET_KEY or database password to accept.
        if key.startswith("_") or key in left_out or key in environment.FALLBACK_LISTS:
            continue
        result[key] = fresh_value(key) if is_secret(key) else value
    result[DOMAIN_NAME] = domain
    return (json.dumps(result, indent=4) + "\n").encode(), left_out


def populate(work: Path, source: Path, name: str, domain: str) -> list[str]:
    """Write every file of the new environment into `work`; the secrets' keys left out."""
    (work / "settings.py").write_text(source_settings(source), encoding="utf-8")
    write_compose_files(work, name, domain)
    (work / "__init__.py").write_text(f'"""The `{name}` environment (made by dockerable/run newenv)."""\n')
    secrets_json, left_out = fresh_secrets(source, name, domain)
    write_private(work / "secrets.json", secrets_json)
    # The folder and certificate are public; only the key inside is private.
    (work / "ssl").mkdir(mode=0o755)
    key_pem, cert_pem = certificates.self_signed(domain)
    write_private(work / "ssl" / "server.key", key_pem)
    (work / "ssl" / "server.crt").write_bytes(cert_pem)
    return left_out


def create_environment(name: str, domain: str | None, source_name: str) -> NewEnvironment:
    """Make project/settings/NAME completely, or not at all."""
    validate_new_name(name)
    target = env_dir(name)
    if target.exists():
        raise CommandError(f"{target} already exists; choose another name (newenv never overwrites)")
    source = existing_env(source_name)
    # Django refuses a Host with an underscore: my_env serves my-env.localhost.
    domain = domain or f"{name.replace('_', '-')}.localhost"
    if not environment.HOST_NAME.fullmatch(domain):
        raise CommandError(
            f"--domain {domain!r}: not a host name such as www.example.com (no scheme, port or path)"
        )
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=settings_dir()))
    except OSError as exc:
        raise CommandError(f"{settings_dir()}: cannot create the environment there: {exc.strerror}") from None
    try:
        work.chmod(0o755)
        left_out = populate(work, source, name, domain)
        # The rename is the only step that makes the folder visible: all or nothing.
        work.rename(target)
    except OSError as exc:
        raise CommandError(f"{target}: could not create the environment: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    files = sorted(path for path in target.rglob("*") if path.is_file())
    return NewEnvironment(name=name, domain=domain, folder=target, files=files, left_out=left_out)


def upgrade_compose_files(name: str) -> list[Path]:
    """Replace the compose files of `name` that are missing or outdated (compose.outdated) by thin ones.

    Each replaced file is kept beside as FILE.old, so that nothing the user changed is lost.
    """
    folder = existing_env(name)
    stale = [file_name for file_name in COMPOSE_FILES if compose.outdated(folder / file_name)]
    kept = [folder / f"{file_name}.old" for file_name in stale if (folder / f"{file_name}.old").exists()]
    if kept:
        raise CommandError(f"{kept[0]} already exists: compare it with its thin file, remove it, rerun")
    # The major its files already run: upgradeenv never changes a database's major.
    texts = compose.render(name, source_domain(folder), compose.postgres_major(folder))
    written = []
    # Before the compose files that stop naming the major: an interrupted run must not lose it.
    database = folder / DATABASE_FILE
    if not database.exists():
        new = folder / f".{DATABASE_FILE}.new"
        new.write_text(texts[DATABASE_FILE], encoding="utf-8")
        new.rename(database)
        written.append(database)
    for file_name in stale:
        current = folder / file_name
        new = folder / f".{file_name}.new"
        new.write_text(texts[file_name], encoding="utf-8")
        if current.is_file():
            current.rename(folder / f"{file_name}.old")
        new.rename(current)
    written += [folder / file_name for file_name in stale]
    # Files that came after the environment: added, never replaced.
    recipients = folder / BACKUP_RECIPIENTS
    if not recipients.exists():
        recipients.write_text(compose.recipients_text(), encoding="utf-8")
        written.append(recipients)
    if not (folder / STACK_FILE).exists():
        (folder / STACK_FILE).write_text(texts[STACK_FILE], encoding="utf-8")
        written.append(folder / STACK_FILE)
    return written
