"""Which secrets.json keys are secrets, how to make fresh ones, and which values are known to be public."""

import json
import re
import secrets
from pathlib import Path

from django.core.management.utils import get_random_secret_key

# Keys whose values must be private and random; other keys (DB_NAME, DB_HOST...) are plain config.
SECRET_KEY_PATTERN = re.compile(r"(KEY|PASSWORD|PASSWD|TOKEN|SECRET)", re.IGNORECASE)
# Values that ship with this template, the 2018 write-up it grew from, or common images' docs.
KNOWN_PUBLIC_VALUES = frozenset(
    {
        "postgres",
        "password",
        "changeme",
        "change-me",
        "secret",
        "admin",
        "my_password",
        "hts+7ik2^(b&ldan!$)beae7&6zs1lxr8!9tnd%@u6+gmd_4zf",
    }
)


def is_secret(key: str) -> bool:
    """True for keys that hold secrets rather than plain configuration."""
    return not key.startswith("_") and bool(SECRET_KEY_PATTERN.search(key))


def fresh_value(key: str) -> str:
    """A new random value for secret `key`."""
    if key == "SECRET_KEY":
        # Django's own generator: 50 characters that pass `check --deploy`.
        return get_random_secret_key()
    return secrets.token_urlsafe(32)


def sample_values(sample_secrets: Path) -> set[str]:
    """Every secret value of the sample environment (public by design)."""
    try:
        data = json.loads(sample_secrets.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {value for key, value in data.items() if is_secret(key) and isinstance(value, str)}


def looks_public(value: str, sample: set[str]) -> bool:
    """True if `value` is the sample's, a known default, or marked as a sample."""
    return (
        value in sample
        or value.lower() in KNOWN_PUBLIC_VALUES
        or value.startswith(("sample-", "django-insecure-"))
    )
