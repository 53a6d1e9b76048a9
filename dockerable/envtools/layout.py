"""Where environments live and which names they may have."""

import keyword
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

SAMPLE_ENV = "example"
SETTINGS_DIR_NAME = Path("project") / "settings"
# One per mode: production (uWSGI HTTPS), development (runserver), proxy (nginx in front).
COMPOSE_FILES = ("docker-compose.yml", "docker-compose-dev.yml", "docker-compose-proxy.yml")
# Docker Swarm: what the environment adds to dockerable/swarm/stack.yml.
STACK_FILE = "docker-stack.yml"
# The PostgreSQL major of new environments; each environment's compose file names its own.
POSTGRES_MAJOR = 18
# The file of age public keys that backups are encrypted to (none: backups are not encrypted).
BACKUP_RECIPIENTS = "backup-recipients.txt"
# The line of settings.py that names the environment's public host (newenv writes it, checkenv reads it).
DOMAIN_LINE = re.compile(r'^DOMAIN = "([^"]+)"$', re.MULTILINE)
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


def env_dir(name: str) -> Path:
    """The folder of environment `name`."""
    return settings_dir() / name


def declared_domain(folder: Path) -> str | None:
    """The DOMAIN that the environment's settings.py declares, if it has the line."""
    match = DOMAIN_LINE.search((folder / "settings.py").read_text(encoding="utf-8"))
    return match.group(1) if match else None


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
