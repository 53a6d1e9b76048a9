"""Load an environment's secrets.json and hand out its keys with clear errors."""

import json
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Lets the same settings read a Docker/compose secret mounted under /run/secrets
# (or any other path) instead of the file beside settings.py.
SECRETS_FILE_VARIABLE = "DJANGO_SECRETS_FILE"


class Secrets:
    """The parsed contents of one secrets file; `secrets["KEY"]` names file and key on error."""

    def __init__(self, path: Path, values: dict):
        self.path = path
        self._values = values

    def __getitem__(self, key: str) -> str:
        try:
            value = self._values[key]
        except KeyError:
            raise ImproperlyConfigured(f"{self.path}: missing key {key!r}") from None
        if not isinstance(value, str) or not value:
            raise ImproperlyConfigured(f"{self.path}: key {key!r} must be a non-empty string")
        return value

    def get(self, key: str, default: str) -> str:
        """The value of `key`, or `default` when the file does not have it."""
        return self[key] if key in self._values else default


def secrets_path(default: Path) -> Path:
    """The file to read: $DJANGO_SECRETS_FILE when set, else the environment's own file."""
    override = os.environ.get(SECRETS_FILE_VARIABLE)
    return Path(override) if override else Path(default)


def load_secrets(default: Path) -> Secrets:
    """Read and parse the secrets file, raising ImproperlyConfigured with one line on failure."""
    path = secrets_path(default)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"{path}: secrets file not found (set {SECRETS_FILE_VARIABLE} to use another file)"
        ) from None
    except OSError as exc:
        raise ImproperlyConfigured(f"{path}: cannot read secrets file: {exc.strerror}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(values, dict):
        raise ImproperlyConfigured(f'{path}: must hold a JSON object of "KEY": "value" pairs')
    return Secrets(path, values)
