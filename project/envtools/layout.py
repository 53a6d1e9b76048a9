"""Where environments live and which names they may have."""

import keyword
import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

SAMPLE_ENV = "example"
SETTINGS_DIR_NAME = Path("project") / "settings"
# Lowercase because the name is also part of the compose project name.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Modules of the settings package itself, and names that would confuse tools.
RESERVED_NAMES = frozenset({"base", "env_vars", "secrets_file", "settings", "test", "tests"})


def settings_dir() -> Path:
    """project/settings of the checkout this code runs from."""
    return Path(settings.BASE_DIR) / SETTINGS_DIR_NAME


def env_dir(name: str) -> Path:
    """The folder of environment `name`."""
    return settings_dir() / name


def validate_new_name(name: str) -> None:
    """Refuse names that cannot be a Python package, a compose project, or are taken by the package."""
    if not NAME_PATTERN.match(name) or keyword.iskeyword(name):
        raise CommandError(
            f"'{name}' is not a valid environment name: use lowercase letters, digits and "
            "underscores, starting with a letter (it becomes a Python package and a compose project name)"
        )
    if name in RESERVED_NAMES:
        raise CommandError(
            f"'{name}' is reserved (it names a module of project/settings); choose another name")


def existing_env(name: str) -> Path:
    """The folder of an existing environment, or a CommandError naming what is missing."""
    folder = env_dir(name)
    if not (folder / "settings.py").is_file():
        raise CommandError(f"{folder}: no environment here (expected settings.py)")
    return folder
