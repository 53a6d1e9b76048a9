"""Read typed values from the process environment, refusing anything ambiguous."""

import os

from django.core.exceptions import ImproperlyConfigured

# Only these spellings are accepted: anything else is a typo, and guessing
# (the classic `bool("0") is True`) is how DEBUG ends up on in production.
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_bool(name: str, raw: str) -> bool:
    """Turn one environment string into a bool, or raise naming the variable."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={raw!r} is not a boolean "
        f"(use one of: {', '.join(sorted(_TRUE | _FALSE - {''}))})"
    )


def env_bool(name: str, default: bool) -> bool:
    """The boolean in environment variable `name`, or `default` when it is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return parse_bool(name, raw)


def env_str(name: str, default: str) -> str:
    """The string in environment variable `name`, or `default` when unset or empty."""
    return os.environ.get(name) or default
