"""Where environments live and which names they may have."""

import ast
import keyword
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from dockerable.runtime import environment

SAMPLE_ENV = "example"
SETTINGS_DIR_NAME = Path("project") / "settings"
# One per mode: production (uWSGI HTTPS), development (runserver), proxy (nginx in front).
PROXY_COMPOSE_FILE = "docker-compose-proxy.yml"
DEV_COMPOSE_FILE = "docker-compose-dev.yml"
COMPOSE_FILES = ("docker-compose.yml", DEV_COMPOSE_FILE, PROXY_COMPOSE_FILE)
# Docker Swarm: what the environment adds to dockerable/swarm/stack.yml.
STACK_FILE = "docker-stack.yml"
# The PostgreSQL major of new environments, and every major the template runs; each environment's
# database.yml names its own (a copy of dockerable/compose/database-<major>.yml).
POSTGRES_MAJOR = 18
POSTGRES_MAJORS = (17, 18)
DATABASE_FILE = "database.yml"
# The file of age public keys that backups are encrypted to (none: backups are not encrypted).
BACKUP_RECIPIENTS = "backup-recipients.txt"
# The module-level name the settings give the environment's public host (secrets.json's DOMAIN).
DOMAIN_NAME = environment.DOMAIN_KEY
# Lowercase because the name is also part of the compose project name.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Modules of the settings package itself, and names that would confuse tools.
RESERVED_NAMES = frozenset({"base", "env_vars", "secrets_file", "settings", "test", "tests"})


def pgdata_volume(major: int) -> str:
    """The data volume of PostgreSQL `major`: 17 kept the name it had before majors were named."""
    return "pgdata" if major == 17 else f"pgdata-{major}"


def settings_dir() -> Path:
    """project/settings of the checkout this code runs from."""
    return Path(settings.BASE_DIR) / SETTINGS_DIR_NAME


def image_locks() -> tuple[Path, ...]:
    """What the image installs from PyPI, each package with its hashes (the Dockerfile's
    --require-hashes): requirements.txt and uWSGI's own lock, in the checkout this code runs from."""
    base = Path(settings.BASE_DIR)
    return (base / "requirements.txt", base / "dockerable" / "requirements-uwsgi.txt")


def env_dir(name: str) -> Path:
    """The folder of environment `name`."""
    return settings_dir() / name


def domain_literal(source: str) -> str | None:
    """The string settings.py assigns to a module-level DOMAIN, found by parsing it: where
    environments made before DOMAIN moved into secrets.json declare their host."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            names = [getattr(target, "id", None) for target in node.targets]
        elif isinstance(node, ast.AnnAssign):
            names = [getattr(node.target, "id", None)]
        else:
            continue
        value = node.value
        if names == [DOMAIN_NAME] and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def declared_domain(folder: Path) -> str | None:
    """The environment's public host: secrets.json's DOMAIN, read by the loader, or else (an older
    environment) the string its settings.py assigns to DOMAIN. SecretsError if secrets.json is bad."""
    secrets_file = folder / "secrets.json"
    if secrets_file.is_file():
        domain = environment.read(secrets_file, schema=False).domain
        if domain:
            return domain
    try:
        return domain_literal((folder / "settings.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def validate_new_name(name: str) -> None:
    """Refuse names that cannot be a Python package, a compose project, or are taken by the package."""
    if not NAME_PATTERN.match(name) or keyword.iskeyword(name):
        raise CommandError(
            f"'{name}' is not a valid environment name: use lowercase letters, digits and "
            "underscores, starting with a letter (it becomes a Python package and a compose project name)"
        )
    if name in RESERVED_NAMES:
        raise CommandError(
            f"'{name}' is reserved (it names a module of project/settings); choose another name"
        )


def existing_env(name: str) -> Path:
    """The folder of an existing environment, or a CommandError naming what is missing."""
    folder = env_dir(name)
    if not (folder / "settings.py").is_file():
        raise CommandError(f"{folder}: no environment here (expected settings.py)")
    return folder
